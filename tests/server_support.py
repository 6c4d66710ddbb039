"""Running the real `kura` command and server as subprocesses, as an operator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

KURA = [sys.executable, "-m", "kura"]


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    env.update(extra)
    return env


def kura(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KURA, *args],
        env=server_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spawn(args: list[str], data_dir: Path, log_path: Path, **env: str) -> subprocess.Popen[bytes]:
    """A `kura` subprocess whose output goes to a file: a pipe nobody reads fills up and
    blocks the process."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        return subprocess.Popen(
            [*KURA, *args],
            env=server_env(KURA_DATA_DIR=str(data_dir), **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def serving(data_dir: Path, *, strict: bool = True, **env: str) -> Iterator[str]:
    """`kura serve` on a free port; an env value "__BASE__" becomes the server's own URL.
    `strict`: the server must log no traceback (off for outage tests, where libraries do)."""
    port = free_port()
    env = {k: v.replace("__BASE__", f"http://127.0.0.1:{port}") for k, v in env.items()}
    log_path = data_dir.parent / f"serve-{port}.log"
    process = spawn(
        ["serve", "--host", "127.0.0.1", "--port", str(port)], data_dir, log_path, **env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        output = log_path.read_text()
        assert not strict or "Traceback" not in output, output[-5000:]
