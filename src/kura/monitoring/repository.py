"""Scoped statements for risk alerts (the alerts list and the briefing count the same set)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select

from kura.monitoring.models import RiskAlert


def open_alerts(organization_id: uuid.UUID) -> Select[RiskAlert]:
    """Every unacknowledged alert of a practice, whatever its age: none can age out."""
    return select(RiskAlert).where(
        RiskAlert.organization_id == organization_id, RiskAlert.acknowledged_at.is_(None)
    )


def recent_alerts(organization_id: uuid.UUID, since: datetime) -> Select[RiskAlert]:
    return select(RiskAlert).where(
        RiskAlert.organization_id == organization_id, RiskAlert.created_at >= since
    )
