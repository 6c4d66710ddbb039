"""Who may export: dependency aliases, so a stronger check (MFA step-up) replaces one line."""

from __future__ import annotations

from kura.auth.dependencies import ClinicalStaff, Owner

PatientExporter = ClinicalStaff
PracticeExporter = Owner
