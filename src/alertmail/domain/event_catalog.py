"""The event catalog: what the appliance can report, how each is worded, which details it documents.

The built-in types are the test, the daily notice, the e-mails of seed `004_…` (the failover types,
one per bullet, with the seed's sentence as the summary) and alertmail's own. The host application
may add its own types (`EventCatalog.register`). Everything here is pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from alertmail.errors import AlertmailError

__all__ = [
    "BUILTIN_EVENT_TYPES",
    "EventCatalog",
    "EventType",
    "Severity",
    "UnknownEventTypeError",
]

Severity = Literal["critical", "warning", "info"]
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


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
