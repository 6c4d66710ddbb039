"""Backup API bodies (field names as in the original system where it had them)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field, StrictBool

from kura.backups.manifest import Manifest
from kura.inputs import Input
from kura.pagination import Page


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


class BackupRead(BaseModel):
    filename: str
    size_bytes: int
    size_human: str
    created_at: datetime
    age_hours: float
    sha256: str
    app_version: str
    schema_revision: str | None
    kind: str

    @classmethod
    def of(cls, manifest: Manifest) -> BackupRead:
        age = (datetime.now(UTC) - manifest.created_at).total_seconds() / 3600
        return cls(
            filename=manifest.filename,
            size_bytes=manifest.size_bytes,
            size_human=human_size(manifest.size_bytes),
            created_at=manifest.created_at,
            age_hours=round(age, 2),
            sha256=manifest.sha256,
            app_version=manifest.app_version,
            schema_revision=manifest.schema_revision,
            kind=manifest.kind,
        )


class UnverifiableRead(BaseModel):
    filename: str
    key_id: str | None = Field(description="The key id its manifest names (never a key).")
    reason: str


class BackupPage(Page[BackupRead]):
    """A page of the verified backups, newest first, plus two fields beyond the list shape."""

    storage_location: str
    unverifiable: list[UnverifiableRead] = Field(
        default_factory=list,
        description="Backups not listed (nor counted in `total`): their manifest is unreadable "
        "or signed with a key not configured (BACKUP_SIGNING_KEYS_PREVIOUS). Always all of "
        "them, whatever the page.",
    )


class BackupCreated(BaseModel):
    success: bool
    filename: str
    size_human: str
    sha256: str
    message: str


class RestoreRequest(Input):
    filename: str = Field(min_length=1, max_length=255)
    confirm: StrictBool = Field(
        default=False, description='Must be the JSON value true (not "true" or 1).'
    )


class RestoreDone(BaseModel):
    success: bool
    filename: str
    pre_restore_backup: str
    message: str


class Deleted(BaseModel):
    success: bool
    filename: str
