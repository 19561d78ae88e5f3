"""The event catalog: what the appliance can report, how each is worded, and what details it takes.

An event is raised by one of the appliance's components (or by alertmail itself), recorded, and
mailed to the admin contacts. Repeats of one type and dedupe key inside a coalescing window fold
into one digest (see `coalescing_bucket`). Everything here is pure: no I/O, no clock.

The failover types are the e-mails of seed `004_…`, one type per bullet, with the seed's sentence as
the summary. The host application may add its own types (`EventCatalog.register`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from alertmail.errors import AlertmailError, FieldError, SettingsValidationError

__all__ = [
    "BUILTIN_EVENT_TYPES",
    "DIGEST_LISTED",
    "MAX_DETAILS_BYTES",
    "Digest",
    "DigestWindow",
    "Disposition",
    "Event",
    "EventCatalog",
    "EventRecorded",
    "EventType",
    "RenderedMail",
    "Severity",
    "StoredEvent",
    "TemplateFailure",
    "UnknownEventTypeError",
    "coalescing_bucket",
    "validate_dedupe_key",
    "validate_details",
]

Severity = Literal["critical", "warning", "info"]
DetailValue = str | int | float | bool | None

MAX_DETAILS = 50  # keys
MAX_DETAIL_KEY = 64  # characters
MAX_DETAIL_VALUE = 4000  # characters of one string value
MAX_DETAILS_BYTES = 16 * 1024  # the whole details object as JSON
MAX_DEDUPE_KEY = 200
DIGEST_LISTED = 20  # dedupe keys a digest lists one by one; the rest are counted
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
DETAIL_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
_DETAIL_KEY = re.compile(DETAIL_KEY_PATTERN)


@dataclass(frozen=True)
class EventType:
    """One kind of event. `summary` is the sentence the e-mail opens with; `action` says what to do."""

    name: str
    title: str
    severity: Severity
    summary: str
    action: str = ""
    # Detail keys the type documents, with an example value each (used by the preview).
    fields: Mapping[str, str] = field(default_factory=dict)
    builtin: bool = True

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or len(self.name) > 64:
            raise ValueError(f"event type name {self.name!r}: lowercase words joined by '_' and '.'")
        if self.severity not in get_args(Severity):
            known = ", ".join(get_args(Severity))
            raise ValueError(f"event type {self.name!r}: severity must be one of {known}")
        if not self.title.strip() or not self.summary.strip():
            raise ValueError(f"event type {self.name!r} needs a title and a summary")


@dataclass(frozen=True)
class Event:
    """One occurrence, as received. `details` is validated (`validate_details`)."""

    id: str
    event_type: str
    details: Mapping[str, DetailValue]
    dedupe_key: str
    source: str
    received_at: datetime
    node: str = ""


@dataclass(frozen=True)
class DigestWindow:
    """One dedupe key's repeats in a window that were not mailed one by one."""

    dedupe_key: str
    coalesced: int
    first_at: datetime
    last_at: datetime
    details: Mapping[str, DetailValue]  # the latest event's


@dataclass(frozen=True)
class Digest:
    """The repeats of one type in one window, mailed as one message when the window ends."""

    event_type: str
    window_start: datetime
    window_end: datetime
    windows: tuple[DigestWindow, ...]  # the busiest first, at most `DIGEST_LISTED`
    more_windows: int  # dedupe keys left out of the listing
    total: int  # events summed up, listed or not

    @property
    def first_at(self) -> datetime:
        return min(w.first_at for w in self.windows)

    @property
    def last_at(self) -> datetime:
        return max(w.last_at for w in self.windows)


@dataclass(frozen=True)
class TemplateFailure:
    """A custom template that could not render; the built-in one was used in its place."""

    template: str
    error: str


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    template_failures: tuple[TemplateFailure, ...] = ()


Disposition = Literal["mailed", "coalesced", "no_recipients"]


@dataclass(frozen=True)
class EventRecorded:
    event_id: str
    disposition: Disposition
    outbox_id: str | None  # the e-mail queued for it now; None when coalesced or not mailed
    repeats: int  # events of this type and key in the current window, this one included


@dataclass(frozen=True)
class StoredEvent:
    event: Event
    disposition: str
    outbox_id: str | None


class UnknownEventTypeError(AlertmailError, LookupError):
    """The type is not in the catalog; `known` lists the types that are."""

    category = "validation"

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(sorted(known))
        super().__init__(f"type: unknown event type {name!r}; known types: {', '.join(self.known)}")


class EventCatalog:
    """The built-in types plus the host application's own, by name."""

    def __init__(self, types: Iterable[EventType] = ()) -> None:
        self._types: dict[str, EventType] = {}
        for event_type in types:
            self.register(event_type)

    @classmethod
    def default(cls) -> EventCatalog:
        return cls(BUILTIN_EVENT_TYPES)

    def register(self, event_type: EventType) -> None:
        """Add a type; replacing a built-in one is refused (its wording is the product's)."""
        existing = self._types.get(event_type.name)
        if existing is not None and existing.builtin and not event_type.builtin:
            raise ValueError(f"{event_type.name!r} is a built-in event type and cannot be replaced")
        self._types[event_type.name] = event_type

    def get(self, name: str) -> EventType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownEventTypeError(name, self._types) from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[EventType]:
        return iter(sorted(self._types.values(), key=lambda t: t.name))

    def __len__(self) -> int:
        return len(self._types)


def validate_details(details: Any) -> dict[str, DetailValue]:
    """A flat object of short scalar values, or `SettingsValidationError` naming each problem.

    Flat and scalar on purpose: details are printed into an e-mail and a table, and a size limit
    keeps one noisy component from filling the database or a mailbox.
    """
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise SettingsValidationError([FieldError("details", "must be an object of key/value pairs")])
    problems: list[FieldError] = []
    if len(details) > MAX_DETAILS:
        problems.append(FieldError("details", f"must have at most {MAX_DETAILS} keys"))
    for key, value in details.items():
        problems.extend(_detail_problems(key, value))
    if not problems and len(json.dumps(dict(details), default=str)) > MAX_DETAILS_BYTES:
        problems.append(FieldError("details", f"must be at most {MAX_DETAILS_BYTES} bytes as JSON"))
    if problems:
        raise SettingsValidationError(problems)
    return dict(details)


def _detail_problems(key: Any, value: Any) -> list[FieldError]:
    if not isinstance(key, str) or not _DETAIL_KEY.match(key) or len(key) > MAX_DETAIL_KEY:
        return [
            FieldError(
                f"details.{key}",
                f"key must be a name of at most {MAX_DETAIL_KEY} letters, digits, '_', '.' or '-'",
            )
        ]
    if value is not None and not isinstance(value, str | int | float | bool):
        return [FieldError(f"details.{key}", "must be a string, a number, true/false or null")]
    if isinstance(value, str) and len(value) > MAX_DETAIL_VALUE:
        return [FieldError(f"details.{key}", f"must be at most {MAX_DETAIL_VALUE} characters")]
    if isinstance(value, str) and "\x00" in value:  # PostgreSQL cannot store it; no e-mail may hold it
        return [FieldError(f"details.{key}", "must not contain a NUL character")]
    return []


def validate_dedupe_key(key: str | None) -> str:
    if key is None:
        return ""
    if len(key) > MAX_DEDUPE_KEY or any(ord(c) < 32 for c in key):
        raise SettingsValidationError(
            [FieldError("dedupe_key", f"must be at most {MAX_DEDUPE_KEY} characters, no control characters")]
        )
    return key


def coalescing_bucket(at: datetime, window: timedelta) -> tuple[datetime, datetime]:
    """The fixed window `at` falls in: (start, end). Fixed buckets, so every node agrees on them.

    The first event of a type and dedupe key in a bucket is mailed at once; its repeats in the same
    bucket are counted and mailed as one digest when the bucket ends. So one key costs at most two
    e-mails per window, however many times it fires.
    """
    seconds = window.total_seconds()
    if seconds <= 0:
        raise ValueError("the coalescing window must be positive")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    start = epoch + timedelta(seconds=(at - epoch).total_seconds() // seconds * seconds)
    return start, start + window


def _failover(name: str, title: str, summary: str, action: str, **fields: str) -> EventType:
    return EventType(
        name=f"failover.{name}",
        title=title,
        severity="critical",
        summary=summary,
        action=action,
        fields={"node": "backup-1", **fields},
    )


_PRIMARY = {"primary": "primary-1.example.com"}

BUILTIN_EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        name="test",
        title="Test e-mail",
        severity="info",
        summary="This is a test event: alert e-mails from this appliance reach you.",
        fields={"note": "raised by hand"},
    ),
    EventType(
        name="daily_notice",
        title="Daily communication notice",
        severity="info",
        summary=(
            "This is the daily communication notice: it confirms that alert communication from "
            "this appliance is working correctly."
        ),
        action="Nothing to do. If this e-mail stops arriving, check the Mail Server Logs.",
        fields={
            "date": "2026-11-21",
            "scheduled_time": "08:00 Europe/Paris",
            "queued": "0",
            "waiting_for_configuration": "0",
            "dead_lettered": "0",
        },
    ),
    _failover(
        "version_mismatch",
        "Failover: product version mismatch",
        "During a failover operation, the product version on the primary node does not match the "
        "product version on the backup node.",
        "Upgrade the nodes to the same version before relying on failover.",
        primary_version="1.4.0",
        backup_version="1.3.2",
    ),
    _failover(
        "shared_ip_interface_disabled",
        "Failover: shared IP interface not enabled",
        "This appliance is the primary node and a shared IP address is configured, but its network "
        "interface is not enabled.",
        "Enable the network interface that carries the shared IP address.",
        shared_ip="192.0.2.10",
        interface="eth1",
    ),
    _failover(
        "shared_ip_not_assigned",
        "Failover: shared IP not assigned",
        "A shared IP address is configured but is not listed as an IP address of this appliance.",
        "Assign the shared IP address to one of this appliance's interfaces.",
        shared_ip="192.0.2.10",
    ),
    _failover(
        "backup_cannot_reach_primary_nor_test_ips",
        "Failover: backup cannot reach the primary or any test IP",
        "The backup node could not contact the primary node, and it also could not contact any of "
        "the test IP addresses configured for failover.",
        "Check the backup node's network connection and the primary node.",
        **_PRIMARY,
        test_addresses="192.0.2.1:443",
    ),
    _failover(
        "backup_cannot_reach_test_ips",
        "Failover: backup cannot reach any test IP",
        "The backup node could not contact any of the test IP addresses configured for failover.",
        "Check the backup node's network connection and the configured test addresses.",
        test_addresses="192.0.2.1:443",
    ),
    _failover(
        "backup_operations_disabled",
        "Failover: backup operations disabled",
        "The backup node's backup operations are disabled.",
        "Enable backup operations on the backup node unless this is intended.",
    ),
    _failover(
        "backup_self_probe_failed",
        "Failover: backup node failed to probe itself",
        "The backup node unexpectedly failed to perform a probe of itself, indicating that it is "
        "malfunctioning.",
        "Check the backup node's service and its logs.",
        url="https://backup-1.example.com/healthz",
    ),
    _failover(
        "backup_cannot_reach_primary_by_hostname",
        "Failover: backup cannot reach the primary by hostname",
        "The backup node failed to contact the primary node using the primary node's hostname.",
        "Check DNS for the primary node's hostname and the network between the nodes.",
        **_PRIMARY,
    ),
    _failover(
        "primary_probe_failed_failover_disabled",
        "Failover: primary probe failed (automatic failover disabled)",
        "Automatic failover is disabled, and the backup node failed to probe the primary node.",
        "Check the primary node. To make this backup the primary, promote it by hand.",
        **_PRIMARY,
    ),
    _failover(
        "primary_probe_failed_failover_enabled",
        "Failover: primary probe failed (automatic failover enabled)",
        "Automatic failover is enabled, and the backup node failed to probe the primary node. The "
        "backup node will automatically become the primary node if the primary node remains "
        "unresponsive.",
        "Check the primary node.",
        **_PRIMARY,
        grace_period="60 s",
    ),
    _failover(
        "backup_becoming_primary",
        "Failover: backup becoming primary",
        "Automatic failover is enabled, and the backup node is automatically becoming the primary "
        "node because the primary node was down for too long.",
        "Check the former primary node before bringing it back.",
        **_PRIMARY,
    ),
    _failover(
        "data_sync_failed",
        "Failover: data sync failed",
        "The primary node failed to perform a data sync with the backup node sometime in the past 24 hours.",
        "Check the database connection of the primary node.",
        **_PRIMARY,
        longest_outage="95 s",
    ),
    EventType(
        name="failover.check_cleared",
        title="Failover: problem cleared",
        severity="info",
        summary="A failover problem reported earlier has cleared.",
        fields={"node": "backup-1", "check": "failover.backup_cannot_reach_test_ips"},
    ),
    EventType(
        name="oauth.token_expiring",
        title="OAuth2: sign-in about to expire",
        severity="warning",
        summary="The OAuth2 sign-in that alertmail sends mail with is about to expire.",
        action="Open Mail Settings and Sign In again before it expires, or mail will stop.",
        fields={"account": "alerts@example.com", "risk": "unused for 80 days (Microsoft: 90)"},
    ),
    EventType(
        name="oauth.reauthorization_required",
        title="OAuth2: sign in again",
        severity="critical",
        summary=(
            "The OAuth2 provider refused alertmail's refresh token: mail is held until an "
            "administrator signs in again."
        ),
        action="Open Mail Settings and click Sign In. Held mail goes out once the sign-in completes.",
        fields={"account": "alerts@example.com", "provider_code": "AADSTS700082"},
    ),
    EventType(
        name="transport.fallback_started",
        title="Mail is going through the fallback transport",
        severity="critical",
        summary=(
            "The primary mail transport has failed for every message since the time below, so "
            "alertmail now sends through the fallback transport. The primary is probed every few "
            "minutes and used again as soon as it works."
        ),
        action="Fix the primary transport as the hint says; nothing is lost meanwhile.",
        fields={
            "primary": "smtp smtp.office365.com:587",
            "fallback": "smtp relay.example.net:587",
            "failing_since": "2026-12-04 09:12:00 UTC",
            "category": "smtp_auth",
            "failure": "535 5.7.3 Authentication unsuccessful",
            "fix": "Check the Username and Password of the relay account.",
        },
    ),
    EventType(
        name="transport.primary_restored",
        title="The primary mail transport works again",
        severity="info",
        summary="A probe of the primary mail transport succeeded: alertmail sends through it again.",
        fields={
            "primary": "smtp smtp.office365.com:587",
            "fallback_since": "2026-12-04 09:22:00 UTC",
            "restored_at": "2026-12-04 10:05:00 UTC",
        },
    ),
    EventType(
        name="delivery.dead_lettered",
        title="Delivery: a message was given up",
        severity="warning",
        summary="alertmail gave up delivering a message after retrying it for its whole lifetime.",
        action="See Mail Server Logs for the reason; the message can be retried from the outbox.",
        fields={
            "message_id": "<alertmail.1@example.com>",
            "subject": "Failover: backup becoming primary",
            "reason": "Connection refused by smtp.example.com:587",
            "delivered_to": "ops@example.com",
            "not_delivered_to": "oncall@example.com",
        },
    ),
)
