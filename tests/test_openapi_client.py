"""A Python client generated from the OpenAPI document builds without a warning (#18).

openapi-python-client warns about (and leaves out) whatever it cannot type: an unsupported
media type, an unparsable response, a name it cannot make an identifier. Here it must run
clean, and the methods must have the names the operation ids promise.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from kura.app import create_app
from kura.config import Settings

PACKAGE = "kura_api_client"
# Non-JSON media types the generator should treat as bytes or text (it knows only
# application/octet-stream and text/*): the briefing's MP3, a backup file, an invoice PDF,
# an export ZIP, TwiML.
CONFIG = {
    "package_name_override": PACKAGE,
    "content_type_overrides": {
        "audio/mpeg": "application/octet-stream",
        "application/gzip": "application/octet-stream",
        "application/pdf": "application/octet-stream",
        "application/zip": "application/octet-stream",
        "application/xml": "text/plain",
    },
}

# In a venv of its own (`make pytest` installs it from requirements/openapi-client.lock): every
# release of the generator caps typer below the app's pin.
GENERATOR = Path(__file__).resolve().parent.parent / ".venv-tools/openapi-client/bin"


@pytest.fixture(scope="module")
def generator() -> Path:
    program = GENERATOR / "openapi-python-client"
    if not program.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{program} is missing: `make pytest` installs it")
        pytest.skip(f"{program} is not installed: `make pytest` installs it")
    return program


@pytest.fixture
def generated(settings: Settings, tmp_path: Path, generator: Path) -> Iterator[Path]:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(create_app(settings).openapi()))
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    output = tmp_path / PACKAGE
    bin_dir = str(Path(sys.executable).parent)  # its ruff post-hook: the venv's ruff
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(output),
            "--meta",
            "none",  # just the package: no pyproject, no network
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "warning" not in log.lower(), log
    assert "ruff is not in PATH" not in log, log
    sys.path.insert(0, str(tmp_path))
    try:
        yield output
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_the_generated_client_builds_and_names_methods_after_operation_ids(
    generated: Path,
) -> None:
    package = importlib.import_module(PACKAGE)
    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{PACKAGE}.")
    ]
    api = sorted(
        m.__name__.removeprefix(f"{PACKAGE}.api.") for m in modules if ".api." in m.__name__
    )
    assert "auth.auth_login" in api
    assert "monitoring.monitoring_acknowledge_risk_alert" in api
    assert len([name for name in api if "." in name]) >= 60  # one module per operation

    login = importlib.import_module(f"{PACKAGE}.api.auth.auth_login")
    assert {"sync", "sync_detailed", "asyncio", "asyncio_detailed"} <= set(vars(login))
    # Errors are typed with the one error shape; binary answers are bytes (File), not JSON.
    returns = str(typing.get_type_hints(login.sync)["return"])
    assert "ErrorResponse" in returns and "AuthResponse" in returns
    audio = importlib.import_module(f"{PACKAGE}.api.briefings.briefings_daily_briefing_audio")
    assert "File" in str(typing.get_type_hints(audio.sync)["return"])
