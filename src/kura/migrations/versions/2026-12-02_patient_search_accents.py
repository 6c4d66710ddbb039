"""Accent- and case-insensitive patient search (#18): kura_fold() and trigram indexes on it.

`kura_fold(text)` is lower(unaccent(…)): "Núñez", "NUNEZ" and "nunez" all fold to "nunez".
unaccent() is only STABLE (its dictionary could change), so it cannot be indexed directly; the
documented way is an IMMUTABLE SQL wrapper that names the dictionary explicitly. Everything in
the body is schema-qualified so the function gives the same answer under any search_path (a
restore runs with an empty one while it rebuilds the indexes).

The name and email trigram indexes move to the folded values (the search no longer matches the
raw columns, so their old indexes would only cost writes); the phone index stays as it is. The
old revision's `ILIKE` on the raw columns keeps working during a rollout, it just no longer
has an index of its own.

Both extensions are trusted (PostgreSQL 13+): a user with CREATE on the database may create
them. On Cloud SQL, extensions can be created by members of `cloudsqlsuperuser`, which the
users made through the Cloud SQL Admin API (as scripts/setup_infra.sh makes the app's user)
are; both are in Cloud SQL's supported-extension list
(https://cloud.google.com/sql/docs/postgres/extensions). A restore replays both CREATE
EXTENSIONs with the same privilege.

Immutable is a promise about unaccent.rules: a major-version upgrade may ship new rules (PG 18
folds "ª" and "º", PG 15 does not), after which REINDEX the two `_fold_trgm` indexes.

Revision ID: 0013_patient_search_fold
Revises: 0012_email_verification
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_patient_search_fold"
down_revision: str | Sequence[str] | None = "0012_email_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("full_name", "email")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # since 0008; kept explicit
    op.execute(
        """
        CREATE FUNCTION public.kura_fold(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT pg_catalog.lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$
        """
    )
    for column in COLUMNS:
        op.drop_index(f"ix_patient_{column}_trgm", table_name="patient")
        # fastupdate off, as for the other trigram indexes: see kura.patients.models.
        op.execute(
            f"CREATE INDEX ix_patient_{column}_fold_trgm ON patient "
            f"USING gin (public.kura_fold({column}) gin_trgm_ops) WITH (fastupdate = off)"
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_patient_{column}_fold_trgm", table_name="patient")
        op.create_index(
            f"ix_patient_{column}_trgm",
            "patient",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},
        )
    op.execute("DROP FUNCTION public.kura_fold(text)")
    # The extensions stay, as 0008 leaves pg_trgm: other objects (or a DBA's own queries) may
    # have come to use them, and an unused extension costs nothing.
