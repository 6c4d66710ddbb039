"""Alembic environment: the URL comes from the caller or from KURA's own settings."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from kura.db.migrate import MIGRATION_LOCK_KEY, include_object
from kura.registry import Base  # every domain's models: the complete metadata

config = context.config
target_metadata = Base.metadata


def run_migrations(url: Any) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(select(func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
        connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                include_object=include_object,
                compare_type=True,
                transaction_per_migration=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
            connection.commit()
    engine.dispose()


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")
    url = config.attributes.get("url")
    if url is not None:
        run_migrations(url)
        return
    # `alembic upgrade heads` from the repo root: same database the server would use.
    from kura.config import load_settings
    from kura.db.location import database_url

    with database_url(load_settings()) as resolved:
        run_migrations(resolved)


main()
