"""The event catalog, detail validation, coalescing buckets, the daily-notice clock and the templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.adapters.event_renderer import JinjaEventRenderer
from alertmail.adapters.event_types_file import EventTypesFileError, load_event_types
from alertmail.domain.events import (
    MAX_DETAILS_BYTES,
    Digest,
    DigestWindow,
    Event,
    EventCatalog,
    EventType,
    UnknownEventTypeError,
    coalescing_bucket,
    validate_dedupe_key,
    validate_details,
)
from alertmail.domain.schedule import daily_notice_due
from alertmail.errors import SettingsValidationError

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds"

# Seed 004's failover e-mails, one catalog type each, and a phrase of the seed's sentence.
FAILOVER = {
    "failover.version_mismatch": "product version on the primary node does not match",
    "failover.shared_ip_interface_disabled": "its network interface is not enabled",
    "failover.shared_ip_not_assigned": "is not listed as an IP address",
    "failover.backup_cannot_reach_primary_nor_test_ips": "could not contact the primary node, and it also",
    "failover.backup_cannot_reach_test_ips": "could not contact any of the test IP addresses",
    "failover.backup_operations_disabled": "backup operations are disabled",
    "failover.backup_self_probe_failed": "failed to perform a probe of itself",
    "failover.backup_cannot_reach_primary_by_hostname": "using the primary node's hostname",
    "failover.primary_probe_failed_failover_disabled": "Automatic failover is disabled",
    "failover.primary_probe_failed_failover_enabled": "will automatically become the primary node",
    "failover.backup_becoming_primary": "is automatically becoming the primary node",
    "failover.data_sync_failed": "failed to perform a data sync",
}


def test_the_catalog_has_every_e_mail_of_the_seeds_and_alertmails_own() -> None:
    catalog = EventCatalog.default()
    names = {kind.name for kind in catalog}
    assert set(FAILOVER) <= names
    assert {"test", "daily_notice", "oauth.token_expiring", "oauth.reauthorization_required"} <= names
    assert "delivery.dead_lettered" in names
    for name, phrase in FAILOVER.items():
        assert phrase in catalog.get(name).summary, name


@pytest.mark.skipif(not SEED.is_dir(), reason="the seeds are in ../shared/seeds beside the checkout")
def test_failover_summaries_are_the_seeds_sentences() -> None:
    seed = " ".join(next(SEED.glob("004_*")).read_text(encoding="utf-8").split())
    for name, phrase in FAILOVER.items():
        assert phrase in seed, f"{name}: {phrase!r} is not the seed's wording"


def test_an_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownEventTypeError) as raised:
        EventCatalog.default().get("disk.full")
    assert "failover.version_mismatch" in raised.value.known
    assert "known types:" in str(raised.value)


def test_host_types_are_added_but_cannot_replace_a_builtin_one() -> None:
    catalog = EventCatalog.default()
    catalog.register(EventType(name="backup.failed", title="Backup failed", severity="critical",
                               summary="The backup failed.", builtin=False))  # fmt: skip
    assert catalog.get("backup.failed").title == "Backup failed"
    with pytest.raises(ValueError, match="built-in"):
        catalog.register(EventType(name="test", title="t", severity="info", summary="s", builtin=False))


@pytest.mark.parametrize(
    ("name", "severity"), [("Bad Name", "info"), ("ok.name", "urgent"), ("x" * 65, "info")]
)
def test_event_type_names_and_severities_are_checked(name: str, severity: str) -> None:
    with pytest.raises(ValueError, match="event type"):
        EventType(name=name, title="t", severity=severity, summary="s")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ("text", "details"),
        ({"nested": {"a": 1}}, "details.nested"),
        ({"list": [1, 2]}, "details.list"),
        ({"bad key!": 1}, "details.bad key!"),
        ({"long": "x" * 4001}, "details.long"),
        ({f"k{i}": i for i in range(51)}, "details"),
    ],
)
def test_bad_details_name_the_field(details: object, field: str) -> None:
    with pytest.raises(SettingsValidationError) as raised:
        validate_details(details)
    assert field in {e.field for e in raised.value.errors}


def test_details_are_limited_in_total_size() -> None:
    details = {f"k{i}": "x" * 4000 for i in range(5)}
    with pytest.raises(SettingsValidationError, match=str(MAX_DETAILS_BYTES)):
        validate_details(details)


# Any text but NUL, which PostgreSQL cannot store (#13 item 10: refused, see the test below).
scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(st.characters(exclude_characters="\x00"), max_size=50)
)
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(st.dictionaries(keys, scalar, max_size=20))
def test_flat_scalar_details_are_accepted_as_they_are(details: dict[str, object]) -> None:
    assert validate_details(details) == details


@given(st.text(max_size=20), st.text(max_size=20))
def test_a_nul_anywhere_in_a_detail_value_is_refused_naming_it(before: str, after: str) -> None:
    with pytest.raises(SettingsValidationError) as caught:
        validate_details({"note": f"{before}\x00{after}"})
    assert [error.field for error in caught.value.errors] == ["details.note"]


def test_dedupe_keys_are_bounded_and_printable() -> None:
    assert validate_dedupe_key(None) == ""
    assert validate_dedupe_key("eth1") == "eth1"
    for bad in ("x" * 201, "a\nb"):
        with pytest.raises(SettingsValidationError, match="dedupe_key"):
            validate_dedupe_key(bad)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=24 * 60))  # fmt: skip
def test_a_moment_falls_inside_its_bucket_and_every_node_agrees(at: datetime, minutes: int) -> None:
    window = timedelta(minutes=minutes)
    start, end = coalescing_bucket(at, window)
    assert start <= at < end
    assert end - start == window
    assert coalescing_bucket(start, window) == (start, end)  # a fixed grid, not relative to `at`


def test_the_daily_notice_is_due_from_its_time_for_the_grace_period_in_the_appliance_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    grace = timedelta(hours=1)
    at_eight = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # 08:00 in Paris (UTC+1 in November)
    assert daily_notice_due(at_eight, "08:00", paris, grace) == at_eight.date()
    assert daily_notice_due(at_eight + timedelta(minutes=59), "08:00", paris, grace) is not None
    assert daily_notice_due(at_eight - timedelta(seconds=1), "08:00", paris, grace) is None
    assert daily_notice_due(at_eight + grace, "08:00", paris, grace) is None


def _event(kind: EventType, **details: object) -> Event:
    at = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    return Event(id="e1", event_type=kind.name, details=details, dedupe_key="", source="test", received_at=at)  # type: ignore[arg-type]


def test_an_event_e_mail_says_what_happened_what_to_do_and_escapes_details_in_html() -> None:
    renderer = JinjaEventRenderer(appliance="box-1", timezone=ZoneInfo("Europe/Paris"))
    kind = EventCatalog.default().get("failover.version_mismatch")
    mail = renderer.render_event(kind, _event(kind, primary_version="<script>alert(1)</script>"))
    assert mail.subject == "[box-1] Failover: product version mismatch"
    assert kind.summary in mail.text and kind.action in mail.text
    assert "2026-11-21 08:00:00 CET" in mail.text  # the appliance's time zone
    assert "<script>" in mail.text  # plain text is not escaped...
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html  # ...HTML is


def test_a_digest_says_how_many_and_when() -> None:
    renderer = JinjaEventRenderer(appliance="box-1", timezone=UTC)
    kind = EventCatalog.default().get("failover.backup_cannot_reach_test_ips")
    start = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    windows = (
        DigestWindow("eth0", 41, start, start + timedelta(minutes=9), {"test_addresses": "192.0.2.1"}),
    )
    digest = Digest(kind.name, start, start + timedelta(minutes=10), windows, more_windows=2, total=57)
    mail = renderer.render_digest(kind, digest)
    assert mail.subject.endswith("57 more times")
    assert "raised 57 more times" in mail.text and "eth0: 41 times" in mail.text
    assert "2026-11-21 07:00:00 UTC" in mail.text and "2026-11-21 07:09:00 UTC" in mail.text
    assert "2 more dedupe keys" in mail.text and "<strong>57</strong>" in mail.html


def test_an_administrators_template_overrides_the_package_one_and_runs_sandboxed(tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    (events / "test.event.txt.j2").write_text("Custom: {{ event_type.title }} / {{ details.note }}\n")
    renderer = JinjaEventRenderer(appliance="box", timezone=UTC, override_dir=tmp_path)
    kind = EventCatalog.default().get("test")
    assert renderer.render_event(kind, _event(kind, note="hi")).text == "Custom: Test e-mail / hi\n"
    (events / "test.event.txt.j2").write_text("{{ event_type.__class__.__mro__[1].__subclasses__() }}")
    # The sandbox refuses; the event still gets its e-mail, from the built-in template (#13 item 3).
    mail = JinjaEventRenderer(appliance="box", timezone=UTC, override_dir=tmp_path).render_event(
        kind, _event(kind)
    )
    [failure] = mail.template_failures
    assert failure.template == "events/test.event.txt.j2" and failure.error.startswith("SecurityError")
    assert "__subclasses__" not in mail.text and "Test e-mail" in mail.text


def test_the_host_types_file_is_read_and_its_mistakes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "event-types.json"
    assert load_event_types(path) == []
    path.write_text('[{"name": "backup.failed", "title": "Backup failed", "summary": "It failed."}]')
    (kind,) = load_event_types(path)
    assert (kind.name, kind.severity, kind.builtin) == ("backup.failed", "warning", False)
    path.write_text('[{"name": "backup.failed", "title": "Backup failed"}]')
    with pytest.raises(EventTypesFileError, match="entry 0 needs 'summary'"):
        load_event_types(path)
