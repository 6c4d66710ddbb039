"""Patients of a practice: identity, contact and the consents monitoring needs."""
