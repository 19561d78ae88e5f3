"""`INSERT … ON CONFLICT` for the database in use, its SQLAlchemy dialect imported only then.

Both dialects spell the upsert alike (`on_conflict_do_update`, `excluded`), each in its own module.
SQLAlchemy's PostgreSQL dialect costs tens of milliseconds and a few MiB to import: a server on
SQLite, the default, never loads it (on PostgreSQL the engine has loaded it already).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import sqlite

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql

__all__ = ["upsert_into"]


def upsert_into(table: Any, dialect: str) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` (an ORM class or a Table) that can say what a conflict does."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)
