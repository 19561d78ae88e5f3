"""The hot path reads almost nothing: API tokens and the decrypted settings are kept in memory,
and another process's change (token or administrator removed, settings saved) is seen at once.

Two containers on one database stand for two processes or nodes. Statements are counted on the
engine, so "one cheap read" is what the database was actually asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import event as sa_event

from alertmail.adapters.storage.database import Database
from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.errors import UnauthorizedError
from alertmail.services.credential_cache import MAX_STALENESS
from tests.support.delivery import relay_changes

PASSWORD = "correct horse battery"


def statements_of(database: Database) -> list[str]:
    """The SQL statements run on `database` from now on."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(" ".join(statement.split()))

    sa_event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    return seen


@pytest.fixture
async def two_nodes(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Container, Container]]:
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    async with open_container(config) as first, open_container(config.model_copy()) as second:
        yield first, second


async def _token(container: Container, username: str = "alice") -> str:
    await container.administrators.create(username, email=f"{username}@example.com", password=PASSWORD)
    _, token = await container.administrators.create_token(f"{username}-token", administrator=username)
    return token


async def test_a_known_token_costs_one_read_of_the_generation(two_nodes: tuple[Container, Container]) -> None:
    first, _ = two_nodes
    token = await _token(first)
    assert (await first.administrators.authenticate_token(token)).administrator.username == "alice"
    seen = statements_of(first.database)
    for _ in range(3):
        await asyncio.sleep(MAX_STALENESS)  # each request a read of its own, none shared
        assert (await first.administrators.authenticate_token(token)).administrator.username == "alice"
    selects = [s for s in seen if s.startswith("SELECT")]
    assert len(selects) == 3 and all("cache_generations" in s for s in selects), seen
    assert not any(s.startswith(("UPDATE", "INSERT", "DELETE")) for s in seen)


async def test_concurrent_requests_share_one_read(two_nodes: tuple[Container, Container]) -> None:
    first, _ = two_nodes
    token = await _token(first)
    await first.administrators.authenticate_token(token)
    seen = statements_of(first.database)
    await asyncio.sleep(MAX_STALENESS)  # the read above is too old for what follows
    await asyncio.gather(*(first.administrators.authenticate_token(token) for _ in range(50)))
    reads = [s for s in seen if s.startswith("SELECT")]
    assert len(reads) == 1 and "cache_generations" in reads[0], seen


async def test_removing_an_administrator_elsewhere_refuses_its_cached_token_at_once(
    two_nodes: tuple[Container, Container],
) -> None:
    first, second = two_nodes
    token = await _token(first)
    await _token(first, "bob")  # the last administrator cannot be removed
    await first.administrators.authenticate_token(token)  # cached on the first node
    await second.administrators.remove("alice", acting="bob")
    await asyncio.sleep(MAX_STALENESS)  # the bound on how long another process may still accept it
    with pytest.raises(UnauthorizedError):
        await first.administrators.authenticate_token(token)


async def test_an_e_mail_changed_elsewhere_is_what_the_next_request_sees(
    two_nodes: tuple[Container, Container],
) -> None:
    first, second = two_nodes
    token = await _token(first)
    await first.administrators.authenticate_token(token)
    await second.administrators.set_email("alice", "alice.new@example.com")
    await asyncio.sleep(MAX_STALENESS)
    assert (
        await first.administrators.authenticate_token(token)
    ).administrator.email == "alice.new@example.com"


async def test_an_unknown_token_is_refused_every_time(two_nodes: tuple[Container, Container]) -> None:
    first, _ = two_nodes
    await _token(first)
    for _ in range(2):
        with pytest.raises(UnauthorizedError):
            await first.administrators.authenticate_token("am_not-a-token")


async def test_settings_are_decrypted_once_and_a_save_elsewhere_is_seen(
    two_nodes: tuple[Container, Container],
) -> None:
    first, second = two_nodes
    await first.settings.save(relay_changes(2525), actor="test")
    before = await first.settings.current()
    seen = statements_of(first.database)
    assert await first.settings.current() == before
    reads = [s for s in seen if s != "BEGIN"]
    assert len(reads) == 1 and "mail_settings.version" in reads[0], seen
    await second.settings.save(relay_changes(2526), actor="test")
    after = await first.settings.current()
    assert after.settings.port == 2526 and after.version == before.version + 1


async def test_a_read_on_sqlite_rolls_back_once(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each rollback on aiosqlite is a hand-off to the connection's thread: the pool adds none."""
    rollbacks: list[object] = []
    real_rollback = aiosqlite.Connection.rollback

    async def counted(self: aiosqlite.Connection) -> None:
        rollbacks.append(self)
        await real_rollback(self)

    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)
    for _ in range(3):
        await container.settings.current()
    assert len(rollbacks) == 3
