"""The organization (practice) table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from kura.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum
from kura.orgs.slugs import slugify, with_suffix


class OrgType(StrEnum):
    SOLO = "SOLO"
    TEAM = "TEAM"


class OrgTier(StrEnum):
    BUILDER = "BUILDER"
    PRO = "PRO"
    CENTER = "CENTER"


def _default_slug(context: DefaultExecutionContext) -> str:
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]  # reason: SQLAlchemy leaves it unannotated
    slug = slugify(str(parameters.get("name") or ""))
    taken = context.connection.execute(
        text("SELECT 1 FROM organization WHERE slug = :slug"), {"slug": slug}
    ).first()
    return with_suffix(slug) if taken else slug


class Organization(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "organization"
    __table_args__ = (
        # Ley 41/2002 art. 17: clinical records are kept at least five years after discharge.
        CheckConstraint(
            "record_retention_years BETWEEN 5 AND 50", name="record_retention_at_least_5_years"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[OrgType] = mapped_column(str_enum(OrgType, "org_type"), default=OrgType.SOLO)
    tier: Mapped[OrgTier] = mapped_column(str_enum(OrgTier, "org_tier"), default=OrgTier.BUILDER)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Madrid")
    locale: Mapped[str] = mapped_column(String(8), default="es")
    # WhatsApp monitoring: the practice's own Twilio number (E.164), if it has one, and its
    # own wording for the acknowledgement and the crisis resources (defaults are built in).
    whatsapp_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    monitoring_ack_message: Mapped[str | None] = mapped_column(Text)
    crisis_resources: Mapped[str | None] = mapped_column(Text)
    # Stripe: the practice's connected account (patients pay it directly, less the platform's
    # fee) and its own subscription to KURA OS.
    stripe_account_id: Mapped[str | None] = mapped_column(String(255))
    # What Stripe last said of that account (account.updated): live charges need the first.
    stripe_charges_enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    stripe_payouts_enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    stripe_details_submitted: Mapped[bool] = mapped_column(default=False, server_default="false")
    stripe_account_synced_at: Mapped[datetime | None]
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    subscription_status: Mapped[str | None] = mapped_column(String(32))
    # Stripe's time of the subscription state we hold: older events are ignored.
    subscription_synced_at: Mapped[datetime | None]
    # Records: years a restricted patient's record is kept after discharge, the practice's own
    # note headings (the PRACTICE template), and a requested closure (export first, 30 days).
    record_retention_years: Mapped[int] = mapped_column(default=5, server_default="5")
    note_sections: Mapped[list[str] | None] = mapped_column(JSONB)
    closure_requested_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    # Set by the owner: members must pass two-step verification (kura.auth.mfa).
    mfa_required: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Public booking address (kura.orgs.slugs); NULL only for a practice created by the
    # previous revision during a rollout (no public page until the owner sets one).
    slug: Mapped[str | None] = mapped_column(String(63), unique=True, default=_default_slug)
