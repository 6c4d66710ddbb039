"""Health and readiness answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    status: Literal["healthy"]
    version: str


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]
