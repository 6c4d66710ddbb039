"""How far a backup or restore has got, for whoever watches (the CLI's progress bars).

A no-op unless a watcher is set: `with watching(w):` around the work, `with step(name, total):`
around each phase, `advance(nbytes)` from the loops that move bytes. Context variables carry
both, so concurrent phases (a restore's pre-restore backup beside its load) stay apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Watcher(Protocol):
    def started(self, step: str, total: int | None) -> None: ...
    def advanced(self, step: str, nbytes: int) -> None: ...
    def finished(self, step: str) -> None: ...


_watcher: ContextVar[Watcher | None] = ContextVar("backup_progress_watcher", default=None)
_step: ContextVar[str | None] = ContextVar("backup_progress_step", default=None)


@contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    token = _watcher.set(watcher)
    try:
        yield
    finally:
        _watcher.reset(token)


@contextmanager
def step(name: str, total: int | None = None) -> Iterator[None]:
    watcher = _watcher.get()
    if watcher is None:
        yield
        return
    token = _step.set(name)
    watcher.started(name, total)
    try:
        yield
    finally:
        watcher.finished(name)
        _step.reset(token)


def advance(nbytes: int) -> None:
    watcher, name = _watcher.get(), _step.get()
    if watcher is not None and name is not None:
        watcher.advanced(name, nbytes)
