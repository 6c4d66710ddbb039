"""Audit trail: append-only record of who touched clinical data or the platform. Ids only."""
