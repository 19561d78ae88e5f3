"""Events in, e-mails out: recording, coalescing into digests, the API, the CLI and the Python API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import alertmail
from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.domain.events import EventCatalog, EventType, UnknownEventTypeError
from alertmail.errors import SettingsValidationError
from alertmail.services.notifications import CoalescingOptions
from tests.support.app import Api, Cli
from tests.support.delivery import FakeClock, clocked_notifications, relay_changes
from tests.support.smtp import SmtpServerFactory, SmtpSink

CONTACTS = "ops@example.com oncall@example.com"


async def configure(container: Container, sink: SmtpSink | int, **changes: object) -> None:
    await container.settings.save(relay_changes(sink, **changes), actor="test")


async def test_an_event_is_mailed_at_once_to_every_admin_contact_as_one_message(
    container: Container, smtp_server: SmtpSink
) -> None:
    await configure(container, smtp_server)
    recorded = await container.notifications.raise_event(
        "failover.version_mismatch", {"primary_version": "1.4", "backup_version": "1.3"}
    )
    assert recorded.disposition == "mailed" and recorded.outbox_id is not None
    assert await container.delivery_worker.run_once() == 1
    (received,) = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["oncall@example.com", "ops@example.com"]
    parsed = received.message
    stored = await container.outbox.get(recorded.outbox_id)
    assert stored.status == "sent" and parsed["Message-ID"] == stored.message_id
    assert parsed["Subject"] == "[test-node] Failover: product version mismatch"
    assert "primary_version: 1.4" in received.content.decode()


async def test_repeats_fold_into_one_digest_that_says_how_many(container: Container) -> None:
    await configure(container, 2525)
    clock = FakeClock(datetime(2026, 11, 21, 8, 0, 5, tzinfo=UTC))
    service = clocked_notifications(container, clock)
    dispositions = []
    for n in range(25):
        clock.now += timedelta(seconds=10)
        found = await service.raise_event(
            "failover.backup_cannot_reach_test_ips", {"n": n}, dedupe_key="eth0"
        )
        dispositions.append(found.disposition)
    assert dispositions == ["mailed"] + ["coalesced"] * 24
    assert await service.flush_digests() == 0  # the window is still open
    clock.now = datetime(2026, 11, 21, 8, 10, tzinfo=UTC)  # the 08:00 window has ended
    assert await service.flush_digests() == 1
    assert await service.flush_digests() == 0  # taken once
    digests = [m for m in await container.outbox.list() if m.source == "digest"]
    assert len(digests) == 1
    assert digests[0].subject.endswith("24 more times")
    assert "n: 24" in digests[0].text  # the latest event's details
    events = await container.notifications.recent(limit=100)
    assert len(events) == 25  # every event recorded
    assert {e.outbox_id for e in events if e.disposition == "coalesced"} == {digests[0].id}


async def test_a_storm_of_distinct_keys_is_bounded_per_type(container: Container) -> None:
    await configure(container, 2525)
    clock = FakeClock(datetime(2026, 11, 21, 8, 0, 1, tzinfo=UTC))
    service = clocked_notifications(container, clock, coalescing=CoalescingOptions(max_mailed_keys=3))
    results = [await service.raise_event("test", {}, dedupe_key=f"k{n}") for n in range(8)]
    assert [r.disposition for r in results] == ["mailed"] * 3 + ["coalesced"] * 5
    clock.now += timedelta(minutes=10)
    assert await service.flush_digests() == 1
    (digest,) = [m for m in await container.outbox.list() if m.source == "digest"]
    assert "5 more times" in digest.subject


async def test_without_admin_contacts_events_are_recorded_and_not_mailed(container: Container) -> None:
    await configure(container, 2525, admin_contacts="")
    found = await container.notifications.raise_event("test", {"note": "x"})
    assert (found.disposition, found.outbox_id) == ("no_recipients", None)
    assert await container.outbox.list() == []
    assert len(await container.notifications.recent()) == 1


async def test_bad_events_are_refused_and_nothing_is_recorded(container: Container) -> None:
    await configure(container, 2525)
    with pytest.raises(UnknownEventTypeError):
        await container.notifications.raise_event("disk.full")
    with pytest.raises(SettingsValidationError):
        await container.notifications.raise_event("test", {"nested": {"a": 1}})
    assert await container.notifications.recent() == []
    assert await container.outbox.list() == []


async def test_concurrent_repeats_on_one_database_mail_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    async with open_container(config) as first, open_container(config.model_copy()) as second:
        await configure(first, 2525)
        raised = [
            node.notifications.raise_event("failover.data_sync_failed", {}, dedupe_key="db")
            for _ in range(20)
            for node in (first, second)
        ]
        results = await asyncio.gather(*raised)
    assert sorted(r.disposition for r in results).count("mailed") == 1
    assert {r.repeats for r in results} == set(range(1, 41))


# --- the REST API ---------------------------------------------------------------------------------


async def test_post_events_answers_202_and_the_outbox_shows_the_message(api: Api) -> None:
    await configure(api.container, 2525)
    answer = await api.client.post(
        "/api/v1/events", json={"type": "failover.backup_becoming_primary", "details": {"primary": "p1"}}
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["disposition"] == "mailed"
    listed = (await api.client.get("/api/v1/messages")).json()
    assert [m["id"] for m in listed["messages"]] == [body["outbox_id"]]
    detail = (await api.client.get(f"/api/v1/messages/{body['outbox_id']}")).json()
    assert "primary: p1" in detail["text"] and detail["recipients"] == CONTACTS.split()
    events = (await api.client.get("/api/v1/events")).json()
    assert events[0]["id"] == body["id"] and events[0]["details"] == {"primary": "p1"}


async def test_an_unknown_type_gets_422_with_the_known_types(api: Api) -> None:
    answer = await api.client.post("/api/v1/events", json={"type": "disk.full"})
    assert answer.status_code == 422
    body = answer.json()
    assert body["errors"] == [{"field": "type", "message": "unknown event type 'disk.full'"}]
    assert "failover.version_mismatch" in body["known_types"]


async def test_bad_details_get_422_naming_each_field(api: Api) -> None:
    answer = await api.client.post(
        "/api/v1/events", json={"type": "test", "details": {"ok": 1, "nested": {"x": 1}, "big": "x" * 5000}}
    )
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} == {"details.nested", "details.big"}
    assert (await api.client.get("/api/v1/events")).json() == []


async def test_event_types_are_listed_and_previewed(api: Api) -> None:
    kinds = (await api.client.get("/api/v1/event-types")).json()
    # One name per concept: the listing's `type` is what POST /api/v1/events takes (`name` kept).
    assert all(kind["type"] == kind["name"] for kind in kinds)
    raised = await api.client.post("/api/v1/events", json={"type": kinds[0]["type"], "details": {}})
    assert raised.status_code == 202, raised.text
    assert {"name": "daily_notice", "severity": "info"}.items() <= next(
        k for k in kinds if k["name"] == "daily_notice"
    ).items()
    preview = await api.client.post("/api/v1/event-types/failover.version_mismatch/preview")
    assert preview.status_code == 200
    assert "primary_version: 1.4.0" in preview.json()["text"]
    custom = await api.client.post(
        "/api/v1/event-types/test/preview", json={"details": {"note": "<b>bold</b>"}}
    )
    assert "&lt;b&gt;bold&lt;/b&gt;" in custom.json()["html"]
    assert (await api.client.post("/api/v1/event-types/nope/preview")).status_code == 404  # not there


async def test_a_dead_message_is_retried_by_hand_and_others_are_refused(api: Api) -> None:
    await configure(api.container, 2525)
    body = (await api.client.post("/api/v1/events", json={"type": "test"})).json()
    conflict = await api.client.post(f"/api/v1/messages/{body['outbox_id']}/retry")
    assert conflict.status_code == 409  # still queued: nothing to retry
    assert (await api.client.post("/api/v1/messages/no-such-id/retry")).status_code == 404


async def test_metrics_and_healthz(api: Api) -> None:
    await configure(api.container, 2525)
    await api.client.post("/api/v1/events", json={"type": "test"})
    text = (await api.client.get("/metrics")).text
    assert 'alertmail_events_received_total{type="test"} 1.0' in text
    assert 'alertmail_outbox_messages{status="queued"}' in text
    assert "alertmail_delivery_latency_seconds_bucket" in text
    assert 'alertmail_active_transport{transport="primary"} 1.0' in text
    assert 'alertmail_active_transport{transport="fallback"} 0.0' in text
    assert (await api.client.get("/healthz")).json() == {
        "status": "ok",
        "delivery": "ok",
        "recipients": "admin_contacts",
        "transport": "primary",
    }


async def test_the_api_needs_a_token(api: Api) -> None:
    answer = await api.client.post("/api/v1/events", json={"type": "test"}, headers={"Authorization": ""})
    assert answer.status_code == 401


# --- the CLI and the Python API -------------------------------------------------------------------


async def test_alertmail_notify_records_and_queues(cli: Cli) -> None:
    saved = await cli.run("settings", "set", "from_address=a@example.com", "hostname=127.0.0.1",
                          "port=2525", "encryption=none", f"admin_contacts={CONTACTS}")  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    done = await cli.run("notify", "failover.version_mismatch", "--detail", "primary_version=2", "-d", "x=y")
    assert done.returncode == 0, done.stderr
    assert "queued for the admin contacts" in done.stdout
    again = await cli.run("notify", "failover.version_mismatch")
    assert "digest" in again.stdout
    bad = await cli.run("notify", "disk.full")
    assert bad.returncode == 1 and "known types:" in bad.stderr
    malformed = await cli.run("notify", "test", "--detail", "novalue")
    assert malformed.returncode == 1 and "KEY=VALUE" in malformed.stderr
    listed = await cli.run("outbox", "--json")
    assert listed.returncode == 0 and listed.stdout.count('"status": "queued"') == 1
    wrong = await cli.run("outbox", "--status", "lost")
    assert wrong.returncode == 1 and "status: must be one of" in wrong.stderr


async def test_the_python_api_records_an_event_and_knows_host_types(app_config: AppConfig) -> None:
    async with open_container(app_config) as container:
        await configure(container, 2525)
    own = EventType(name="backup.failed", title="Backup failed", severity="critical",
                    summary="Last night's backup did not complete.", builtin=False)  # fmt: skip
    async with alertmail.Notifier(app_config, event_types=[own]) as notifier:
        recorded = await notifier.notify("backup.failed", {"job": "nightly"})
    assert recorded.disposition == "mailed"
    found = await asyncio.to_thread(alertmail.notify, "test", {"note": "sync"}, config=app_config)
    assert found.disposition == "mailed"
    async with open_container(app_config) as container:
        subjects = sorted(m.subject for m in await container.outbox.list())
    assert subjects == ["[test-node] Backup failed", "[test-node] Test e-mail"]


async def test_scheduler_sends_the_daily_notice_once_across_nodes(
    app_config: AppConfig, smtp_server_factory: SmtpServerFactory
) -> None:
    sink = await smtp_server_factory()
    async with open_container(app_config) as first, open_container(app_config) as second:
        await configure(first, sink, daily_notice=True, daily_notice_time="08:00")
        settings = (await first.settings.current()).settings
        for node in (first, second):
            node.scheduler._clock = lambda: datetime(2026, 11, 21, 8, 0, 30, tzinfo=UTC)  # type: ignore[method-assign]
            node.scheduler._timezone = UTC
        sent = [await node.scheduler.daily_notice(settings) for node in (first, second, first)]
        assert sent == [True, False, False]
        assert await first.delivery_worker.run_once() == 1
    (received,) = sink.messages
    assert b"daily communication notice" in received.content


def test_the_catalog_names_no_type_twice() -> None:
    names = [kind.name for kind in EventCatalog.default()]
    assert len(names) == len(set(names))
