"""The chaos test: delivery against a relay that answers every command from a random script, with
workers crashing at random moments, on SQLite and PostgreSQL.

Hypothesis draws, for each example: a script for the relay (tests/support/chaos_relay.py: 2xx,
4xx, 5xx or 421 at the greeting, EHLO, MAIL, each RCPT, DATA and the end of the data; connections
dropped before or after the final reply; delays), 5 to 12 messages to three recipients, and the
moments (counted in relay commands) at which the running workers crash. Two workers run at once.
A crash cancels them wherever they are, as SIGKILL would (nothing is recorded after it), and new
workers start once the crashed ones' leases have expired. Once its script is used up the relay
answers well; an administrator saves the settings whenever messages wait for a configuration
change (what a 5xx at the greeting or a refused sender asks for).

Invariants:
- no exception escapes a worker, and none is an `internal` failure;
- a recipient gets a message more than once only when an earlier copy was taken by the relay
  without the client hearing so (dropped after the end of DATA, before the reply) or was sent by a
  worker that crashed before recording it; each such duplicate is counted by its cause;
- once the relay heals, every message ends `sent` or `dead`, none stuck; a recipient recorded as
  delivered got at least one copy;
- every message that failed has a Mail Server Logs entry naming it, and every recipient given up
  has one naming the message.

`--chaos-examples N` runs N examples per database (default 12, about a minute for both). The
figures are printed at the end (`-s` shows them). An example that runs longer than
`EXAMPLE_TIMEOUT` fails, naming its scenario, instead of hanging CI; Hypothesis then shrinks
without running the others again (each would fail the same way at once).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from sqlalchemy import event, make_url
from sqlalchemy.exc import OperationalError

from alertmail.adapters.secret_box import FernetSecretBox
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.outbox_repository import SqlOutboxRepository
from alertmail.adapters.storage.pacing_repository import SqlPacingRepository
from alertmail.adapters.storage.repositories import SqlMailLogRepository, SqlSettingsRepository
from alertmail.composition import Container, open_container
from alertmail.config import AppConfig, to_async_url
from alertmail.domain.outbox import OutboxMessage, RetryPolicy
from alertmail.domain.ports import MailTransport
from alertmail.domain.records import MailLogEntry
from alertmail.services.delivery import DeliveryOptions, DeliveryWorker
from alertmail.services.sending import MailSendingService
from tests.support.chaos_relay import ANSWERS, ChaosRelay, Copy
from tests.support.database import DATABASES, postgres_admin_url
from tests.support.delivery import FakeClock, queue_messages, relay_changes
from tests.support.delivery_checks import statuses

RECIPIENTS = ("ops@example.com", "oncall@example.com", "lead@example.com")
POLICY = RetryPolicy(first_delay=timedelta(seconds=10), max_delay=timedelta(minutes=5))
LEASE = timedelta(seconds=30)
WORKERS = 2
MAX_ROUNDS = 150
# Seconds. An example takes 1 to 5 s; on SQLite, statements of workers cancelled by a simulated
# crash can hold the write lock until the busy timeout, and a few of those add up (a replay of a CI
# "hang" took 51 s with 8 of them): the limit catches a real hang, not that.
EXAMPLE_TIMEOUT = 180.0

# "ok" first and most often: Hypothesis shrinks a failing script towards a well-behaved relay.
answers = st.sampled_from(["ok"] * 3 + list(ANSWERS[1:]))


@dataclass(frozen=True)
class Scenario:
    script: list[str]
    messages: int
    crashes: list[int]  # relay commands answered when the running workers crash


scenarios = st.builds(
    Scenario,
    script=st.lists(answers, min_size=10, max_size=80),
    messages=st.integers(min_value=5, max_value=12),
    crashes=st.lists(st.integers(min_value=1, max_value=150), max_size=3).map(sorted),
)


@dataclass
class Figures:
    examples: int = 0
    messages: int = 0
    crashes: int = 0
    locked: int = 0  # SQLite "database is locked" after a crash, tried again
    duplicates: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    hung: str | None = None  # the first example that ran out of time, and its scenario


async def within_timeout(playing: Coroutine[Any, Any, None], scenario: Scenario, figures: Figures) -> None:
    """Play one example, failing it (not the whole run, hanging) after `EXAMPLE_TIMEOUT` seconds."""
    try:
        await asyncio.wait_for(playing, EXAMPLE_TIMEOUT)
    except TimeoutError:
        figures.hung = f"a chaos example hung for over {EXAMPLE_TIMEOUT:g} s: {scenario}"
        raise AssertionError(figures.hung) from None


@pytest.mark.timeout(0)  # bounded by the number of examples, not by the clock
@pytest.mark.parametrize("kind", DATABASES)
def test_chaos_every_message_ends_sent_or_dead_and_duplicates_have_a_cause(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    examples: int = request.config.getoption("--chaos-examples")
    figures = Figures()
    started = time.monotonic()

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(scenario=scenarios)
    def example(scenario: Scenario) -> None:
        if figures.hung is not None:
            raise AssertionError(figures.hung)  # one hang is enough: shrinking needs no more
        with example_database(kind, tmp_path) as url:
            asyncio.run(
                within_timeout(play(scenario, url, tmp_path / uuid.uuid4().hex, figures), scenario, figures)
            )

    example()
    print(
        f"\nchaos [{kind}]: {figures.examples} examples, {figures.messages} messages to "
        f"{len(RECIPIENTS)} recipients, {figures.crashes} worker crashes "
        f"({figures.locked} database-locked retries), duplicates by cause "
        f"{dict(figures.duplicates) or 'none'}, outcomes {dict(figures.outcomes)}, "
        f"{time.monotonic() - started:.1f} s"
    )


async def test_an_example_that_hangs_fails_naming_its_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "EXAMPLE_TIMEOUT", 0.05)
    figures = Figures()
    scenario = Scenario(script=["ok"], messages=5, crashes=[])
    with pytest.raises(AssertionError, match=r"hung for over 0.05 s: Scenario\(script=\['ok'\]"):
        await within_timeout(asyncio.Event().wait(), scenario, figures)
    assert figures.hung is not None and "messages=5" in figures.hung


# --- one example ------------------------------------------------------------------------------------


async def play(scenario: Scenario, url: str, data_dir: Path, figures: Figures) -> None:
    relay = await ChaosRelay(scenario.script).start()
    config = AppConfig(data_dir=data_dir, database_url=url, node_name="chaos-node")
    try:
        async with open_container(config) as container:
            run = _Run(container, relay, FakeClock())
            await container.settings.save(
                relay_changes(relay.port, connect_timeout=5, max_connections=2), actor="chaos"
            )
            queued = await queue_messages(
                container, scenario.messages, recipients=RECIPIENTS, now=run.clock()
            )
            await run.until_settled(queued, list(scenario.crashes))
            final = await statuses(container, queued)
            await check_mail_server_logs(container, final)
    finally:
        await relay.stop()
    figures.examples += 1
    figures.messages += len(queued)
    figures.crashes += run.crashes
    figures.locked += len(run.locked)
    assert not run.locked or (run.crashes and url.startswith("sqlite")), run.locked
    figures.duplicates.update(duplicates_by_cause(relay.copies, run.unrecorded))
    figures.outcomes.update(m.status for m in final)
    check_delivered_got_a_copy(final, relay.copies)


class _Process:
    """The workers of one process: their own database connections, which die with them."""

    def __init__(self, container: Container, clock: FakeClock) -> None:
        self._database = Database.from_url(container.config.resolved_database_url)
        self._connections: list[Any] = []
        event.listen(self._database.engine.sync_engine, "connect", self._connected)
        sessions = self._database.sessionmaker
        box = FernetSecretBox.from_key_file(container.config.resolved_secret_key_file)
        transports: dict[str, MailTransport] = {"smtp": SmtpTransport()}
        sending = MailSendingService(transports, SqlMailLogRepository(sessions), _NoLogFile(), node="chaos")
        self.workers = [
            DeliveryWorker(
                SqlOutboxRepository(sessions, dialect=self._database.dialect),
                SqlSettingsRepository(sessions, box),
                transports,
                sending,
                pacing=SqlPacingRepository(sessions, dialect=self._database.dialect),
                policy=POLICY,
                node="chaos",
                options=DeliveryOptions(batch_size=5, lease=LEASE, pacing_poll=0.05),
                clock=clock,
                random_fraction=lambda: 0.5,
            )
            for _ in range(WORKERS)
        ]

    def _connected(self, dbapi_connection: Any, _record: object) -> None:
        self._connections.append(dbapi_connection)

    async def kill(self) -> None:
        """As SIGKILL: relay connections close without QUIT; the database rolls back what was open."""
        for worker in self.workers:
            await worker._pacing.abandon()  # its token renewals die with it
            for lane in worker._lanes.first(99):
                if lane.session is not None:
                    lane.session._client.close()  # type: ignore[attr-defined]
        for connection in self._connections:
            with suppress(Exception):
                await connection.driver_connection.close()
        with suppress(Exception):
            await self._database.dispose()

    async def stop(self) -> None:
        for worker in self.workers:
            await worker.close()
        await self._database.dispose()


class _NoLogFile:
    """Mail Server Logs without the file: the table is what the invariants read."""

    def write(self, entry: MailLogEntry) -> None: ...


class _Run:
    """Workers, crashes and the administrator, driven round by round on a fake clock."""

    def __init__(self, container: Container, relay: ChaosRelay, clock: FakeClock) -> None:
        self.container = container
        self.relay = relay
        self.clock = clock
        self.crashes = 0
        self.unrecorded: set[Copy] = set()  # copies sent by workers that crashed before recording them
        self._saves = 0
        self._commands = 0  # relay commands answered by the end of the last round
        self.locked: list[OperationalError] = []

    async def until_settled(self, queued: Sequence[OutboxMessage], crashes: list[int]) -> None:
        process = _Process(self.container, self.clock)
        try:
            for _ in range(MAX_ROUNDS):
                if await self._round(process.workers, crashes[0] if crashes else None):
                    crashes.pop(0)
                    await self._crash(process, queued)
                    process = _Process(self.container, self.clock)
                    continue
                held = await statuses(self.container, queued)
                if all(m.status in {"sent", "dead"} for m in held):
                    return
                await self._move_on(held)
        finally:
            await process.stop()
        stuck = Counter(m.status for m in await statuses(self.container, queued))
        raise AssertionError(f"messages stuck after the relay healed: {stuck}")

    async def _round(self, workers: list[DeliveryWorker], crash_at: int | None) -> bool:
        """Every worker runs until it finds nothing to do; True when they crashed on the way."""
        running = [asyncio.create_task(_until_idle(worker, self.locked)) for worker in workers]
        crashed = False
        while not all(task.done() for task in running):
            if crash_at is not None and self.relay.commands >= crash_at:
                crashed = True
                for task in running:
                    task.cancel()
                break
            await asyncio.sleep(0.002)
        for outcome in await asyncio.gather(*running, return_exceptions=True):
            if isinstance(outcome, BaseException) and not (
                crashed and isinstance(outcome, asyncio.CancelledError)
            ):
                raise AssertionError("an exception escaped a delivery worker") from outcome
        return crashed

    async def _crash(self, process: _Process, queued: Sequence[OutboxMessage]) -> None:
        """Kill the process, note what its workers sent and never recorded, move past the lease."""
        await process.kill()
        held = await statuses(self.container, queued)
        recorded = {(m.message_id, r) for m in held for r in m.delivered_recipients}
        generation = self.relay.generation
        self.unrecorded |= {
            copy
            for copy in self.relay.copies
            if copy.generation == generation
            and copy.acknowledged
            and (copy.message_id, copy.recipient) not in recorded
        }
        self.crashes += 1
        self.relay.generation += 1
        self.clock.advance(LEASE + timedelta(seconds=1))

    async def _move_on(self, held: Sequence[OutboxMessage]) -> None:
        """The administrator saves the settings if messages wait for that; time moves to the next retry."""
        if any(m.status == "waiting_config" for m in held):
            self._saves += 1
            await self.container.settings.save(
                {"connect_timeout": 5 + self._saves % 2}, actor="administrator"
            )
        due = [m.next_attempt_at for m in held if m.status == "retry_wait" and m.next_attempt_at is not None]
        # A worker holding the relay may wait past a message's own retry time: time moves on.
        self.clock.advance(
            timedelta(minutes=1) if self.relay.commands == self._commands else timedelta(seconds=1)
        )
        self._commands = self.relay.commands
        if due:
            self.clock.move_to(min(due))


async def _until_idle(worker: DeliveryWorker, locked: list[OperationalError]) -> None:
    """`run_forever` without the waiting: a batch that failed is tried again, as it does. Only
    SQLite's "database is locked" is let through, and counted: a statement of a worker cancelled
    by a crash can hold SQLite's write lock past the busy timeout (an artefact of crashing workers
    inside one process; a killed process's lock dies with it)."""
    while True:
        try:
            if not await worker.run_once():
                # Idle: its connections close and their tokens go back to the other workers (as
                # `run_forever` does after `idle_close`).
                await worker.close()
                return
        except OperationalError as error:
            if "database is locked" not in str(error):
                raise
            locked.append(error)


# --- the invariants -----------------------------------------------------------------------------


def duplicates_by_cause(copies: Sequence[Copy], unrecorded: set[Copy]) -> Counter[str]:
    """Each extra copy of a message to a recipient, by the cause of the copy before it; fails on
    a copy that follows one the relay acknowledged and the worker recorded."""
    by_recipient: defaultdict[tuple[str, str], list[Copy]] = defaultdict(list)
    for copy in copies:
        by_recipient[copy.message_id, copy.recipient].append(copy)
    causes: Counter[str] = Counter()
    for key, sent in by_recipient.items():
        for earlier in sent[:-1]:
            if not earlier.acknowledged:
                causes["dropped after DATA, before the reply"] += 1
            elif earlier in unrecorded:
                causes["worker crashed before recording"] += 1
            else:
                raise AssertionError(f"{key} was sent again after an acknowledged, recorded copy: {sent}")
    return causes


def check_delivered_got_a_copy(final: Sequence[OutboxMessage], copies: Sequence[Copy]) -> None:
    got = {(copy.message_id, copy.recipient) for copy in copies}
    for message in final:
        for recipient in message.delivered_recipients:
            assert (message.message_id, recipient) in got, (message, recipient)


async def check_mail_server_logs(container: Container, final: Sequence[OutboxMessage]) -> None:
    entries = await container.mail_logs.list(limit=1000)
    assert not [entry for entry in entries if entry.category == "internal"], entries
    contexts = [entry.context for entry in entries]
    for message in final:
        named = [context for context in contexts if context.startswith(f"outbox {message.id} ")]
        if message.last_error:
            assert named, f"no Mail Server Logs entry for the failure of {message}"
        for recipient in message.undelivered_recipients:
            assert any(context.endswith(f"to {recipient}") or " to " not in context for context in named), (
                f"no Mail Server Logs entry for {recipient} of {message}"
            )


# --- a fresh database per example ---------------------------------------------------------------------


@contextmanager
def example_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / uuid.uuid4().hex / 'alertmail.db'}"
        return
    admin_url = postgres_admin_url()
    name = f"alertmail_chaos_{uuid.uuid4().hex}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield to_async_url(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
