"""/api/v1/insights/daily-briefing: the morning briefing, and its audio for its owner only."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select

from kura.auth import throttle
from kura.auth.dependencies import CurrentAuth
from kura.auth.sessions import utcnow
from kura.briefings.models import DailyBriefing
from kura.briefings.service import get_or_create
from kura.db.session import DbSession
from kura.errors import NotFound
from kura.handlers import Responses
from kura.storage.factory import briefing_store

router = APIRouter(prefix="/insights", tags=["briefings"])
AUDIO_PATH = "/api/v1/insights/daily-briefing/audio"


class GenerationMethod(BaseModel):
    script: str
    audio: str | None


class BriefingRead(BaseModel):
    text_script: str
    audio_url: str | None
    generated_at: datetime
    cached: bool
    language: str
    day: date
    generation_method: GenerationMethod


# A new briefing costs a paid script and speech call: a few per hour per person.
REFRESH_LIMIT = throttle.Limit("briefing-refresh", 3, timedelta(hours=1), timedelta(hours=1))
LIMITED: Responses = {429: {"description": "More than 3 new briefings in an hour"}}


@router.get("/daily-briefing", response_model=BriefingRead, responses=LIMITED)
async def daily_briefing(
    request: Request,
    auth: CurrentAuth,
    session: DbSession,
    refresh: Annotated[
        bool,
        Query(description="Deprecated: use POST /daily-briefing/refresh", deprecated=True),
    ] = False,
) -> BriefingRead:
    """Today's briefing (practice's local day): text, and a private link to its audio."""
    return await _briefing(request, auth, session, refresh=refresh)


@router.post("/daily-briefing/refresh", response_model=BriefingRead, responses=LIMITED)
async def refresh_daily_briefing(
    request: Request, auth: CurrentAuth, session: DbSession
) -> BriefingRead:
    """Make a new briefing for today (3 per hour)."""
    return await _briefing(request, auth, session, refresh=True)


async def _briefing(
    request: Request, auth: CurrentAuth, session: DbSession, *, refresh: bool
) -> BriefingRead:
    settings = request.app.state.settings
    if refresh:
        await throttle.spend(session, REFRESH_LIMIT, str(auth.user.id), now=utcnow())
        await session.commit()  # the attempt counts even if generation fails
    briefing, cached = await get_or_create(
        session, settings, briefing_store(settings), auth, refresh=refresh
    )
    audio_ready = briefing.audio_status == "done" and briefing.audio_blob is not None
    return BriefingRead(
        text_script=briefing.text_script,
        audio_url=f"{AUDIO_PATH}?day={briefing.day.isoformat()}" if audio_ready else None,
        generated_at=briefing.generated_at,
        cached=cached,
        language=briefing.language,
        day=briefing.day,
        generation_method=GenerationMethod(
            script=briefing.script_method, audio=briefing.audio_method if audio_ready else None
        ),
    )


@router.get(
    "/daily-briefing/audio",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"audio/mpeg": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The MP3",
        },
        404: {"description": "No audio for that day"},
    },
)
async def daily_briefing_audio(
    request: Request, auth: CurrentAuth, session: DbSession, day: date
) -> StreamingResponse:
    """Your own briefing's MP3 (it may name patients at risk: never a public file)."""
    briefing = await session.scalar(
        select(DailyBriefing).where(
            DailyBriefing.user_id == auth.user.id,
            DailyBriefing.organization_id == auth.user.organization_id,
            DailyBriefing.day == day,
        )
    )
    if briefing is None or briefing.audio_status != "done" or briefing.audio_blob is None:
        raise NotFound("No briefing audio for that day.")
    store = briefing_store(request.app.state.settings)
    return StreamingResponse(
        store.stream(briefing.audio_blob),
        media_type="audio/mpeg",
        headers={"Cache-Control": "private, no-store"},
    )
