"""Phone numbers as the API accepts them: any common form, stored as E.164 (default Spain)."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from pydantic import AfterValidator, Field

DEFAULT_REGION = "ES"


def normalize_phone(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValueError(
            "not a phone number (use international format, e.g. +34 600 000 000)"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(
            "not a valid phone number (use international format, e.g. +34 600 000 000)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


Phone = Annotated[str, Field(max_length=32), AfterValidator(normalize_phone)]
