"""Who may export: dependency aliases, so a stronger check (MFA step-up) replaces one line."""

from __future__ import annotations

from kura.auth.dependencies import ClinicalStaff
from kura.auth.stepup import OwnerStepUp

PatientExporter = ClinicalStaff
PracticeExporter = OwnerStepUp  # every record of the practice: a fresh code first
