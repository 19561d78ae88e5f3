"""Stuck is visible, old is purged: /healthz `degraded` with counts, and the daily purge.

On SQLite and PostgreSQL. Messages go through the outbox's own claim and finish calls, with the
times a long-running appliance would have seen; the housekeeping runs on a clock of the test's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from alertmail.adapters.storage.retention_repository import SqlRetentionRepository
from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.domain.outbox import WaitingFor
from alertmail.domain.records import MailLogEntry
from alertmail.interfaces.api.app import create_app
from alertmail.services.housekeeping import Housekeeping, RetentionOptions
from tests.support.delivery import FakeClock, clocked_notifications, outbox_of, queue_messages, relay_changes

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def container(database_url: str, tmp_path: Path) -> AsyncIterator[Container]:
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    async with open_container(config) as opened:
        await opened.settings.save(relay_changes(2525, admin_contacts=["ops@example.com"]), actor="t")
        yield opened


async def finish(container: Container, at: datetime, count: int, **failure: object) -> None:
    """Queue `count` messages at `at` and end their first attempt: sent, or with `failure`."""
    outbox = outbox_of(container)
    queued = await queue_messages(container, count, now=at)
    claimed = await outbox.claim("old-worker", at, timedelta(minutes=2), limit=count)
    assert {m.id for m in claimed} == {m.id for m in queued}
    for message in claimed:
        if failure:
            await outbox.mark_failed(message.id, "old-worker", now=at, last_error="x", **failure)  # type: ignore[arg-type]
        else:
            await outbox.mark_sent(message.id, "old-worker", at)


def log_entry(at: datetime) -> MailLogEntry:
    return MailLogEntry(at, "password", "error", "smtp_auth", False, "refused", "fix it", {})


async def test_old_records_are_purged_and_what_still_matters_is_kept(container: Container) -> None:
    await finish(container, NOW - timedelta(days=40), 3)  # sent long ago: purged
    await finish(container, NOW - timedelta(days=2), 2)  # sent lately: kept
    await finish(
        container, NOW - timedelta(days=40), 1, status="dead", next_attempt_at=None, last_category="smtp_auth"
    )
    events = clocked_notifications(container, FakeClock(NOW - timedelta(days=40)))
    await events.raise_event("test", {"n": 1})
    await container.notifications.raise_event("test", {"n": 2}, dedupe_key="recent")
    for days in (200, 100):
        await container.sending.record(log_entry(NOW - timedelta(days=days)))

    housekeeping = Housekeeping(
        SqlRetentionRepository(container.database.sessionmaker), RetentionOptions(), clock=lambda: NOW
    )
    purged = await housekeeping.purge_daily()

    assert purged is not None
    assert (purged["sent_messages"], purged["events"], purged["mail_server_logs"]) == (3, 1, 1)
    counts = await container.outbox.counts()
    assert (counts["sent"], counts["dead"]) == (2, 1)  # dead-lettered mail waits for a person
    (kept,) = await container.notifications.recent()
    assert kept.event.details["n"] == 2
    assert len(await container.mail_logs.list()) == 1
    assert await housekeeping.purge_daily() is None  # once a day


async def test_healthz_is_degraded_with_counts_while_mail_waits_too_long(container: Container) -> None:
    now = datetime.now(UTC)
    # Held on the configuration in force, as a worker holds them: the app's own worker, starting in
    # the lifespan below, must not release them (it releases only what waits on an older one).
    in_force = WaitingFor((await container.settings.current()).version, None)
    held = {"next_attempt_at": None, "last_category": "smtp_auth", "waiting_for": in_force}
    later = {"next_attempt_at": now + timedelta(hours=1), "last_category": "smtp_throttled"}
    await finish(container, now - timedelta(hours=3), 2, status="waiting_config", **held)
    await finish(container, now - timedelta(hours=2), 1, status="retry_wait", **later)
    await finish(container, now - timedelta(minutes=5), 1, status="retry_wait", **later)

    app = create_app(container.config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alertmail.test") as client:
            answer = await client.get("/healthz")
    assert answer.status_code == 200
    health = answer.json()
    assert health["status"] == "degraded"
    assert health["stuck"] == {"waiting_config": 2, "retry_wait": 1}  # the recent one is not stuck yet
