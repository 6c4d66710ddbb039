"""Headless Debian Chromium for the browser tests (driven by Playwright)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page
from playwright.sync_api import Response as PlaywrightResponse

REPO = Path(__file__).parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# Chromium as root in a container, with nothing reaching for the (closed) network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> Path:
    """Chromium's path; installed first when missing (`make test` does it), else a skip."""
    if not CHROMIUM.exists():
        subprocess.run(["sh", str(REPO / "scripts" / "install_test_deps.sh")], check=False)
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (Debian package chromium; needs root and apt-get)")
    return CHROMIUM


@contextmanager
def watched_page(browser: Browser, **context: Any) -> Iterator[Page]:
    """A page in a fresh context; on close, no CSP violation, script error or missing asset
    may have happened (pages may answer 4xx on purpose; their scripts and styles not)."""
    opened_context = browser.new_context(**context)
    opened = opened_context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    def on_response(response: PlaywrightResponse) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            problems.append(f"{response.status} {response.url}")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.on("response", on_response)
    yield opened
    opened_context.close()
    assert problems == [], problems
