"""The failover checks of seed 004: what each node probes, and which problem its results mean.

Each node measures the checks that concern it and records the results (`NodeCheckRepository`); the
primary reads them and mails each problem once per incident, and a cleared note when it goes away
(`services/cluster_checks.py`). Names are the catalog's event types, so a check and its e-mail are
one thing. The lock-based ones (primary probe failed, backup becoming primary) and the version
mismatch are raised by the election itself (`services/cluster.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

__all__ = [
    "BACKUP_CHECKS",
    "CHECK_NAMES",
    "CONFIRMING_PROBES",
    "DATA_SYNC_FAILED",
    "PRIMARY_CHECKS",
    "CheckResult",
    "InterfaceState",
    "NodeCheck",
    "ProbeOutcome",
    "ProbeTarget",
    "WriteOutage",
    "backup_operations_result",
    "data_sync_result",
    "parse_test_addresses",
    "reachability_results",
    "self_probe_result",
    "shared_ip_results",
]

CANNOT_REACH_PRIMARY_NOR_TEST_IPS = "failover.backup_cannot_reach_primary_nor_test_ips"
CANNOT_REACH_TEST_IPS = "failover.backup_cannot_reach_test_ips"
CANNOT_REACH_PRIMARY_BY_HOSTNAME = "failover.backup_cannot_reach_primary_by_hostname"
BACKUP_OPERATIONS_DISABLED = "failover.backup_operations_disabled"
SELF_PROBE_FAILED = "failover.backup_self_probe_failed"
SHARED_IP_NOT_ASSIGNED = "failover.shared_ip_not_assigned"
SHARED_IP_INTERFACE_DISABLED = "failover.shared_ip_interface_disabled"
DATA_SYNC_FAILED = "failover.data_sync_failed"

# What a backup measures, and what the primary measures. A node measures the set of the role it
# has now and records every check of the other set as passing: a backup that became primary no
# longer has a backup's problems. Data sync is measured on every node, from the outages it had
# while it was the primary (it may well have lost the primary's lock through that very outage).
BACKUP_CHECKS: tuple[str, ...] = (
    CANNOT_REACH_PRIMARY_NOR_TEST_IPS,
    CANNOT_REACH_TEST_IPS,
    CANNOT_REACH_PRIMARY_BY_HOSTNAME,
    BACKUP_OPERATIONS_DISABLED,
    SELF_PROBE_FAILED,
)
PRIMARY_CHECKS: tuple[str, ...] = (SHARED_IP_NOT_ASSIGNED, SHARED_IP_INTERFACE_DISABLED)
CHECK_NAMES: tuple[str, ...] = (*BACKUP_CHECKS, *PRIMARY_CHECKS, DATA_SYNC_FAILED)

# A problem is mailed once this many probes in a row have found it: one lost packet is not an
# incident. State checks (a flag, a past outage) are found on every probe, so they pass at once.
CONFIRMING_PROBES = 2


@dataclass(frozen=True)
class CheckResult:
    """One probe of one check: failing or not, and the details its e-mail carries."""

    check: str
    failing: bool
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeCheck:
    """A check as recorded for a node: the incident it is in (or was last in) and how far it got.

    `since` starts the current incident (or the last one, once it cleared): with the node and the
    check it names the incident, so "once per incident" holds across probes, primaries and restarts.
    `mailed` says the primary has raised the incident's e-mail and owes a cleared note.
    """

    node_id: str
    check: str
    failing: bool
    since: datetime | None
    checked_at: datetime
    failures: int  # probes in a row that found the problem
    mailed: bool
    details: Mapping[str, str]

    @property
    def confirmed(self) -> bool:
        return self.failing and self.failures >= CONFIRMING_PROBES

    def folded(self, result: CheckResult, now: datetime) -> NodeCheck:
        """This check after one more probe: a problem newly found opens an incident (`since` = now,
        not mailed yet); a problem that goes away keeps its incident, so its clearing can be mailed."""
        if not result.failing:
            return replace(self, failing=False, checked_at=now)
        if self.failing:
            return replace(self, checked_at=now, failures=self.failures + 1, details=dict(result.details))
        return replace(
            self,
            failing=True,
            since=now,
            checked_at=now,
            failures=1,
            mailed=False,
            details=dict(result.details),
        )

    @classmethod
    def first(cls, node_id: str, result: CheckResult, now: datetime) -> NodeCheck:
        """A check probed for the first time on this node."""
        passing = cls(node_id, result.check, False, None, now, 0, False, {})
        return passing.folded(result, now)


@dataclass(frozen=True)
class ProbeOutcome:
    """One attempt to reach something: where, whether it answered, and if not, why."""

    target: str
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class ProbeTarget:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


InterfaceState = Literal["up", "down", "absent"]


@dataclass(frozen=True)
class WriteOutage:
    """A stretch in which this node could not write to the database, while it was the primary."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def parse_test_addresses(value: str) -> tuple[ProbeTarget, ...]:
    """`host:port, [v6]:port, ...` as configured; ValueError naming the entry that is wrong."""
    addresses = []
    for raw in (part.strip() for part in value.split(",")):
        if not raw:
            continue
        host, sep, port = raw.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host:
            raise ValueError(f"{raw!r} is not host:port (for example 192.0.2.1:443)")
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{raw!r}: the port must be a whole number from 1 to 65535")
        addresses.append(ProbeTarget(host, int(port)))
    return tuple(addresses)


def reachability_results(
    primary: str,
    by_url: ProbeOutcome | None,
    by_hostname: ProbeOutcome | None,
    test_addresses: Sequence[ProbeOutcome],
) -> list[CheckResult]:
    """A backup's probes of the primary (its URL, its hostname) and of the test addresses.

    `None` means not probed: no primary to probe, or a primary whose URL already uses its hostname.
    The seed's three problems: none of the test addresses answers (and then whether the primary did
    not either), and the primary not answering at its hostname.
    """
    primary_probes = [p for p in (by_url, by_hostname) if p is not None]
    primary_down = bool(primary_probes) and not any(p.ok for p in primary_probes)
    tests_down = bool(test_addresses) and not any(p.ok for p in test_addresses)
    tried = ", ".join(p.target for p in test_addresses)
    return [
        CheckResult(
            CANNOT_REACH_PRIMARY_NOR_TEST_IPS,
            tests_down and primary_down,
            {"primary": primary, "test_addresses": tried, "error": _errors(primary_probes)},
        ),
        CheckResult(
            CANNOT_REACH_TEST_IPS,
            tests_down and not primary_down,
            {"test_addresses": tried, "error": _errors(test_addresses)},
        ),
        CheckResult(
            CANNOT_REACH_PRIMARY_BY_HOSTNAME,
            by_hostname is not None and not by_hostname.ok,
            {"primary": primary, "url": by_hostname.target, "error": by_hostname.error}
            if by_hostname is not None
            else {},
        ),
    ]


def self_probe_result(outcome: ProbeOutcome | None) -> CheckResult:
    """The node's probe of its own /healthz (None: it serves no HTTP, so there is nothing to probe)."""
    if outcome is None:
        return CheckResult(SELF_PROBE_FAILED, False)
    return CheckResult(SELF_PROBE_FAILED, not outcome.ok, {"url": outcome.target, "error": outcome.error})


def backup_operations_result(disabled_since: datetime | None) -> CheckResult:
    if disabled_since is None:
        return CheckResult(BACKUP_OPERATIONS_DISABLED, False)
    return CheckResult(
        BACKUP_OPERATIONS_DISABLED, True, {"disabled_since": f"{disabled_since:%Y-%m-%d %H:%M} UTC"}
    )


def shared_ip_results(shared_ip: str, state: InterfaceState, interface: str) -> list[CheckResult]:
    """The primary's shared IP: on one of its interfaces, and that interface up."""
    details = {"shared_ip": shared_ip, "interface": interface} if interface else {"shared_ip": shared_ip}
    return [
        CheckResult(SHARED_IP_NOT_ASSIGNED, state == "absent", details),
        CheckResult(SHARED_IP_INTERFACE_DISABLED, state == "down", details),
    ]


def data_sync_result(
    outages: Sequence[WriteOutage],
    now: datetime,
    *,
    threshold: timedelta,
    window: timedelta = timedelta(hours=24),
) -> CheckResult:
    """Failing while an outage longer than `threshold` ended within `window` (the seed's "past 24 hours")."""
    recent = [o for o in outages if o.duration > threshold and now - o.end <= window]
    if not recent:
        return CheckResult(DATA_SYNC_FAILED, False)
    longest = max(recent, key=lambda o: o.duration)
    return CheckResult(
        DATA_SYNC_FAILED,
        True,
        {
            "longest_outage": f"{longest.duration.total_seconds():.0f} s",
            "outage_started": f"{longest.start:%Y-%m-%d %H:%M:%S} UTC",
        },
    )


def _errors(outcomes: Sequence[ProbeOutcome]) -> str:
    return "; ".join(f"{p.target}: {p.error}" for p in outcomes if not p.ok and p.error)
