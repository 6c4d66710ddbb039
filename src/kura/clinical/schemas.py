"""Clinical note bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kura.clinical.models import NoteStatus, NoteTemplate, NoteType
from kura.inputs import Input
from kura.pagination import Page

Content = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50_000)]
Heading = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
SectionText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]
Sections = Annotated[
    dict[Heading, SectionText],
    Field(
        max_length=20,
        description="Heading → text. SOAP: subjective, objective, assessment, plan; "
        "PRACTICE: the practice's own headings.",
    ),
]


class NoteCreate(Input):
    type: NoteType = NoteType.NOTE
    template: NoteTemplate = NoteTemplate.FREE
    content: Content | None = Field(None, description="The text (FREE template)")
    sections: Sections | None = None
    booking_id: uuid.UUID | None = None
    is_private: bool = Field(False, description="Visible only to its author and the practice owner")


class NoteUpdate(Input):
    """A draft's new text; a signed note cannot change (add an addendum instead)."""

    type: NoteType | None = None
    content: Content | None = None
    sections: Sections | None = None
    booking_id: uuid.UUID | None = None
    is_private: bool | None = None


class AddendumCreate(Input):
    content: Content


class StrikeRequest(Input):
    reason: Reason


class AddendumRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    content: str
    created_by_id: uuid.UUID | None
    signed_by_name: str
    created_at: datetime


class NoteSection(BaseModel):
    heading: str
    text: str


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    type: NoteType
    template: NoteTemplate
    content: str
    sections: list[NoteSection] | None
    status: NoteStatus
    version: int
    is_private: bool
    booking_id: uuid.UUID | None
    created_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    signed_at: datetime | None
    signed_by_id: uuid.UUID | None
    struck_at: datetime | None
    struck_by_id: uuid.UUID | None
    strike_reason: str | None
    deleted_at: datetime | None
    addenda: list[AddendumRead]


class NoteVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    type: NoteType
    content: str
    sections: list[NoteSection] | None
    written_at: datetime
    replaced_at: datetime
    replaced_by_id: uuid.UUID | None


class NoteVersionPage(Page[NoteVersionRead]):
    """A draft's earlier texts, a page at a time."""


class NotePage(Page[NoteRead]):
    """Clinical notes, a page at a time."""
