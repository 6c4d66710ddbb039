"""Background jobs on a PostgreSQL-backed queue (procrastinate): no Redis, same transaction."""
