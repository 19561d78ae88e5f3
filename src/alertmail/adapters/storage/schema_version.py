"""Is the database's schema current? One read, and no Alembic, when it is.

Every command opens the database, and loading Alembic to find the head revision costs most of a
second; so the heads are read from the migration files' `revision` and `down_revision` lines, and
compared with `alembic_version` in one query. Alembic itself runs only when an upgrade is due
(`database.upgrade_database`). A test holds `migration_heads()` to Alembic's own answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# SQLAlchemy is imported by the function that uses it: sendmail's direct path (direct_outbox.py)
# reads the version with the driver alone and asks only `is_current`.

__all__ = ["SCHEMA_VERSION_QUERY", "is_current", "migration_heads", "schema_is_current"]

SCHEMA_VERSION_QUERY = "SELECT version_num FROM alembic_version"

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^revision\b[^=]*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


@cache
def migration_heads() -> frozenset[str]:
    """The revisions no other migration revises: what a current database is at."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN_REVISION.search(source)
        if down is not None:
            revised.update(_QUOTED.findall(down.group(1)))
    return frozenset(revisions - revised)


def is_current(applied: Iterable[str]) -> bool:
    """Whether revisions read from `alembic_version` are every head: nothing to upgrade."""
    found = frozenset(applied)
    return bool(found) and found == migration_heads()


async def schema_is_current(engine: AsyncEngine) -> bool:
    """True when the database is at every head; False when it is behind, or new (no table yet)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text(SCHEMA_VERSION_QUERY))
            applied = [row[0] for row in rows]
    except DBAPIError:  # no alembic_version table: a database never migrated
        return False
    return is_current(applied)
