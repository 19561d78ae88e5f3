"""Storage behind the web UI, on SQLite and PostgreSQL: sessions, removing administrators (never the
last one, even two at once), new passwords, and Mail Server Logs pages and date ranges."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.repositories import SqlAdministratorRepository, SqlMailLogRepository
from alertmail.adapters.storage.web_session_repository import SqlWebSessionRepository
from alertmail.domain.ports import WebSession
from alertmail.domain.records import Administrator
from alertmail.errors import ConflictError, NotFoundError
from tests.support.records import mail_log_entry

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def web_session(admin: Administrator, id: str, *, expires: datetime = NOW + timedelta(hours=1)) -> WebSession:
    return WebSession(id, admin, f"csrf-{id}", NOW, NOW, expires, "pytest")


async def test_web_sessions_round_trip_touch_and_end(database: Database) -> None:
    admins = SqlAdministratorRepository(database.sessionmaker)
    alice = await admins.add("alice", "alice@example.com", "hash")
    bob = await admins.add("bob", None, "hash")
    sessions = SqlWebSessionRepository(database.sessionmaker)
    for session in (web_session(alice, "a1"), web_session(alice, "a2"), web_session(bob, "b1")):
        await sessions.add(session)

    found = await sessions.find("a1")
    assert found is not None and found.administrator.username == "alice" and found.csrf_token == "csrf-a1"
    assert await sessions.find("unknown") is None
    later = NOW + timedelta(minutes=5)
    await sessions.touch("a1", last_seen_at=later, expires_at=later + timedelta(hours=1))
    touched = await sessions.find("a1")
    assert touched is not None and touched.last_seen_at == later

    await sessions.delete_for_administrator("alice", keep="a1")
    assert [await sessions.find(i) is not None for i in ("a1", "a2", "b1")] == [True, False, True]
    await sessions.delete("a1")
    assert await sessions.find("a1") is None

    gone = Administrator("carol", None, NOW)
    with pytest.raises(NotFoundError):
        await sessions.add(web_session(gone, "c1"))


async def test_expired_sessions_are_purged_and_removed_administrators_take_theirs(database: Database) -> None:
    admins = SqlAdministratorRepository(database.sessionmaker)
    alice = await admins.add("alice", None, "hash")
    bob = await admins.add("bob", None, "hash")
    sessions = SqlWebSessionRepository(database.sessionmaker)
    await sessions.add(web_session(alice, "old", expires=NOW - timedelta(seconds=1)))
    await sessions.add(web_session(alice, "live"))
    await sessions.add(web_session(bob, "bobs"))
    assert await sessions.delete_expired(NOW) == 1
    await admins.remove("bob")
    assert await sessions.find("bobs") is None  # the foreign key cascades
    assert await sessions.find("live") is not None


async def test_the_last_administrator_stays_even_when_two_are_removed_at_once(database: Database) -> None:
    admins = SqlAdministratorRepository(database.sessionmaker)
    await admins.add("alice", None, "hash")
    await admins.add("bob", None, "hash")
    outcomes = await asyncio.gather(admins.remove("alice"), admins.remove("bob"), return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "NoneType"]
    assert len(await admins.list()) == 1
    with pytest.raises(NotFoundError):
        await admins.remove("nobody")
    with pytest.raises(ConflictError):
        await admins.remove((await admins.list())[0].username)


async def test_a_new_password_hash_replaces_the_old(database: Database) -> None:
    admins = SqlAdministratorRepository(database.sessionmaker)
    await admins.add("alice", None, "old-hash")
    await admins.set_password_hash("alice", "new-hash")
    assert await admins.password_hash("alice") == "new-hash"
    with pytest.raises(NotFoundError):
        await admins.set_password_hash("nobody", "hash")


async def test_mail_log_pages_and_date_ranges(database: Database) -> None:
    log = SqlMailLogRepository(database.sessionmaker)
    for hour in range(6):
        await log.add(mail_log_entry(registered_at=NOW + timedelta(hours=hour), message=f"at {hour}"))
    page = await log.list(limit=2, offset=2)
    assert [e.message for e in page] == ["at 3", "at 2"]
    window = await log.list(since=NOW + timedelta(hours=1), until=NOW + timedelta(hours=3))
    assert [e.message for e in window] == ["at 2", "at 1"]  # since included, until excluded
