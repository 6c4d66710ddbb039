"""Imports every domain's models so Base.metadata is complete (Alembic, drift test)."""

from kura.audit.models import AuditEvent
from kura.auth.models import AuthSession, AuthThrottle, PasswordToken, PlatformState
from kura.bookings.models import Booking, Service
from kura.briefings.models import DailyBriefing
from kura.clinical.models import ClinicalNote
from kura.db.base import Base
from kura.monitoring.models import DailyConversationAnalysis, MessageLog, RiskAlert
from kura.orgs.models import Organization
from kura.patients.models import Patient
from kura.payments.models import Payment, StripeEvent
from kura.users.models import User

__all__ = [
    "AuditEvent",
    "AuthSession",
    "AuthThrottle",
    "Base",
    "Booking",
    "ClinicalNote",
    "DailyBriefing",
    "DailyConversationAnalysis",
    "MessageLog",
    "Organization",
    "PasswordToken",
    "Patient",
    "Payment",
    "PlatformState",
    "RiskAlert",
    "Service",
    "StripeEvent",
    "User",
]
