"""Monitoring bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from kura.inputs import Input
from kura.pagination import Page


class RiskAlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    message_id: uuid.UUID | None
    note_id: uuid.UUID | None = None
    source: str
    level: int
    risk: str
    flags: list[str]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_id: uuid.UUID | None
    escalated_at: datetime | None


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    direction: str
    body: str | None
    transcript: str | None
    media_content_type: str | None
    screen_level: int
    screen_risk: str
    screen_flags: list[str]
    created_at: datetime


class AnalysisRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    day: date
    summary: str
    sentiment_score: float
    emotional_state: str
    risk_flags: list[str]
    suggestion: str
    message_count: int
    generation_method: str
    updated_at: datetime


class MonitoringSettings(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    whatsapp_number: str | None
    monitoring_ack_message: str | None
    crisis_resources: str | None


class MonitoringSettingsUpdate(Input):
    """The practice's texts. Its WhatsApp number is assigned by a platform operator."""

    monitoring_ack_message: str | None = Field(default=None, max_length=500)
    crisis_resources: str | None = Field(default=None, max_length=500)


class EnrollmentRead(BaseModel):
    code: str = Field(description="Single-use; the patient sends it from their phone")
    expires_at: datetime
    whatsapp_url: str | None = Field(description="wa.me link with the code filled in")
    monitoring_status: str


class WithdrawalRead(BaseModel):
    monitoring_status: str
    messages_purged: int


class RiskAlertPage(Page[RiskAlertRead]):
    """Risk alerts, a page at a time."""


class MessagePage(Page[MessageRead]):
    """WhatsApp messages, a page at a time."""


class AnalysisPage(Page[AnalysisRead]):
    """Daily conversation analyses, a page at a time."""
