"""Several `alertmail serve` processes on one real PostgreSQL (`tests/support/cluster.py`): the
election, failover and its e-mails, one configuration for every node."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import alertmail
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.primary_lock import PostgresPrimaryLock
from tests.support.cluster import (
    BECOMING_PRIMARY,
    GRACE,
    HEARTBEAT,
    PROBE_FAILED,
    PROBE_FAILED_NO_FAILOVER,
    VERSION_MISMATCH,
    Cluster,
    count,
    sink,
    start_cluster,
    subjects,
    wait_for_mail,
)
from tests.support.smtp import SmtpServerFactory, SmtpSink

__all__ = ["sink", "start_cluster"]  # fixtures, imported to be found

pytestmark = pytest.mark.postgres


async def test_killing_the_primary_makes_a_backup_primary_once_and_the_daily_notice_stays_once(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    now = datetime.now(UTC)
    cluster: Cluster = await start_cluster(daily_notice=True, daily_notice_time=f"{now:%H:%M}")
    await cluster.start("node-a")
    await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
    await cluster.start("node-b", "node-c")
    await cluster.wait_for_states(
        lambda s: s == {"node-a": "primary", "node-b": "backup", "node-c": "backup"}, via="node-b"
    )
    await wait_for_mail(sink, "Daily communication notice")

    await cluster.kill("node-a")
    killed = time.monotonic()
    states = await cluster.wait_for_states(
        lambda s: "primary" in s.values() and s["node-a"] != "primary", "node-b"
    )
    took = time.monotonic() - killed
    await wait_for_mail(sink, BECOMING_PRIMARY)
    await asyncio.sleep(10 * HEARTBEAT)  # every node gets several more ticks to repeat anything

    new_primary = next(name for name, state in states.items() if state == "primary")
    assert GRACE <= took <= GRACE + 5, f"took {took:.1f} s for a grace period of {GRACE} s"
    assert list(states.values()).count("primary") == 1 and states["node-a"] == "down"
    assert count(sink, BECOMING_PRIMARY) == 1 and count(sink, PROBE_FAILED) == 1, subjects(sink)
    assert f"[{new_primary}] {BECOMING_PRIMARY}" in subjects(sink)
    assert count(sink, "Daily communication notice") == 1, subjects(sink)  # the new primary ran it too
    # Both backups saw the outage; the claim in the database let one of them raise each event.
    for event_type in ("failover.primary_probe_failed_failover_enabled", "failover.backup_becoming_primary"):
        assert len(await cluster.events(new_primary, event_type)) == 1, event_type
    assert await cluster.events(new_primary, "failover.check_cleared") == []
    became = next(m for m in sink.messages if str(m.message["Subject"]).endswith(BECOMING_PRIMARY))
    assert "node-a" in became.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert (await cluster.cluster(new_primary))["is_primary"] is True


async def test_a_node_with_another_version_raises_the_mismatch_e_mail_once_even_across_a_failover(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    cluster: Cluster = await start_cluster()
    await cluster.start("node-a")
    await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
    # node-b runs an older version, as a traffic node: it never becomes primary itself
    await cluster.start("node-b", ALERTMAIL_VERSION_OVERRIDE="0.0.1-old", ALERTMAIL_NODE_ROLE="traffic")
    await cluster.start("node-c")
    await wait_for_mail(sink, VERSION_MISMATCH)
    await cluster.kill("node-a")  # node-c becomes primary and finds the same mismatch
    states = await cluster.wait_for_states(lambda s: s["node-c"] == "primary", via="node-c")
    await asyncio.sleep(10 * HEARTBEAT)

    assert states == {"node-a": "down", "node-b": "traffic", "node-c": "primary"}
    assert count(sink, VERSION_MISMATCH) == 1, subjects(sink)
    assert len(await cluster.events("node-c", "failover.version_mismatch")) == 1
    mail = next(m for m in sink.messages if str(m.message["Subject"]).endswith(VERSION_MISMATCH))
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "0.0.1-old" in text and alertmail.__version__ in text and "node-b" in text
    versions = {n["node_id"]: n["version"] for n in (await cluster.cluster("node-b"))["nodes"]}
    assert versions == {
        "node-a": alertmail.__version__,
        "node-b": "0.0.1-old",
        "node-c": alertmail.__version__,
    }


async def test_a_settings_change_on_one_node_is_used_by_a_send_on_another_at_once(
    start_cluster: Callable[..., Any], sink: SmtpSink, smtp_server_factory: SmtpServerFactory
) -> None:
    other = await smtp_server_factory()
    cluster: Cluster = await start_cluster()
    await cluster.start("node-a", "node-b")
    a, b = cluster.nodes["node-a"].url, cluster.nodes["node-b"].url
    test_email = {"to": "ops@example.com"}
    before = await cluster.http.post(
        b + "/api/v1/mail-settings/test-email", json=test_email, headers=cluster.headers
    )
    assert before.status_code == 200, before.text

    saved = await cluster.http.patch(
        a + "/api/v1/mail-settings", json={"port": other.port}, headers=cluster.headers
    )
    sent = await cluster.http.post(
        b + "/api/v1/mail-settings/test-email", json=test_email, headers=cluster.headers
    )

    assert saved.status_code == 200, saved.text
    assert sent.status_code == 200, sent.text
    assert [m.rcpt_tos for m in sink.messages] == [("ops@example.com",)]  # the send before the change
    assert [m.rcpt_tos for m in other.messages] == [("ops@example.com",)]


async def test_without_automatic_failover_the_backups_mail_once_and_wait_for_cluster_promote(
    start_cluster: Callable[..., Any], sink: SmtpSink
) -> None:
    cluster: Cluster = await start_cluster()
    await cluster.start("node-a", ALERTMAIL_AUTOMATIC_FAILOVER="false")
    await cluster.wait_for_states(lambda s: s == {"node-a": "primary"}, via="node-a")
    await cluster.start("node-b", "node-c", ALERTMAIL_AUTOMATIC_FAILOVER="false")
    refused, said = await cluster.cli("node-b", "cluster", "promote", "--wait", "1")
    assert refused == 1 and "the primary still holds the lock" in said

    await cluster.kill("node-a")
    await wait_for_mail(sink, PROBE_FAILED_NO_FAILOVER)
    await asyncio.sleep(GRACE + 5 * HEARTBEAT)
    assert "primary" not in (await cluster.states("node-b")).values()  # nobody took over alone

    code, said = await cluster.cli("node-b", "cluster", "promote")
    assert code == 0 and "node-b is the primary" in said, said
    status_code, status = await cluster.cli("node-c", "cluster", "status")
    assert status_code == 0, status
    assert {line.split()[0]: line.split()[1] for line in status.splitlines()} == {
        "node-a": "down",
        "node-b": "primary",
        "node-c": "backup",
    }
    assert count(sink, PROBE_FAILED_NO_FAILOVER) == 1 and count(sink, BECOMING_PRIMARY) == 0, subjects(sink)


async def test_the_primary_lock_belongs_to_one_connection_and_is_free_once_that_connection_ends(
    postgres_url: str,
) -> None:
    async with Database.from_url(postgres_url) as database:
        first = PostgresPrimaryLock(postgres_url, database.engine)
        second = PostgresPrimaryLock(postgres_url, database.engine)
        try:
            assert not await first.held_by_anyone()
            assert await first.try_acquire() and await first.still_held()
            assert not await second.try_acquire() and not await second.still_held()
            assert await second.held_by_anyone()

            # The holder's session ends, as when its process is killed or its network lost, or as a
            # backup fences a hung primary: only this database's lock holders, never the caller.
            session = first.session()
            assert session is not None
            assert await second.fence(session) == 1
            assert not await first.still_held()
            for _ in range(50):
                if await second.try_acquire():
                    break
                await asyncio.sleep(0.1)
            assert await second.still_held() and not await first.try_acquire()

            await second.release()
            assert await first.try_acquire()  # a release lets the next one in at once
        finally:
            await first.release()
            await second.release()
        assert not await first.held_by_anyone()
