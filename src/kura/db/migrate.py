"""Alembic, driven from code: `kura migrate`, dev-mode serve and the tests use these."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import URL
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
