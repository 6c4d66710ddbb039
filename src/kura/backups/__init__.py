"""Backups and disaster recovery: verified dumps, all-or-nothing restore, durable storage."""
