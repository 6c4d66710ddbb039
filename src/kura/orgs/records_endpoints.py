"""/api/v1/practice/records: how long the practice keeps records and its own note headings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kura.audit.service import AuditAction, record
from kura.auth.dependencies import CurrentAuth, Owner
from kura.db.session import DbSession
from kura.inputs import Input
from kura.orgs.models import Organization
from kura.request_info import client_ip

router = APIRouter(prefix="/practice", tags=["practice"])
Heading = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class RecordSettings(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    record_retention_years: int = Field(
        description="Years a deleted patient's record is kept after discharge before erasure"
    )
    note_sections: list[str] | None = Field(description="Headings of the PRACTICE note template")


class RecordSettingsUpdate(Input):
    record_retention_years: int | None = Field(
        None, ge=5, le=50, description="At least 5 (Ley 41/2002, art. 17)"
    )
    note_sections: list[Heading] | None = Field(None, min_length=1, max_length=20)


@router.get("/records", response_model=RecordSettings)
async def get_record_settings(auth: CurrentAuth, session: DbSession) -> Organization:
    """The practice's retention period and note headings."""
    return await session.get_one(Organization, auth.user.organization_id)


@router.patch(
    "/records",
    response_model=RecordSettings,
    responses={403: {"description": "Not the practice owner"}},
)
async def update_record_settings(
    body: RecordSettingsUpdate, auth: Owner, request: Request, session: DbSession
) -> Organization:
    """Change the retention period (new deletions only) or the practice's note headings."""
    organization = await session.get_one(Organization, auth.user.organization_id)
    changes = body.model_dump(exclude_none=True)
    if "note_sections" in changes:
        changes["note_sections"] = list(dict.fromkeys(changes["note_sections"]))  # no repeats
    for field, value in changes.items():
        setattr(organization, field, value)
    await session.flush()
    await record(
        session,
        AuditAction.PRACTICE_SETTINGS_UPDATED,
        organization_id=organization.id,
        actor_id=auth.user.id,
        target_type="organization",
        target_id=organization.id,
        ip=client_ip(request),
        details={"fields": sorted(changes)},
    )
    return organization
