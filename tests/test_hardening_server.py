"""Attacks on the real server process (`kura serve`): spoofed client IPs and slow headers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.server_support import serving


@pytest.mark.timeout(180)
def test_forwarded_for_cannot_spoof_the_ip_and_slow_headers_are_cut(tmp_path: Path) -> None:
    with serving(tmp_path / "kura", REQUEST_HEADER_TIMEOUT_SECONDS="1") as base:
        # 21 failed logins from this machine, each claiming another X-Forwarded-For: the
        # per-IP limit (20 per 15 min) still applies, so the header was not believed.
        codes = []
        for n in range(21):
            response = httpx.post(
                f"{base}/api/v1/auth/login",
                json={"email": f"user{n}@example.org", "password": "wrong-password-1"},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
                timeout=30,
            )
            codes.append(response.status_code)
        assert codes[:20] == [401] * 20 and codes[20] == 429
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finish
            started = time.monotonic()
            assert slow.recv(1024) == b""  # the server closed the connection
            assert time.monotonic() - started < 8
