"""Clinical note bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from kura.clinical.models import NoteType
from kura.inputs import Input
from kura.pagination import Page

Content = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50_000)]


class NoteCreate(Input):
    type: NoteType = NoteType.NOTE
    content: Content


class NoteUpdate(Input):
    type: NoteType | None = None
    content: Content | None = None


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    type: NoteType
    content: str
    created_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class NotePage(Page[NoteRead]):
    """Clinical notes, a page at a time."""
