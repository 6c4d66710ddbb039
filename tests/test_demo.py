"""`kura demo`: a sample practice seeded through the API, once, never in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL

from kura.config import Settings
from kura.db.engine import Database
from kura.errors import ConfigError
from kura.monitoring.models import RiskAlert
from kura.ops.demo import OWNER, PASSWORD, seed_demo
from kura.patients.models import Patient
from tests.backup_support import create_from_template, drop
from tests.server_support import kura


async def test_the_demo_practice_is_seeded_once_through_the_api(
    db_url: URL, template_db: str, settings: Settings, tmp_path: Path
) -> None:
    url = create_from_template(db_url, "kura_demo", template_db)
    database = Database.connect(url)
    demo_settings = settings.model_copy(update={"kura_data_dir": tmp_path})
    try:
        first = await seed_demo(demo_settings, database)
        assert first.created
        assert first.counts == {
            "patients": 6,
            "notes": 3,
            "bookings": 5,
            "whatsapp messages": 2,
            "risk alerts": 1,
            "morning briefings with audio": 1,
        }
        assert ("OWNER", OWNER[0], PASSWORD) in first.logins
        again = await seed_demo(demo_settings, database)
        assert not again.created and again.counts == {}
        async with database.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Patient)) == 6
            [alert] = (await session.scalars(select(RiskAlert))).all()
            assert alert.acknowledged_at is None  # flagged for a human, never cleared
            audited = await session.scalar(text("SELECT count(*) FROM audit_event"))
            assert audited  # it went through the API, audited like any staff action
    finally:
        await database.dispose()
        drop(url)


async def test_the_demo_never_runs_in_production(settings: Settings, database: Database) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(ConfigError, match="never runs in production"):
        await seed_demo(production, database)


def test_the_demo_command_refuses_production(tmp_path: Path) -> None:
    result = kura("demo", ENVIRONMENT="production", KURA_DATA_DIR=str(tmp_path))
    assert result.returncode == 2 and result.stderr.startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
