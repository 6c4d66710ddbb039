"""Job queue schema (procrastinate 3.10.0).

The schema is procrastinate's own `schema.sql` of the pinned version. When procrastinate is
upgraded, add a migration that runs its `sql/migrations/*.sql` files between the two versions
and update PROCRASTINATE_SCHEMA_VERSION (tests/test_migrations.py checks the pin).

Revision ID: 0001_job_queue
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op
from procrastinate.schema import SchemaManager

revision: str = "0001_job_queue"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCRASTINATE_SCHEMA_VERSION = "3.10.0"


def _execute_script(script: str) -> None:
    # Straight to psycopg without parameters: the script's own % signs must not be parsed.
    op.get_bind().connection.driver_connection.execute(script)  # type: ignore[union-attr]


def upgrade() -> None:
    _execute_script(SchemaManager.get_schema())


def downgrade() -> None:
    _execute_script(
        """
        DO $$
        DECLARE fn record;
        BEGIN
            DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers,
                procrastinate_jobs, procrastinate_workers CASCADE;
            FOR fn IN
                SELECT p.oid::regprocedure AS signature FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = current_schema() AND starts_with(p.proname, 'procrastinate_')
            LOOP
                EXECUTE 'DROP FUNCTION ' || fn.signature || ' CASCADE';
            END LOOP;
            DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,
                procrastinate_job_status CASCADE;
        END $$;
        """
    )
