"""The blob store the settings ask for."""

from __future__ import annotations

from kura.config import Settings
from kura.storage.blobs import BlobStore, GCSBlobStore, LocalBlobStore


def backup_store(settings: Settings) -> BlobStore:
    if settings.backup_bucket:
        return GCSBlobStore(settings.backup_bucket, prefix="backups/")
    return LocalBlobStore(settings.backup_dir or settings.kura_data_dir / "backups")


def briefing_store(settings: Settings) -> BlobStore:
    """Briefing audio names patients at risk: private storage, served only through the API."""
    if settings.backup_bucket:
        return GCSBlobStore(settings.backup_bucket, prefix="briefings/")
    return LocalBlobStore(settings.kura_data_dir / "briefings")
