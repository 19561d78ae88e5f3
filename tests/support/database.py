"""Databases for tests: a fresh SQLite file, and PostgreSQL when reachable.

`database_url` runs a test once per database. PostgreSQL comes from `ALERTMAIL_TEST_POSTGRES_URL`
(an admin connection; default the local server with trust auth); each test gets a database of its
own, dropped afterwards. Without a reachable server those params are skipped, unless
`ALERTMAIL_REQUIRE_POSTGRES=1` (CI) turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from psycopg import sql
from sqlalchemy import Connection, make_url

from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.storage.database import Database, alembic_config
from alertmail.config import to_async_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def postgres_admin_url() -> str:
    """The admin URL in libpq form (a SQLAlchemy driver suffix such as `+psycopg` is dropped)."""
    url = make_url(os.environ.get("ALERTMAIL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _connect_admin(admin_url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        shown = make_url(admin_url).render_as_string(hide_password=True)
        reason = (
            f"PostgreSQL not reachable at {shown}: set ALERTMAIL_TEST_POSTGRES_URL to a server"
            " with trust auth to run these"
        )
        if os.environ.get("ALERTMAIL_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} ({exc})")
        pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The async URL of a fresh, empty PostgreSQL database, dropped after the test."""
    admin_url = postgres_admin_url()
    name = f"alertmail_test_{uuid.uuid4().hex}"
    with _connect_admin(admin_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield to_async_url(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with _connect_admin(admin_url) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The async URL of a SQLite file that does not exist yet, in a directory that does not either."""
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'alertmail.db'}"


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs on SQLite and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database (engine + sessionmaker), disposed after the test."""
    async with Database.from_url(database_url) as db:
        await db.upgrade()
        yield db


@pytest.fixture
def secret_key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "secret.key"


@pytest.fixture
def secret_box(secret_key_file: Path) -> FernetSecretBox:
    return FernetSecretBox.from_key_file(secret_key_file)


async def upgrade_to(url: str, revision: str) -> None:
    """Migrate the database at `url` up to `revision` only: rows as an older version wrote them go in next."""
    async with Database.from_url(url) as database, database.engine.begin() as connection:

        def upgrade(sync: Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = sync
            command.upgrade(config, revision)

        await connection.run_sync(upgrade)
