"""Periodic jobs whose timing comes from settings: each domain adds a hook (kura.registry),
and every worker runs them all before it starts."""

from __future__ import annotations

from collections.abc import Callable

import procrastinate

from kura.config import Settings

Schedule = Callable[[procrastinate.App, Settings], None]
_SCHEDULES: list[Schedule] = []


def add_schedule(schedule: Schedule) -> None:
    if schedule not in _SCHEDULES:
        _SCHEDULES.append(schedule)


def register_schedules(app: procrastinate.App, settings: Settings) -> None:
    """Idempotent: the in-process and standalone workers may both call it."""
    for schedule in _SCHEDULES:
        schedule(app, settings)
