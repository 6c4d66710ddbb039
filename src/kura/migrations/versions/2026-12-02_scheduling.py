"""Scheduling: therapists' availability, time off, service booking policy, public self-booking
with manage tokens, and no double booking of a therapist.

Expand-only: new tables, nullable columns or columns with server defaults, so the previous
revision keeps working on this schema. The exclusion constraint (btree_gist, a trusted
extension: Cloud SQL lets the database owner create it) coalesces the columns that revision
does not write, so its bookings are checked too. Overlapping bookings of one therapist made
before this revision (overlaps were counted per service) are kept: each such cluster shares
a group key, which the constraint accepts; nothing is cancelled behind anyone's back.

Revision ID: 0017_scheduling
Revises: 0016_exports
Create Date: 2026-12-02
"""

import re
import secrets
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0017_scheduling"
down_revision: str | Sequence[str] | None = "0016_exports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id_and_timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        *(
            sa.Column(
                name,
                sa.DateTime(timezone=True),
                server_default=sa.text("now()"),
                nullable=False,
            )
            for name in ("created_at", "updated_at")
        ),
    ]


_RESERVED = {"manage", "admin", "api", "public", "booking", "kura", "www", "static"}


def _slugify(name: str) -> str:
    # A copy of kura.orgs.slugs.slugify at this revision: a migration must not change meaning
    # when the application code does.
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:50].strip("-")
    if len(slug) < 3 or slug in _RESERVED:
        slug = f"{slug or 'practice'}-{secrets.token_hex(2)}"
    return slug


def _fill_slugs(connection: sa.Connection) -> None:
    taken: set[str] = set()
    rows = connection.execute(sa.text("SELECT id, name FROM organization ORDER BY created_at, id"))
    for org_id, name in rows.all():
        slug = _slugify(name or "")
        while slug in taken:
            slug = f"{slug[:50].strip('-')}-{secrets.token_hex(3)}"
        taken.add(slug)
        connection.execute(
            sa.text("UPDATE organization SET slug = :slug WHERE id = :id"),
            {"slug": slug, "id": org_id},
        )


def _group_legacy_overlaps(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.text(
            "SELECT id, therapist_id, starts_at, ends_at FROM booking "
            "WHERE therapist_id IS NOT NULL AND status IN ('PENDING', 'CONFIRMED', 'COMPLETED') "
            "ORDER BY therapist_id, starts_at, id"
        )
    ).all()
    clusters: list[list[object]] = []
    therapist, reach = None, None
    for booking_id, therapist_id, starts_at, ends_at in rows:
        if therapist_id == therapist and reach is not None and starts_at < reach:
            clusters[-1].append(booking_id)
            reach = max(reach, ends_at)
        else:
            clusters.append([booking_id])
            therapist, reach = therapist_id, ends_at
    for cluster in clusters:
        if len(cluster) > 1:
            connection.execute(
                sa.text("UPDATE booking SET group_key = :key WHERE id = ANY(:ids)"),
                {"key": cluster[0], "ids": cluster},
            )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "weekly_hours",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        *_id_and_timestamps(),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_weekly_hours_ends_after_start")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_weekly_hours_weekday_range")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_weekly_hours_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["user_account.id"],
            name=op.f("fk_weekly_hours_therapist_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_hours")),
    )
    op.create_index(op.f("ix_weekly_hours_therapist_id"), "weekly_hours", ["therapist_id"])
    op.create_table(
        "availability_exception",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        *_id_and_timestamps(),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_availability_exception_ends_after_start")
        ),
        sa.CheckConstraint(
            "kind IN ('TIME_OFF', 'OPENING')",
            name=op.f("ck_availability_exception_availability_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_availability_exception_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["user_account.id"],
            name=op.f("fk_availability_exception_therapist_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_exception")),
    )
    op.create_index(
        "ix_availability_exception_therapist_start",
        "availability_exception",
        ["therapist_id", "starts_at"],
    )

    for name, default in (
        ("buffer_minutes", "0"),
        ("min_notice_minutes", "0"),
        ("cancellation_window_hours", "24"),
    ):
        op.add_column(
            "service", sa.Column(name, sa.Integer(), server_default=default, nullable=False)
        )
    op.add_column(
        "service",
        sa.Column("bookable_online", sa.Boolean(), server_default="false", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_service_buffer_range"), "service", "buffer_minutes BETWEEN 0 AND 720"
    )
    op.create_check_constraint(
        op.f("ck_service_non_negative_notice"), "service", "min_notice_minutes >= 0"
    )
    op.create_check_constraint(
        op.f("ck_service_non_negative_cancel_window"), "service", "cancellation_window_hours >= 0"
    )

    op.add_column("booking", sa.Column("blocked_until", sa.DateTime(timezone=True)))
    op.add_column("booking", sa.Column("group_key", sa.Uuid()))
    op.add_column(
        "booking",
        sa.Column("source", sa.String(length=32), server_default="staff", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_booking_booking_source"), "booking", "source IN ('staff', 'public')"
    )
    op.add_column("booking", sa.Column("hold_expires_at", sa.DateTime(timezone=True)))
    op.add_column("booking", sa.Column("manage_token_hash", sa.String(length=64)))
    op.add_column("booking", sa.Column("privacy_accepted_at", sa.DateTime(timezone=True)))
    op.add_column("booking", sa.Column("cancelled_at", sa.DateTime(timezone=True)))
    op.create_unique_constraint(
        op.f("uq_booking_manage_token_hash"), "booking", ["manage_token_hash"]
    )
    op.create_index("ix_booking_therapist_start", "booking", ["therapist_id", "starts_at"])
    op.create_index(
        "ix_booking_hold_expires_at",
        "booking",
        ["hold_expires_at"],
        postgresql_where=sa.text("status = 'PENDING' AND hold_expires_at IS NOT NULL"),
    )
    connection = op.get_bind()
    _group_legacy_overlaps(connection)
    op.execute(
        "ALTER TABLE booking ADD CONSTRAINT ex_booking_therapist_overlap EXCLUDE USING gist ("
        "therapist_id WITH =, "
        "tstzrange(starts_at, COALESCE(blocked_until, ends_at), '[)') WITH &&, "
        "COALESCE(group_key, id) WITH <>"
        ") WHERE (therapist_id IS NOT NULL AND status IN ('PENDING', 'CONFIRMED', 'COMPLETED'))"
    )

    op.add_column("organization", sa.Column("slug", sa.String(length=63), nullable=True))
    _fill_slugs(connection)
    op.create_unique_constraint(op.f("uq_organization_slug"), "organization", ["slug"])


def downgrade() -> None:
    # btree_gist stays: harmless, and another object may have come to depend on it.
    op.drop_constraint(op.f("uq_organization_slug"), "organization", type_="unique")
    op.drop_column("organization", "slug")
    op.execute("ALTER TABLE booking DROP CONSTRAINT ex_booking_therapist_overlap")
    op.drop_index("ix_booking_hold_expires_at", table_name="booking")
    op.drop_index("ix_booking_therapist_start", table_name="booking")
    op.drop_constraint(op.f("uq_booking_manage_token_hash"), "booking", type_="unique")
    op.drop_constraint(op.f("ck_booking_booking_source"), "booking", type_="check")
    for name in (
        "cancelled_at",
        "privacy_accepted_at",
        "manage_token_hash",
        "hold_expires_at",
        "source",
        "group_key",
        "blocked_until",
    ):
        op.drop_column("booking", name)
    for name in ("buffer_range", "non_negative_notice", "non_negative_cancel_window"):
        op.drop_constraint(op.f(f"ck_service_{name}"), "service", type_="check")
    for name in ("bookable_online", "cancellation_window_hours", "min_notice_minutes"):
        op.drop_column("service", name)
    op.drop_column("service", "buffer_minutes")
    op.drop_index("ix_availability_exception_therapist_start", table_name="availability_exception")
    op.drop_table("availability_exception")
    op.drop_index(op.f("ix_weekly_hours_therapist_id"), table_name="weekly_hours")
    op.drop_table("weekly_hours")
