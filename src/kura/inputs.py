"""One rule for text that clients send: no control characters, and names stay on one line.

PostgreSQL cannot store U+0000 in text (the insert fails as a 500), and CR/LF in a name ends up
in email headers and subjects. Every request body derives from `Input`, so the rule holds for
every field without each schema remembering it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator

# C0 controls except tab, newline and carriage return; DEL; the C1 block.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\r\n\t\u2028\u2029\x85]")
CONTROL_MESSAGE = "must not contain control characters"


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def strip_control_characters(value: str) -> str:
    """For text that must be kept even when malformed (a patient's message): drop the controls."""
    return _CONTROL.sub("", value)


def _check(value: Any) -> None:
    if isinstance(value, str):
        if has_control_characters(value):
            raise ValueError(CONTROL_MESSAGE)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key)
            _check(item)


class Input(BaseModel):
    """Base of every request body: unknown fields refused, no control characters anywhere."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _no_control_characters(self) -> Input:
        for name in type(self).model_fields:
            try:
                _check(getattr(self, name))
            except ValueError:
                raise ValueError(f"{name} {CONTROL_MESSAGE}") from None
        return self


def single_line(value: str) -> str:
    if _LINE_BREAK.search(value):
        raise ValueError("must be a single line")
    return value


# A name shown in emails, subjects and lists: one line, trimmed, bounded.
Line = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(single_line)]
