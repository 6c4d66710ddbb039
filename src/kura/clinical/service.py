"""Clinical notes: drafts, signing, addenda, strike-through, versions and soft deletion.

A signed note never changes: it gains addenda or is struck through with a reason. A draft can
be edited; once it is a day old, each edit keeps the text it replaces as a version row. A
draft's delete is soft for RESTORE_WINDOW, then the purge job removes it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kura.aletheia.screen import Risk, screen_text
from kura.auth.sessions import Authenticated, utcnow
from kura.bookings.models import Booking
from kura.clinical.models import (
    ClinicalNote,
    NoteAddendum,
    NoteStatus,
    NoteTemplate,
    NoteType,
    NoteVersion,
)
from kura.clinical.schemas import NoteCreate, NoteUpdate
from kura.errors import BadRequest, Conflict, Forbidden, Gone
from kura.monitoring.models import RiskAlert
from kura.monitoring.service import raise_screen_alert
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.users.models import Role

log = structlog.get_logger(__name__)
RESTORE_WINDOW = timedelta(days=30)
VERSIONS_AFTER = timedelta(hours=24)
SOAP_HEADINGS = ("subjective", "objective", "assessment", "plan")
SCREEN_LIMIT = 5000  # characters of a note the screen reads (as for messages)


async def _headings(
    session: AsyncSession, auth: Authenticated, template: NoteTemplate
) -> list[str]:
    if template == NoteTemplate.SOAP:
        return list(SOAP_HEADINGS)
    organization = await session.get_one(Organization, auth.user.organization_id)
    if not organization.note_sections:
        raise BadRequest("Your practice has no note headings of its own; use FREE or SOAP.")
    return list(organization.note_sections)


async def _compose(
    session: AsyncSession,
    auth: Authenticated,
    template: NoteTemplate,
    content: str | None,
    sections: dict[str, str] | None,
) -> tuple[str, list[dict[str, str]] | None]:
    """The note's text and its ordered sections, checked against the template."""
    if template == NoteTemplate.FREE:
        if sections is not None:
            raise BadRequest("A FREE note has `content`, not `sections`.")
        if not content:
            raise BadRequest("`content` is required for a FREE note.")
        return content, None
    if sections is None:
        raise BadRequest(f"A {template.value} note needs `sections`.")
    headings = await _headings(session, auth, template)
    unknown = sorted(set(sections) - set(headings))
    if unknown:
        raise BadRequest(f"Unknown sections {unknown}; this template has {headings}.")
    ordered = [{"heading": h, "text": sections.get(h, "")} for h in headings]
    filled = [s for s in ordered if s["text"]]
    if not filled:
        raise BadRequest("At least one section must have text.")
    text = "\n\n".join(f"{s['heading'].capitalize()}:\n{s['text']}" for s in filled)
    if len(text) > 50_000:
        raise BadRequest("The note is longer than 50 000 characters.")
    return text, ordered


async def _check_booking(
    session: AsyncSession, auth: Authenticated, patient_id: uuid.UUID, booking_id: uuid.UUID | None
) -> None:
    if booking_id is None:
        return
    booking = await session.scalar(
        select(Booking.id).where(
            Booking.id == booking_id,
            Booking.organization_id == auth.user.organization_id,
            Booking.patient_id == patient_id,
        )
    )
    if booking is None:
        raise BadRequest("booking_id must be one of this patient's bookings.")


async def create_note(
    session: AsyncSession, auth: Authenticated, patient: Patient, data: NoteCreate
) -> ClinicalNote:
    content, sections = await _compose(session, auth, data.template, data.content, data.sections)
    await _check_booking(session, auth, patient.id, data.booking_id)
    note = ClinicalNote(
        organization_id=auth.user.organization_id,
        patient_id=patient.id,
        created_by_id=auth.user.id,
        type=data.type,
        template=data.template,
        content=content,
        sections=sections,
        booking_id=data.booking_id,
        is_private=data.is_private,
    )
    session.add(note)
    await session.flush()
    await screen_note(session, note)
    await session.refresh(note)
    return note


def _require_draft(note: ClinicalNote, doing: str) -> None:
    if note.status == NoteStatus.SIGNED:
        raise Conflict(f"This note is signed and cannot be {doing}; add an addendum instead.")


def _require_author_or_owner(auth: Authenticated, note: ClinicalNote, doing: str) -> None:
    if note.created_by_id != auth.user.id and auth.user.role != Role.OWNER:
        raise Forbidden(f"Only the note's author or the practice owner can {doing} it.")


async def update_note(
    session: AsyncSession, auth: Authenticated, note: ClinicalNote, data: NoteUpdate
) -> ClinicalNote:
    _require_draft(note, "changed")
    changes = data.model_dump(exclude_unset=True)
    if "is_private" in changes:
        _require_author_or_owner(auth, note, "change who can see")
    text_changed = "content" in changes or "sections" in changes
    if text_changed:
        content, sections = await _compose(
            session,
            auth,
            note.template,
            changes.get("content", note.content if note.template == NoteTemplate.FREE else None),
            changes.get("sections", _as_mapping(note.sections)),
        )
    if "booking_id" in changes:
        await _check_booking(session, auth, note.patient_id, changes["booking_id"])
    now = utcnow()
    if text_changed and now - note.created_at > VERSIONS_AFTER:
        session.add(
            NoteVersion(
                note_id=note.id,
                organization_id=note.organization_id,
                version=note.version,
                type=note.type,
                content=note.content,
                sections=note.sections,
                written_at=note.updated_at,
                replaced_at=now,
                replaced_by_id=auth.user.id,
            )
        )
        note.version += 1
    if text_changed:
        note.content, note.sections = content, sections
    for field in ("type", "booking_id", "is_private"):
        if field in changes and (changes[field] is not None or field == "booking_id"):
            setattr(note, field, changes[field])
    await session.flush()
    if text_changed or "type" in changes:
        await screen_note(session, note)
    await session.refresh(note)
    return note


def _as_mapping(sections: list[dict[str, Any]] | None) -> dict[str, str] | None:
    return None if sections is None else {s["heading"]: s["text"] for s in sections}


async def sign_note(session: AsyncSession, auth: Authenticated, note: ClinicalNote) -> ClinicalNote:
    """Lock a draft. Its author signs (the owner, when the author's account is gone)."""
    if note.status == NoteStatus.SIGNED:
        raise Conflict("This note is already signed.")
    if note.created_by_id not in (auth.user.id, None):
        raise Forbidden("Only the note's author can sign it.")
    if note.created_by_id is None and auth.user.role != Role.OWNER:
        raise Forbidden("The author's account is gone: only the practice owner can sign it.")
    note.status = NoteStatus.SIGNED
    note.signed_at = utcnow()
    note.signed_by_id = auth.user.id
    await session.flush()
    await session.refresh(note)
    return note


async def add_addendum(
    session: AsyncSession, auth: Authenticated, note: ClinicalNote, content: str
) -> ClinicalNote:
    if note.status != NoteStatus.SIGNED:
        raise Conflict("Only a signed note takes addenda; edit the draft instead.")
    if note.struck_at is not None:
        raise Conflict("This note is struck through; write a new note instead.")
    session.add(
        NoteAddendum(
            note_id=note.id,
            organization_id=note.organization_id,
            content=content,
            created_by_id=auth.user.id,
            created_at=utcnow(),
            signed_by_name=auth.user.full_name,
        )
    )
    await session.flush()
    await screen_note(session, note, text=content)
    await session.refresh(note, attribute_names=["addenda", "updated_at"])
    return note


async def strike_note(
    session: AsyncSession, auth: Authenticated, note: ClinicalNote, reason: str
) -> ClinicalNote:
    """Mark a signed note as entered in error; its text stays, readable, in the record."""
    if note.status != NoteStatus.SIGNED:
        raise Conflict("A draft is deleted, not struck through.")
    if note.struck_at is not None:
        raise Conflict("This note is already struck through.")
    _require_author_or_owner(auth, note, "strike through")
    note.struck_at, note.struck_by_id, note.strike_reason = utcnow(), auth.user.id, reason
    await session.flush()
    await session.refresh(note)
    return note


async def delete_draft(session: AsyncSession, auth: Authenticated, note: ClinicalNote) -> None:
    if note.status == NoteStatus.SIGNED:
        raise Conflict("A signed note cannot be deleted; strike it through with a reason.")
    _require_author_or_owner(auth, note, "delete")
    note.deleted_at, note.deleted_by_id = utcnow(), auth.user.id
    await session.flush()


async def restore_draft(
    session: AsyncSession, auth: Authenticated, note: ClinicalNote
) -> ClinicalNote:
    if note.deleted_at is None:
        raise Conflict("This note is not deleted.")
    if utcnow() - note.deleted_at > RESTORE_WINDOW:
        raise Gone("This note was deleted more than 30 days ago and can no longer be restored.")
    _require_author_or_owner(auth, note, "restore")
    note.deleted_at = note.deleted_by_id = None
    await session.flush()
    await session.refresh(note)
    return note


async def screen_note(
    session: AsyncSession, note: ClinicalNote, *, text: str | None = None
) -> uuid.UUID | None:
    """Session notes (and their addenda) go through AletheIA like messages do: a risk in
    them raises an alert for the team. A higher risk raises a new alert; nothing is cleared."""
    if note.type != NoteType.SESSION_NOTE:
        return None
    result = await asyncio.to_thread(screen_text, (text or note.content)[:SCREEN_LIMIT])
    if not result.needs_alert:
        return None
    open_risks = await session.scalars(
        select(RiskAlert.risk).where(
            RiskAlert.note_id == note.id, RiskAlert.acknowledged_at.is_(None)
        )
    )
    if any(Risk[risk] >= result.risk for risk in open_risks):
        return None  # this note's risk is already in front of a human
    return await raise_screen_alert(
        session,
        organization_id=note.organization_id,
        patient_id=note.patient_id,
        note_id=note.id,
        screen=result,
    )


def versions_of(note: ClinicalNote) -> Select[NoteVersion]:
    return select(NoteVersion).where(NoteVersion.note_id == note.id).order_by(NoteVersion.version)
