"""Organizations: a practice is the tenant every record belongs to."""
