"""Migrations: one head, empty -> head, down/up round trip, models match the schema."""

from __future__ import annotations

from importlib.metadata import version
from importlib.util import module_from_spec, spec_from_file_location

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from kura.db.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revisions,
    head_revisions,
    include_object,
    upgrade_heads,
)
from kura.registry import Base


def _tables(url: URL) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_exactly_one_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_file_names_are_date_slugs() -> None:
    names = [p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py")]
    assert names
    assert all(n[:4].isdigit() and n[4] == "-" and n[10] == "_" for n in names), names


def test_upgrade_from_empty_reaches_head(empty_db: URL) -> None:
    upgrade_heads(empty_db)
    assert current_revisions(empty_db) == head_revisions()
    assert "procrastinate_jobs" in _tables(empty_db)
    upgrade_heads(empty_db)  # a second run is a no-op
    assert current_revisions(empty_db) == head_revisions()


def test_downgrade_to_base_and_up_again(empty_db: URL) -> None:
    upgrade_heads(empty_db)
    command.downgrade(alembic_config(empty_db), "base")
    assert _tables(empty_db) == set()
    assert current_revisions(empty_db) == set()
    upgrade_heads(empty_db)
    assert current_revisions(empty_db) == head_revisions()


def test_models_match_the_migrated_schema(db_url: URL) -> None:
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={"include_object": include_object, "compare_type": True},
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_job_queue_schema_matches_the_installed_procrastinate() -> None:
    path = next((MIGRATIONS_DIR / "versions").glob("*_job_queue_schema.py"))
    spec = spec_from_file_location("job_queue_schema", path)
    assert spec and spec.loader
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    # Upgrading procrastinate needs a migration applying its own SQL migrations; see that file.
    assert version("procrastinate") == module.PROCRASTINATE_SCHEMA_VERSION
