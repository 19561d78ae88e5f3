"""The fallback transport against two real aiosmtpd relays, on SQLite and PostgreSQL (issue #16).

The primary refuses connections; once it has failed relay-wide for `fallback_after_minutes` (on a
fake clock), queued and new messages go through the fallback, the administrators get exactly one
"fallback in use" e-mail through it, a probe of the primary that fails changes nothing, and once
the primary listens again the next probe brings mail back to it with exactly one "primary restored"
e-mail. No message is lost or sent twice. A recipient the primary refuses never starts the fallback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import trustme

from alertmail.adapters.storage.transport_state_repository import SqlTransportStateRepository
from alertmail.composition import Container
from alertmail.config import AppConfig
from alertmail.domain.fallback import PrimaryFailure, TransportSwitch
from alertmail.domain.outbox import RetryPolicy
from tests.support.delivery import DeliverySink, FakeClock, Sinks, queue_messages, relay_changes
from tests.support.delivery_checks import drain, statuses
from tests.support.fallback import (
    FALLBACK_STARTED,
    PRIMARY_RESTORED,
    PROBE_EVERY,
    clocked_fallback,
    fallback_changes,
)
from tests.support.smtp import server_context, user_unknown

BACKOFF = RetryPolicy(first_delay=timedelta(seconds=20), max_delay=timedelta(seconds=40), jitter=0)
THRESHOLD = timedelta(minutes=2)


@pytest.fixture
def app_config(tmp_path: Path, database_url: str) -> AppConfig:
    return AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="test-node")


@pytest.fixture
async def sinks(tls_server_cert: trustme.LeafCert) -> AsyncIterator[Sinks]:
    async with Sinks(server_context(tls_server_cert)) as started:
        yield started


async def fallback_to_a_new_relay(
    container: Container, sinks: Sinks, refused_port: int, *, after_minutes: int
) -> DeliverySink:
    """A fresh fallback relay, saved behind a primary that refuses connections; the relay."""
    relay = await sinks.start()
    changes = fallback_changes(refused_port, relay, fallback_after_minutes=after_minutes)
    await container.settings.save(changes, actor="test")
    return relay


def titled(sink: DeliverySink, title: str) -> list[str]:
    subjects = [str(received.message["Subject"]) for received in sink.messages]
    return [subject for subject in subjects if subject.endswith("] " + title)]


async def test_a_refused_primary_hands_over_to_the_fallback_and_mail_comes_back_after_a_probe(
    container: Container, sinks: Sinks, refused_port: int
) -> None:
    clock = FakeClock()
    fallback_relay = await fallback_to_a_new_relay(container, sinks, refused_port, after_minutes=2)
    first = await queue_messages(container, 5, now=clock())
    clocked = clocked_fallback(container, clock, BACKOFF)
    try:
        await clocked.worker.run_once()  # refused: the primary's run of failures starts now
        started = clock()
        state = await clocked.fallback.state()
        assert (state.active, state.primary_failing_since) == ("primary", started)
        assert state.failure is not None and state.failure.category == "connect_refused"

        clock.advance(THRESHOLD - timedelta(seconds=1))
        assert await clocked.worker.run_once() == 5  # past the backoff, short of the threshold: refused
        assert (await clocked.fallback.state()).active == "primary"
        assert fallback_relay.messages == []

        clock.advance(timedelta(seconds=1))  # two minutes of failures, without a break
        await drain(clocked.worker, container)
        state = await clocked.fallback.state()
        assert (state.active, state.active_since) == ("fallback", clock())
        assert {m.status for m in await statuses(container, first)} == {"sent"}
        assert {m.transport for m in await statuses(container, first)} == {"fallback"}
        [notice] = titled(fallback_relay, FALLBACK_STARTED)
        [received] = [r for r in fallback_relay.messages if str(r.message["Subject"]) == notice]
        text = received.content.decode()
        assert "connect_refused" in text and "Connection refused" in text
        assert started.strftime("%Y-%m-%d %H:%M:%S UTC") in text
        assert set(received.rcpt_tos) == {"ops@example.com", "oncall@example.com"}

        # while on the fallback, new messages go there too, and a failed probe changes nothing
        during = await queue_messages(container, 3, now=clock())
        await drain(clocked.worker, container)
        assert {m.transport for m in await statuses(container, during)} == {"fallback"}
        assert await clocked.fallback.probe_if_due() is None  # the first probe is due later
        clock.advance(PROBE_EVERY)
        assert await clocked.fallback.probe_if_due() is False
        assert await clocked.fallback.probe_if_due() is None  # one probe per interval
        assert (await clocked.fallback.state()).active == "fallback"

        primary_relay = await sinks.start(port=refused_port)  # the primary is back
        clock.advance(PROBE_EVERY / 2)
        assert await clocked.fallback.probe_if_due() is None  # the next probe is not due yet...
        await container.settings.save({"connect_timeout": 6}, actor="test")
        assert await clocked.fallback.probe_if_due() is True  # ...but a save (a fix?) is probed at once
        assert (await clocked.fallback.state()).active == "primary"
        assert primary_relay.messages == []  # the probe authenticates at most: no message
        after = await queue_messages(container, 2, now=clock())
        await drain(clocked.worker, container)
        assert {m.transport for m in await statuses(container, after)} == {"primary"}

        assert len(titled(fallback_relay, FALLBACK_STARTED)) == 1
        assert titled(primary_relay, FALLBACK_STARTED) == []
        assert len(titled(primary_relay, PRIMARY_RESTORED)) == 1
        assert titled(fallback_relay, PRIMARY_RESTORED) == []
        everything = [*first, *during, *after]
        ids = fallback_relay.message_ids + primary_relay.message_ids
        assert all(ids[m.message_id] == 1 for m in everything)  # none lost, none twice
        assert fallback_relay.duplicates == primary_relay.duplicates == 0
        switches = await container.mail_logs.list(category="fallback")  # newest first
        assert [entry.status for entry in switches] == ["info", "warning"]
        assert "passed its probe" in switches[0].message
        assert state.failure is not None and "connect_refused" in switches[1].message
        assert switches[1].hint == state.failure.hint
    finally:
        await clocked.close()


@pytest.mark.parametrize(
    "refusal", [user_unknown("gone@example.com"), "450 4.2.1 <gone@example.com>: Mailbox busy, try later"]
)
async def test_a_recipient_refused_by_the_primary_never_starts_the_fallback(
    container: Container, sinks: Sinks, refusal: str
) -> None:
    clock = FakeClock()
    primary_relay = await sinks.start(rcpt_replies={"gone@example.com": refusal})
    fallback_relay = await sinks.start()
    await container.settings.save(
        fallback_changes(primary_relay, fallback_relay, fallback_after_minutes=1), actor="test"
    )
    # The primary had just failed for the whole relay (say, a restart of its mail service): the
    # recipient's refusal that follows shows it answering again, which ends that run of failures.
    failure = PrimaryFailure("connect_refused", "Connection refused", "Start the relay.")
    await SqlTransportStateRepository(container.database.sessionmaker).primary_failed(
        clock(), failure, THRESHOLD
    )
    clocked = clocked_fallback(container, clock, BACKOFF)
    try:
        for _ in range(4):
            await queue_messages(container, 2, now=clock(), recipients=("gone@example.com",))
            while await clocked.worker.run_once():  # the refusals, then any dead-letter notice
                pass
            clock.advance(timedelta(minutes=1))  # past the retries' backoff, and the threshold
        state = await clocked.fallback.state()
        assert (state.active, state.primary_failing_since) == ("primary", None)
        assert fallback_relay.connections == 0
        assert len([r for r in primary_relay.commands if r.verb == "RCPT"]) >= 8  # refused each round
        # the one recipient was refused each time; only dead-letter notices (550) reached the contacts
        assert all("gone@example.com" not in received.rcpt_tos for received in primary_relay.messages)
    finally:
        await clocked.close()


async def test_switching_the_fallback_off_brings_mail_back_to_the_primary_and_says_so(
    container: Container, sinks: Sinks
) -> None:
    clock = FakeClock()
    primary_relay = await sinks.start()
    fallback_relay = await sinks.start()
    await container.settings.save(fallback_changes(primary_relay, fallback_relay), actor="test")
    state = SqlTransportStateRepository(container.database.sessionmaker)
    assert await state.switch(TransportSwitch("fallback", clock(), expected_generation=0))
    clocked = clocked_fallback(container, clock, BACKOFF)
    try:
        [on_fallback] = await queue_messages(container, 1, now=clock())
        await drain(clocked.worker, container)
        await container.settings.save({"fallback_email_type": "none"}, actor="test")
        [on_primary] = await queue_messages(container, 1, now=clock())
        await drain(clocked.worker, container)
        assert [m.transport for m in await statuses(container, [on_fallback, on_primary])] == [
            "fallback",
            "primary",
        ]
        assert (await state.load()).active == "primary"
        [entry] = await container.mail_logs.list(category="fallback")
        assert "switched off" in entry.message
    finally:
        await clocked.close()


async def test_the_local_mta_can_be_the_fallback(
    container: Container, tmp_path: Path, refused_port: int
) -> None:
    clock = FakeClock()
    spool = tmp_path / "spool"
    spool.mkdir()
    program = tmp_path / "sendmail"
    program.write_text(f'#!/bin/sh\ncat > "$(mktemp -p {spool} mail.XXXXXX)"\n')
    program.chmod(0o755)
    await container.settings.save(
        relay_changes(refused_port, fallback_email_type="native", fallback_after_minutes=1), actor="test"
    )
    queued = await queue_messages(container, 2, now=clock())
    clocked = clocked_fallback(container, clock, BACKOFF, sendmail=str(program))
    try:
        await clocked.worker.run_once()  # refused by the primary relay
        clock.advance(timedelta(minutes=1))
        await drain(clocked.worker, container)
        assert {m.transport for m in await statuses(container, queued)} == {"fallback"}
        subjects = sorted(
            str(message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"])
            for path in spool.iterdir()
        )
        assert subjects[:2] == ["Alert 0", "Alert 1"] and subjects[2].endswith("] " + FALLBACK_STARTED)
        assert len(subjects) == 3
    finally:
        await clocked.close()


async def test_a_worker_restarted_after_the_threshold_sends_what_the_primary_held_at_once(
    container: Container, sinks: Sinks, refused_port: int
) -> None:
    clock = FakeClock()
    fallback_relay = await fallback_to_a_new_relay(container, sinks, refused_port, after_minutes=1)
    held = await queue_messages(container, 3, now=clock())
    long_backoff = RetryPolicy(first_delay=timedelta(minutes=10), max_delay=timedelta(minutes=30), jitter=0)
    before = clocked_fallback(container, clock, long_backoff)
    try:
        await before.worker.run_once()  # refused: each message now waits 10 minutes
    finally:
        await before.close()
    clock.advance(timedelta(minutes=1))
    after = clocked_fallback(container, clock, long_backoff)  # a restart, past the threshold
    try:
        await drain(after.worker, container)  # no clock move: what was held goes now
        assert {m.transport for m in await statuses(container, held)} == {"fallback"}
        assert all(fallback_relay.message_ids[m.message_id] == 1 for m in held)
    finally:
        await after.close()


async def test_a_failure_hours_ago_with_nothing_tried_since_does_not_send_the_next_message_to_the_fallback(
    container: Container, sinks: Sinks, refused_port: int
) -> None:
    clock = FakeClock()
    fallback_relay = await fallback_to_a_new_relay(container, sinks, refused_port, after_minutes=2)
    # One relay-wide failure three hours ago, and no mail since (the primary is still down).
    failure = PrimaryFailure("connect_refused", "Connection refused", "Start the relay.")
    state = SqlTransportStateRepository(container.database.sessionmaker)
    await state.primary_failed(clock() - timedelta(hours=3), failure, THRESHOLD)
    clocked = clocked_fallback(container, clock, BACKOFF)
    try:
        [message] = await queue_messages(container, 1, now=clock())
        await clocked.worker.run_once()  # the primary is tried first: a new run starts now
        current = await clocked.fallback.state()
        assert (current.active, current.primary_failing_since) == ("primary", clock())
        assert fallback_relay.connections == 0
        assert [m.status for m in await statuses(container, [message])] == ["retry_wait"]

        for _ in range(4):  # the new run goes on without a break: after the threshold, the fallback
            clock.advance(THRESHOLD / 4)
            while await clocked.worker.run_once():
                pass
        assert (await clocked.fallback.state()).active == "fallback"
        assert [m.transport for m in await statuses(container, [message])] == ["fallback"]
        assert len(titled(fallback_relay, FALLBACK_STARTED)) == 1
    finally:
        await clocked.close()
