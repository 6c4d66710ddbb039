"""Bench setup: a registered account whose email counts as confirmed (no mailbox here)."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import URL

from kura.db.urls import libpq_conninfo


def confirm_email(url: URL, email: str) -> None:
    """What following the emailed link does, done directly: the bench measures other paths."""
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute("UPDATE user_account SET email_verified_at = now() WHERE email = %s", (email,))
