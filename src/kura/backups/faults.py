"""Test-only pause points for the crash tests: with KURA_FAULT_PAUSE=<phase> (never honoured
when ENVIRONMENT=production) an operation stops at that phase and writes the phase name to
KURA_FAULT_MARKER, so a test can SIGKILL the process exactly there."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from kura.logging import get_logger

log = get_logger(__name__)


async def pause_point(phase: str) -> None:
    if os.environ.get("KURA_FAULT_PAUSE") != phase:
        return
    if os.environ.get("ENVIRONMENT", "").lower() == "production":
        return
    log.warning("fault.paused", phase=phase)
    marker = os.environ.get("KURA_FAULT_MARKER")
    if marker:
        await asyncio.to_thread(Path(marker).write_text, phase)
    await asyncio.sleep(3600)
