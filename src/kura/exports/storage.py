"""Where export files live: private, flat, validated names (never derived from a record)."""

from __future__ import annotations

import re
import uuid

from kura.config import Settings
from kura.storage.blobs import BlobStore, GCSBlobStore, LocalBlobStore

_NAME = re.compile(r"export_[0-9a-f]{32}\.zip")


def export_store(settings: Settings) -> BlobStore:
    """Exports hold whole records: the backups' private bucket or a 0700 directory."""
    if settings.backup_bucket:
        return GCSBlobStore(settings.backup_bucket, prefix="exports/")
    return LocalBlobStore(settings.kura_data_dir / "exports")


def blob_name(export_id: uuid.UUID) -> str:
    return f"export_{export_id.hex}.zip"


def valid_blob_name(name: str | None) -> str:
    """The stored name, refused unless it is exactly one of ours (no path, no dot-file)."""
    if name is None or not _NAME.fullmatch(name):
        raise ValueError("not an export file name")
    return name
