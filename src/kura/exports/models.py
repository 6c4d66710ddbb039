"""The data_export table: one requested export, its state and its private file."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum


class ExportKind(StrEnum):
    PATIENT = "patient"
    PRACTICE = "practice"


class ExportStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    READY = "READY"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class DataExport(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "data_export"
    __table_args__ = (
        Index("ix_data_export_requester", "requested_by_id", "created_at"),
        # The cleanup job looks only at files still stored.
        Index("ix_data_export_expiry", "expires_at", postgresql_where="status = 'READY'"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    # Only the requester downloads; their account going makes the file unreachable.
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    kind: Mapped[ExportKind] = mapped_column(str_enum(ExportKind, "export_kind"))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient.id", ondelete="SET NULL")
    )
    status: Mapped[ExportStatus] = mapped_column(
        str_enum(ExportStatus, "export_status"), default=ExportStatus.QUEUED
    )
    progress: Mapped[int] = mapped_column(default=0)  # percent
    blob_name: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(300))  # safe to show; never record text
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
