"""Password hashing runs off the event loop, in threads at the lowest CPU priority."""

from __future__ import annotations

import os
import threading

from kura.auth.passwords import HASHING_NICENESS, _off_loop, hash_password, verify_password


def _own_niceness() -> tuple[int, str]:
    return os.getpriority(
        os.PRIO_PROCESS, threading.get_native_id()
    ), threading.current_thread().name


async def test_hashing_threads_yield_the_cpu_to_the_loop() -> None:
    stored = await hash_password("correct-horse-battery-9")
    assert (await verify_password("correct-horse-battery-9", stored))[0]
    niceness, name = await _off_loop(_own_niceness)
    assert name.startswith("kura-hashing")
    assert niceness == HASHING_NICENESS
