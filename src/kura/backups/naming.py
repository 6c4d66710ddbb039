"""Backup file names: `backup_YYYY-MM-DD_HH-MM.sql.gz` (UTC), `_2`, `_3`… within one minute."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

BACKUP_NAME = re.compile(r"^backup_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}(?:_(?:[2-9]|[1-9]\d))?\.sql\.gz$")
MANIFEST_SUFFIX = ".manifest.json"


def is_backup_name(name: str) -> bool:
    return BACKUP_NAME.fullmatch(name) is not None


def manifest_name(backup: str) -> str:
    return backup + MANIFEST_SUFFIX


def new_backup_name(now: datetime, taken: Iterable[str]) -> str:
    """A name no existing blob has: a backup is never overwritten."""
    base = f"backup_{now:%Y-%m-%d_%H-%M}"
    used = set(taken)
    candidate = f"{base}.sql.gz"
    suffix = 2
    while candidate in used or manifest_name(candidate) in used:
        candidate = f"{base}_{suffix}.sql.gz"
        suffix += 1
    return candidate
