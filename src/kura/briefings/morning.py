"""The morning pre-generation: briefings are ready when therapists open the app."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from kura.auth.sessions import Authenticated
from kura.briefings.content import local_today, practice_zone
from kura.briefings.models import DailyBriefing
from kura.briefings.service import generate
from kura.config import Settings
from kura.db.engine import Database
from kura.logging import get_logger
from kura.orgs.models import Organization
from kura.storage.factory import briefing_store
from kura.users.models import User

log = get_logger(__name__)


async def prepare_morning_briefings(
    database: Database, settings: Settings, moment: datetime
) -> dict[str, int]:
    """Returns counts: practices due, briefings made, practices that failed."""
    store = briefing_store(settings)
    async with database.sessionmaker() as session:
        organizations = list(await session.scalars(select(Organization)))
    due = [
        o
        for o in organizations
        if moment.astimezone(practice_zone(o.timezone)).hour == settings.briefing_hour
    ]
    made = failed = 0
    for organization in due:
        try:
            async with database.sessionmaker() as session, session.begin():
                org = await session.get_one(Organization, organization.id)
                day = local_today(org.timezone, moment)
                users = list(
                    await session.scalars(
                        select(User).where(User.organization_id == org.id, User.is_active.is_(True))
                    )
                )
                for user in users:
                    exists = await session.scalar(
                        select(DailyBriefing.id).where(
                            DailyBriefing.user_id == user.id, DailyBriefing.day == day
                        )
                    )
                    if exists is None:
                        auth = Authenticated(user, org, session_id=user.id)
                        await generate(session, settings, store, auth, day)
                        made += 1
        except Exception:
            failed += 1
            log.exception("briefing.morning_failed", organization_id=str(organization.id))
    log.info("briefing.morning_done", due=len(due), made=made, failed=failed)
    return {"due": len(due), "made": made, "failed": failed}
