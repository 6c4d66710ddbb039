"""Writing the audit trail. Ids and actions only — never clinical text."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kura.audit.models import AuditEvent
from kura.db.base import utcnow


class AuditAction(StrEnum):
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOCKOUT = "auth.lockout"
    LOGOUT = "auth.logout"
    REGISTER = "auth.register"
    PASSWORD_CHANGED = "auth.password_changed"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"
    PASSWORD_RESET = "auth.password_reset"
    PROFILE_UPDATED = "auth.profile_updated"
    ACCOUNT_DELETED = "auth.account_deleted"
    ACCOUNT_CLAIMED = "auth.account_claimed_by_google"  # unverified registrant locked out
    EMAIL_VERIFIED = "auth.email_verified"
    REAUTH_FAILED = "auth.reauth_failed"  # wrong password on change-password / delete account
    MFA_ENABLED = "auth.mfa_enabled"
    MFA_DISABLED = "auth.mfa_disabled"
    MFA_VERIFIED = "auth.mfa_verified"
    MFA_FAILED = "auth.mfa_failed"  # wrong, replayed or locked-out code
    MFA_RECOVERY_CODE_USED = "auth.mfa_recovery_code_used"
    MFA_STEP_UP_REFUSED = "auth.mfa_step_up_refused"
    PRACTICE_SECURITY_UPDATED = "practice.security_updated"
    STAFF_ADDED = "staff.added"
    STAFF_UPDATED = "staff.updated"
    SUPERUSER_GRANTED = "platform.superuser_granted"
    SUPERUSER_REVOKED = "platform.superuser_revoked"
    PATIENT_VIEWED = "patient.viewed"
    PATIENT_LISTED = "patient.listed"
    PATIENT_CREATED = "patient.created"
    PATIENT_UPDATED = "patient.updated"
    PATIENT_DELETED = "patient.deleted"
    NOTE_VIEWED = "note.viewed"
    NOTE_CREATED = "note.created"
    NOTE_UPDATED = "note.updated"
    NOTE_DELETED = "note.deleted"
    NOTE_RESTORED = "note.restored"
    NOTE_SIGNED = "note.signed"
    NOTE_ADDENDUM_ADDED = "note.addendum_added"
    NOTE_STRUCK = "note.struck_through"
    NOTES_PURGED = "note.drafts_purged"  # counts only
    PATIENT_RESTRICTED = "patient.restricted"
    PATIENT_UNRESTRICTED = "patient.restriction_lifted"
    PATIENTS_ERASED = "patient.erased"  # counts per table, never content
    BOOKING_CREATED = "booking.created"
    BOOKING_UPDATED = "booking.updated"
    BOOKING_DELETED = "booking.deleted"
    BOOKING_CANCELLED_BY_LINK = "booking.cancelled_by_link"
    BOOKING_RESCHEDULED_BY_LINK = "booking.rescheduled_by_link"
    BOOKING_HOLD_EXPIRED = "booking.hold_expired"
    AVAILABILITY_UPDATED = "availability.updated"
    CALENDAR_FEED_CREATED = "calendar_feed.created"
    CALENDAR_FEED_REVOKED = "calendar_feed.revoked"
    BOOKING_PAGE_UPDATED = "practice.booking_page_updated"
    PAYMENT_STARTED = "payment.started"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYOUT_ACCOUNT_ONBOARDING = "payment.connect_onboarding"
    REFUND_ISSUED = "payment.refund_issued"
    PAYMENT_REFUNDED = "payment.refunded"  # Stripe's word (charge.refunded)
    INVOICE_ISSUED = "invoice.issued"
    INVOICE_DOWNLOADED = "invoice.downloaded"
    PRACTICE_SETTINGS_UPDATED = "practice.settings_updated"
    PRACTICE_CLOSURE_REQUESTED = "practice.closure_requested"
    PRACTICE_CLOSURE_CANCELLED = "practice.closure_cancelled"
    PRACTICE_ERASED = "practice.erased"
    EXPORT_REQUESTED = "export.requested"
    EXPORT_COMPLETED = "export.completed"  # counts per part, never content
    EXPORT_FAILED = "export.failed"
    EXPORT_DOWNLOADED = "export.downloaded"
    EXPORT_EXPIRED = "export.expired"  # the file deleted after EXPORT_RETENTION_DAYS
    BACKUP_CREATED = "backup.created"
    BACKUP_DOWNLOADED = "backup.downloaded"
    BACKUP_DELETED = "backup.deleted"
    BACKUP_LEFTOVERS_REMOVED = "backup.leftovers_removed"  # names and sizes, never content
    RESTORE_STARTED = "restore.started"
    RESTORE_COMPLETED = "restore.completed"
    RESTORE_FAILED = "restore.failed"
    AI_ANALYSIS_RUN = "ai.analysis_run"
    AI_TRANSCRIPTION_RUN = "ai.transcription_run"
    MONITORING_MESSAGES_VIEWED = "monitoring.messages_viewed"
    MONITORING_ANALYSES_VIEWED = "monitoring.analyses_viewed"
    RISK_ALERT_ACKNOWLEDGED = "monitoring.alert_acknowledged"
    MONITORING_SETTINGS_UPDATED = "monitoring.settings_updated"
    ORGANIZATION_NUMBER_ASSIGNED = "organization.whatsapp_number_assigned"
    MONITORING_ENROLLMENT_CREATED = "monitoring.enrollment_created"
    MONITORING_ENROLLED = "monitoring.enrolled"
    MONITORING_BINDING_MOVED = "monitoring.binding_moved"
    MONITORING_WITHDRAWN = "monitoring.withdrawn"


# Built once: a Core INSERT with parameters, because audit rows are written on every audited
# read and never read back — the ORM unit of work and statement building would be overhead.
_INSERT = insert(AuditEvent)


async def record(
    session: AsyncSession,
    action: AuditAction,
    *,
    organization_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the caller's transaction (it lands only if the work does)."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    await session.execute(
        _INSERT,
        {
            "occurred_at": utcnow(),
            "organization_id": organization_id,
            "actor_id": actor_id,
            "action": action.value,
            "target_type": target_type,
            "target_id": str(target_id) if target_id is not None else None,
            "ip": ip,
            "request_id": request_id,
            "details": details or {},
        },
    )
