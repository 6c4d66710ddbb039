"""Organization as clients see it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from kura.orgs.models import OrgTier, OrgType


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    type: OrgType
    tier: OrgTier
    timezone: str
    locale: str
    created_at: datetime
