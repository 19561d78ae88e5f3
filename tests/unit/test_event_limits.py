"""The event catalog's limits at their exact boundaries, and the coalescing grid as properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.events import (
    BUILTIN_EVENT_TYPES,
    MAX_DETAILS_BYTES,
    Digest,
    DigestWindow,
    EventCatalog,
    EventType,
    UnknownEventTypeError,
    coalescing_bucket,
    validate_dedupe_key,
    validate_details,
)
from alertmail.errors import SettingsValidationError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def problems(details: object) -> dict[str, str]:
    with pytest.raises(SettingsValidationError) as caught:
        validate_details(details)
    return {e.field: e.message for e in caught.value.errors}


def sized(total: int) -> dict[str, str]:
    """Details whose JSON is exactly `total` bytes, each value within the 4,000-character limit."""
    details = {f"k{i}": "x" * 4000 for i in range(4)}
    filler = total - len(json.dumps({**details, "k4": ""}))
    details["k4"] = "y" * filler
    assert len(json.dumps(details)) == total
    return details


def test_details_of_exactly_the_byte_limit_are_accepted_and_one_more_byte_is_not() -> None:
    assert MAX_DETAILS_BYTES == 16 * 1024
    assert validate_details(sized(MAX_DETAILS_BYTES)) == sized(MAX_DETAILS_BYTES)
    assert problems(sized(MAX_DETAILS_BYTES + 1)) == {"details": "must be at most 16384 bytes as JSON"}


def test_fifty_keys_are_accepted_and_fifty_one_are_not() -> None:
    fifty = {f"k{i}": i for i in range(50)}
    assert validate_details(fifty) == fifty
    assert problems({**fifty, "k50": 50}) == {"details": "must have at most 50 keys"}


def test_a_key_of_64_characters_is_accepted_and_65_is_not() -> None:
    assert validate_details({"k" * 64: 1}) == {"k" * 64: 1}
    message = "key must be a name of at most 64 letters, digits, '_', '.' or '-'"
    assert problems({"k" * 65: 1}) == {f"details.{'k' * 65}": message}


def test_a_value_of_4000_characters_is_accepted_and_4001_is_not() -> None:
    assert validate_details({"v": "x" * 4000}) == {"v": "x" * 4000}
    assert problems({"v": "x" * 4001}) == {"details.v": "must be at most 4000 characters"}


@pytest.mark.parametrize("key", ["a.b-c_1", "_x", "Z"])
def test_key_shapes_that_are_accepted(key: str) -> None:
    assert validate_details({key: None}) == {key: None}


@pytest.mark.parametrize("key", ["1abc", "", "a b", "-a", 7])
def test_key_shapes_that_are_refused(key: object) -> None:
    assert list(problems({key: 1})) == [f"details.{key}"]


def test_every_scalar_type_is_accepted_and_anything_else_named() -> None:
    scalars = {"s": "x", "i": 1, "f": 1.5, "b": False, "n": None}
    assert validate_details(scalars) == scalars
    assert problems({"t": (1,)}) == {"details.t": "must be a string, a number, true/false or null"}
    assert validate_details(None) == {}
    assert problems(["a"]) == {"details": "must be an object of key/value pairs"}


def test_every_problem_is_named_at_once_and_size_only_counts_for_otherwise_good_details() -> None:
    many = {f"k{i}": "x" * 400 for i in range(51)}
    many["bad key"] = [1]
    assert set(problems(many)) == {"details", "details.bad key"}
    assert problems(many)["details"] == "must have at most 50 keys"


def test_dedupe_keys_of_200_characters_and_printable_ones_are_accepted() -> None:
    assert validate_dedupe_key("k" * 200) == "k" * 200
    assert validate_dedupe_key(" spaced\x7f ") == " spaced\x7f "
    for bad in ("k" * 201, "tab\there", "\x1f"):
        with pytest.raises(SettingsValidationError) as caught:
            validate_dedupe_key(bad)
        assert [e.field for e in caught.value.errors] == ["dedupe_key"]


# --- event types and the catalog ------------------------------------------------------------------


def kind(
    name: str = "host.thing", *, title: str = "T", summary: str = "S", builtin: bool = False
) -> EventType:
    return EventType(name=name, title=title, severity="warning", summary=summary, builtin=builtin)


def test_an_event_type_name_of_64_characters_is_accepted() -> None:
    assert kind("a" * 64).name == "a" * 64
    with pytest.raises(ValueError, match="lowercase words"):
        kind("a" * 65)


@pytest.mark.parametrize(("title", "summary"), [(" ", "S"), ("T", "\n")])
def test_an_event_type_needs_a_title_and_a_summary(title: str, summary: str) -> None:
    with pytest.raises(ValueError, match="needs a title and a summary"):
        kind(title=title, summary=summary)


@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_each_severity_is_accepted(severity: str) -> None:
    made = EventType(name="x", title="T", severity=severity, summary="S")  # type: ignore[arg-type]
    assert made.severity == severity


def test_a_host_type_may_replace_a_host_type_and_a_builtin_a_builtin() -> None:
    catalog = EventCatalog([kind(title="First"), kind("test", title="Mine", builtin=True)])
    catalog.register(kind(title="Second"))
    assert catalog.get("host.thing").title == "Second"
    catalog.register(kind("test", title="Theirs", builtin=True))
    assert catalog.get("test").title == "Theirs"
    with pytest.raises(ValueError, match="'test' is a built-in event type"):
        catalog.register(kind("test"))
    assert catalog.get("test").title == "Theirs"


def test_the_catalog_counts_contains_and_lists_by_name() -> None:
    catalog = EventCatalog([kind("zeta"), kind("alpha")])
    assert (len(catalog), "alpha" in catalog, "beta" in catalog) == (2, True, False)
    assert [t.name for t in catalog] == ["alpha", "zeta"]
    with pytest.raises(UnknownEventTypeError) as caught:
        catalog.get("beta")
    assert (caught.value.name, caught.value.known) == ("beta", ("alpha", "zeta"))
    assert str(caught.value) == "type: unknown event type 'beta'; known types: alpha, zeta"


def test_the_default_catalog_holds_every_builtin_type_once() -> None:
    catalog = EventCatalog.default()
    assert len(catalog) == len(BUILTIN_EVENT_TYPES) == len({t.name for t in BUILTIN_EVENT_TYPES})
    assert all(t.builtin for t in catalog)
    failover = [t for t in catalog if t.name.startswith("failover.") and t.name != "failover.check_cleared"]
    assert failover and all(t.severity == "critical" and t.fields["node"] == "backup-1" for t in failover)
    assert catalog.get("failover.data_sync_failed").fields == {
        "node": "backup-1",
        "primary": "primary-1.example.com",
        "longest_outage": "95 s",
    }


def test_a_digest_spans_its_windows() -> None:
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    windows = tuple(
        DigestWindow(f"k{i}", 2, at + timedelta(minutes=i), at + timedelta(minutes=10 - i), {})
        for i in range(3)
    )
    digest = Digest("test", at, at + timedelta(hours=1), windows, 0, 6)
    assert (digest.first_at, digest.last_at) == (at, at + timedelta(minutes=10))


# --- the coalescing grid -----------------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(moments, st.integers(min_value=1, max_value=7 * 24 * 3600))
def test_buckets_lie_on_a_grid_of_whole_windows_from_the_epoch(at: datetime, seconds: int) -> None:
    window = timedelta(seconds=seconds)
    start, end = coalescing_bucket(at, window)
    assert (start - EPOCH) % window == timedelta(0)
    assert start <= at < end == start + window
    assert coalescing_bucket(end, window) == (end, end + window)  # the next bucket starts where this ends


@given(moments, moments, st.integers(min_value=1, max_value=24 * 3600))
def test_two_moments_share_a_bucket_exactly_when_they_fall_in_the_same_window(
    a: datetime, b: datetime, seconds: int
) -> None:
    window = timedelta(seconds=seconds)
    same_window = (a - EPOCH) // window == (b - EPOCH) // window
    assert (coalescing_bucket(a, window) == coalescing_bucket(b, window)) == same_window


def test_buckets_of_known_moments() -> None:
    hour = timedelta(hours=1)
    at = datetime(2026, 12, 1, 10, 59, 59, 999999, tzinfo=UTC)
    assert coalescing_bucket(at, hour) == (
        at.replace(minute=0, second=0, microsecond=0),
        at.replace(hour=11, minute=0, second=0, microsecond=0),
    )
    assert coalescing_bucket(datetime(2026, 12, 1, 11, tzinfo=UTC), hour)[0] == datetime(
        2026, 12, 1, 11, tzinfo=UTC
    )


@pytest.mark.parametrize("window", [timedelta(0), timedelta(seconds=-60), -timedelta(microseconds=1)])
def test_a_window_that_is_not_positive_is_refused(window: timedelta) -> None:
    with pytest.raises(ValueError, match="the coalescing window must be positive"):
        coalescing_bucket(datetime(2026, 12, 1, tzinfo=UTC), window)


def test_the_shortest_window_is_accepted() -> None:
    at = datetime(2026, 12, 1, 10, 0, 0, 5, tzinfo=UTC)
    tiny = timedelta(microseconds=1)
    assert coalescing_bucket(at, tiny) == (at, at + tiny)
