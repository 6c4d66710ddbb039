"""Alembic, driven from code: `kura migrate`, dev-mode serve and the tests use these."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any fixed 64-bit number: serialises concurrent migration runs (two jobs, job + dev server).
MIGRATION_LOCK_KEY = 0x4B555241_4D494752  # "KURAMIGR"


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate filter: procrastinate's tables come from its own SQL, not our models."""
    return not (type_ == "table" and name is not None and name.startswith("procrastinate_"))


def alembic_config(url: URL | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.attributes["url"] = url
    return config


def upgrade_heads(url: URL) -> None:
    """The migration job's command: `alembic upgrade heads`."""
    command.upgrade(alembic_config(url), "heads")


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(url: URL) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def _missing_migrations(conn: Connection) -> tuple[set[str], set[str]] | None:
    current = set(MigrationContext.configure(conn).get_current_heads())
    script = ScriptDirectory.from_config(alembic_config())
    heads = set(script.get_heads())
    if current == heads:
        return None
    try:
        for revision in current:
            if script.get_revision(revision) is None:
                return None
    except CommandError:
        # The database is ahead of this code (an older revision after the new one's job ran):
        # expand/contract migrations keep old code working on the newer schema.
        return None
    return current, heads


async def missing_migrations(engine: AsyncEngine) -> tuple[set[str], set[str]] | None:
    """(database revisions, code heads) when this code needs migrations the database lacks."""
    async with engine.connect() as conn:
        return await conn.run_sync(_missing_migrations)
