"""`alertmail sendmail`'s direct path (direct_outbox.py: the driver alone) writes the row the full
path (SqlOutboxRepository) writes, on a connection set up as the engine's, on both databases; the
worker delivers what it queued; and it leaves to the full path every database it cannot use as is."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from alertmail.adapters.storage.database import Database, current_revision
from alertmail.adapters.storage.direct_outbox import open_direct_outbox
from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.composition import Container, open_container
from alertmail.domain.local_queue import LocalSender
from alertmail.domain.outbox import OutboxMessage, RetryPolicy
from alertmail.services.clock import utc_now
from alertmail.services.local_message import Envelope, local_outbox_message
from tests.support.database import upgrade_to
from tests.support.delivery import alertmail_env, delivery_config, relay_changes
from tests.support.smtp import SmtpServerFactory

REPORT = b"""\
From: Backup job <backup@host.example.net>
To: Ops <ops@example.com>, dev@example.com
Bcc: audit@example.com
Subject: Backup finished: 3 warnings

The nightly backup finished.
"""
# Not a setting the direct path reads: with it, sendmail reads AppConfig and queues on the full path.
FULL_PATH = {"ALERTMAIL_NODE_ROLE": "primary-capable"}
# Set or generated per message: the id, the times, and the Message-ID and Date of the stored text.
PER_MESSAGE = ("id", "message_id", "created_at", "next_attempt_at", "expires_at", "raw")


@pytest.fixture
async def configured(tmp_path: Path, database_url: str) -> Container:
    """A migrated database with saved settings (sendmail's sender), and the container on it."""
    async with open_container(delivery_config(tmp_path / "data", database_url)) as container:
        await container.settings.save(relay_changes(1), actor="tests")
    return container


def a_message(**changes: Any) -> OutboxMessage:
    envelope = Envelope(recipients=("boss@example.com",), envelope_from=None, source="sendmail",
                        recipients_from_headers=True)  # fmt: skip
    sender = LocalSender("alerts@example.com", "smtp")
    message = local_outbox_message(REPORT, envelope, sender=sender, policy=RetryPolicy(), now=utc_now())
    return replace(message, **changes)


async def stored_rows(url: str) -> dict[str, dict[str, Any]]:
    """Every outbox row as the database holds it (JSON and timestamps as stored), by id."""
    async with Database.from_url(url) as database, database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM outbox"))).mappings().all()
    return {row["id"]: dict(row) for row in rows}


async def test_a_message_written_directly_is_the_row_the_repository_writes(
    configured: Container, database_url: str
) -> None:
    message = a_message()
    async with Database.from_url(database_url) as database:
        await SqlOutboxRepository(database.sessionmaker, dialect=database.dialect).enqueue_many([message])
    with open_direct_outbox(database_url) as outbox:
        assert outbox is not None
        outbox.enqueue(replace(message, id="direct"))

    rows = await stored_rows(database_url)
    assert set(rows) == {message.id, "direct"}
    assert {**rows["direct"], "id": message.id} == rows[message.id]  # every column, as stored
    async with Database.from_url(database_url) as database:
        read = await SqlOutboxRepository(database.sessionmaker, dialect=database.dialect).get("direct")
    assert read == replace(message, id="direct")


async def test_the_direct_connection_is_set_up_as_the_engines(tmp_path: Path, sqlite_url: str) -> None:
    pragmas = ("journal_mode", "busy_timeout", "foreign_keys")
    async with Database.from_url(sqlite_url) as database:
        await database.upgrade()
        async with database.engine.connect() as connection:
            engines = [(await connection.exec_driver_sql(f"PRAGMA {p}")).scalar() for p in pragmas]
    with open_direct_outbox(sqlite_url) as outbox:
        assert outbox is not None
        direct = [outbox.connection.execute(f"PRAGMA {p}").fetchone()[0] for p in pragmas]
        assert outbox.connection.isolation_level is None  # BEGIN by hand, as the engine's
    assert direct == engines == ["wal", 10_000, 1]
    database_file = Path(sqlite_url.split(":///")[1])
    assert oct(database_file.stat().st_mode & 0o777) == "0o600"


async def test_it_leaves_a_database_to_create_or_upgrade_to_the_full_path(
    tmp_path: Path, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        with open_direct_outbox(database_url) as outbox:
            assert outbox is None  # no file yet: the full path creates it
        assert not Path(database_url.split(":///")[1]).exists()
    else:
        with open_direct_outbox(database_url) as outbox:
            assert outbox is None  # no alembic_version yet
    await upgrade_to(database_url, "head")
    async with Database.from_url(database_url) as database:
        head = await current_revision(database.engine)
        async with database.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    with open_direct_outbox(database_url) as outbox:
        assert outbox is None, f"behind {head}: Alembic must run first"


async def alertmail_sendmail(data_dir: Path, url: str, env: dict[str, str]) -> tuple[int, str, set[str]]:
    """`alertmail sendmail -t` on `url`; its status, standard error, and the modules it imported."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-X", "importtime", "-m", "alertmail", "sendmail", "-t", "boss@example.com",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**alertmail_env(data_dir, database_url=url), **env},
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(REPORT), timeout=60)
    lines = err.decode().splitlines()
    modules = {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}
    other = "\n".join(line for line in lines if not line.startswith("import time:"))
    assert process.returncode is not None
    return process.returncode, other, modules


def comparable(message: OutboxMessage) -> dict[str, Any]:
    fields = asdict(message)
    raw = "\n".join(
        line for line in (message.raw or "").splitlines() if not line.startswith(("Message-ID:", "Date:"))
    )
    return {name: value for name, value in fields.items() if name not in PER_MESSAGE} | {"raw": raw}


async def test_sendmail_queues_directly_what_the_full_path_queues_and_the_worker_delivers_it(
    tmp_path: Path, database_url: str, smtp_server_factory: SmtpServerFactory
) -> None:
    relay = await smtp_server_factory()
    config = delivery_config(tmp_path / "data", database_url)
    async with open_container(config) as container:
        await container.settings.save(relay_changes(relay.port), actor="tests")

    direct = await alertmail_sendmail(config.data_dir, database_url, {})
    full = await alertmail_sendmail(config.data_dir, database_url, FULL_PATH)
    assert (direct[0], direct[1], full[0], full[1]) == (0, "", 0, "")
    assert "sqlalchemy" not in direct[2] and "pydantic" not in direct[2]
    # No event loop either; psycopg itself imports asyncio (for its async connections), sqlite3 not.
    assert database_url.startswith("postgresql") or "asyncio" not in direct[2]
    assert "sqlalchemy" in full[2]  # the comparison is of the two paths

    async with open_container(config) as container:
        outbox = SqlOutboxRepository(container.database.sessionmaker, dialect=container.database.dialect)
        first, second = sorted(await outbox.list(), key=lambda m: m.created_at)
        assert comparable(first) == comparable(second)
        assert first.status == "queued" and first.source == "sendmail"
        while await container.delivery_worker.run_once():
            pass
    received = {m.message["Message-ID"].strip() for m in relay.messages}
    assert received == {first.message_id, second.message_id}
    assert all(set(m.rcpt_tos) == set(first.recipients) for m in relay.messages)


async def test_an_unusable_database_exits_75_and_queues_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with open_container(delivery_config(data_dir)) as container:
        await container.settings.save(relay_changes(1), actor="tests")
    database = data_dir / "alertmail.db"
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    database.write_bytes(b"not a database" * 100)
    status, err, modules = await alertmail_sendmail(data_dir, "", {})
    assert status == os.EX_TEMPFAIL, err
    assert "the queue cannot be reached ((sqlite3.DatabaseError) file is not a database)" in err
    assert "sqlalchemy" not in modules
