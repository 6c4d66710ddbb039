"""Imports every domain's models so Base.metadata is complete (Alembic, drift test)."""

from kura.db.base import Base

__all__ = ["Base"]
