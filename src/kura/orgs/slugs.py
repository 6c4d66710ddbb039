"""A practice's public address on the booking pages: `/api/v1/public/booking/{slug}/…`."""

from __future__ import annotations

import re
import secrets
import unicodedata

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MIN_LENGTH, MAX_LENGTH = 3, 63
# Path segments the public routes use themselves (…/booking/manage/{token}) or that would
# mislead a patient reading the address.
RESERVED = frozenset({"manage", "admin", "api", "public", "booking", "kura", "www", "static"})


def slug_problem(value: str) -> str | None:
    """Why `value` cannot be a practice's slug, or None when it can."""
    if not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        return f"must be {MIN_LENGTH} to {MAX_LENGTH} characters long"
    if not SLUG_PATTERN.match(value):
        return "may contain only lowercase letters, digits and single hyphens between them"
    if value in RESERVED:
        return "is reserved; choose another"
    return None


def slugify(name: str) -> str:
    """`Clínica Núñez & Asociados` -> `clinica-nunez-asociados` (always a valid slug)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:50].strip("-")
    if len(slug) < MIN_LENGTH or slug in RESERVED:
        slug = f"{slug or 'practice'}-{secrets.token_hex(2)}"
    return slug


def with_suffix(slug: str) -> str:
    """A variant of a slug that is already taken."""
    return f"{slug[:50].strip('-')}-{secrets.token_hex(3)}"
