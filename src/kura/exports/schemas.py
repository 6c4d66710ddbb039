"""What the exports API answers."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from kura.exports.models import ExportKind, ExportStatus
from kura.pagination import Page


class ExportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: ExportKind
    status: ExportStatus
    progress: int
    patient_id: uuid.UUID | None
    size_bytes: int | None
    error: str | None
    created_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None


class ExportPage(Page[ExportRead]):
    pass
