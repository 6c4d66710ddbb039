"""The wiring of the house: every domain's models (so Base.metadata is complete for Alembic and
the drift test) and every domain's job tasks and schedules on the one queue.

The core (db/, jobs/) imports nothing above it; what runs the product imports this module:
the app factory, the standalone worker and Alembic's environment.
"""

from kura.audit.models import AuditEvent
from kura.auth import tasks as auth_tasks
from kura.auth.mfa_models import MfaRecoveryCode, UserMfa
from kura.auth.models import AuthSession, AuthThrottle, PasswordToken, PlatformState
from kura.backups import tasks as backup_tasks
from kura.backups.schedule import schedule_backups
from kura.bookings import tasks as booking_tasks
from kura.bookings.models import (
    AvailabilityException,
    Booking,
    BookingReminder,
    CalendarFeed,
    Service,
    WeeklyHours,
)
from kura.briefings import tasks as briefing_tasks
from kura.briefings.models import DailyBriefing
from kura.clinical.models import ClinicalNote, NoteAddendum, NoteVersion
from kura.db.base import Base
from kura.exports import tasks as export_tasks
from kura.exports.models import DataExport
from kura.invoices import tasks as invoice_tasks
from kura.invoices.models import Invoice, InvoiceCounter, InvoiceProfile
from kura.jobs.queue import job_app
from kura.jobs.schedule import add_schedule
from kura.monitoring import tasks as monitoring_tasks
from kura.monitoring.models import DailyConversationAnalysis, MessageLog, RiskAlert
from kura.orgs.models import Organization
from kura.patients import tasks as patient_tasks
from kura.patients.models import Patient
from kura.payments import tasks as payment_tasks
from kura.payments.models import Payment, StripeEvent
from kura.users.models import User

job_app.add_tasks_from(auth_tasks.blueprint, namespace="auth")
job_app.add_tasks_from(backup_tasks.blueprint, namespace="backups")
job_app.add_tasks_from(monitoring_tasks.blueprint, namespace="monitoring")
job_app.add_tasks_from(briefing_tasks.blueprint, namespace="briefings")
job_app.add_tasks_from(payment_tasks.blueprint, namespace="payments")
job_app.add_tasks_from(booking_tasks.blueprint, namespace="bookings")
job_app.add_tasks_from(patient_tasks.blueprint, namespace="patients")
job_app.add_tasks_from(export_tasks.blueprint, namespace="exports")
job_app.add_tasks_from(invoice_tasks.blueprint, namespace="invoices")
add_schedule(schedule_backups)

__all__ = [
    "AuditEvent",
    "AuthSession",
    "AuthThrottle",
    "AvailabilityException",
    "Base",
    "Booking",
    "BookingReminder",
    "CalendarFeed",
    "ClinicalNote",
    "DailyBriefing",
    "DailyConversationAnalysis",
    "DataExport",
    "Invoice",
    "InvoiceCounter",
    "InvoiceProfile",
    "MessageLog",
    "MfaRecoveryCode",
    "NoteAddendum",
    "NoteVersion",
    "Organization",
    "PasswordToken",
    "Patient",
    "Payment",
    "PlatformState",
    "RiskAlert",
    "Service",
    "StripeEvent",
    "User",
    "UserMfa",
    "WeeklyHours",
    "job_app",
]
