"""The failover checks: each node probes what concerns it, the primary mails each problem once.

A round on a node: probe (the primary at its URL and hostname, the test addresses, its own
/healthz, its backup-operations flag; the shared IP on the primary; past database outages on any
node), then record the results in `node_checks`. The primary then reads every node's rows and raises
each confirmed problem's e-mail once per incident, and a cleared note once the problem is gone
(`OncePerIncident` claims both in `scheduler_runs`, in the transaction that queues the e-mail, so a
failover in between repeats nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from alertmail.domain import cluster_checks as checks
from alertmail.domain.cluster_checks import CheckResult, NodeCheck, ProbeOutcome, ProbeTarget, WriteOutage
from alertmail.domain.ports import (
    ClusterNode,
    ClusterObserver,
    NetworkInterfaces,
    NodeCheckRepository,
    Prober,
)
from alertmail.domain.schedule import RunClaim
from alertmail.services.clock import Clock, utc_now
from alertmail.services.notifications import NotificationService

__all__ = [
    "CHECK_CLEARED",
    "CheckOptions",
    "FailoverChecks",
    "OncePerIncident",
    "WriteOutageTracker",
    "describe",
    "incident_key",
]

logger = logging.getLogger(__name__)

CHECK_CLEARED = "failover.check_cleared"
DATA_SYNC_MEMORY = timedelta(hours=24)


@dataclass(frozen=True)
class CheckOptions:
    interval: float = 30.0  # seconds between probe rounds
    test_addresses: tuple[ProbeTarget, ...] = ()
    shared_ip: str = ""
    data_sync_threshold: timedelta = timedelta(seconds=60)


def incident_key(*parts: str) -> str:
    """A short, stable name for one incident (a `scheduler_runs` period holds 64 characters)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def describe(node: ClusterNode) -> str:
    """How the e-mails name a node: its id, and where it is when that says more."""
    where = node.advertised_url or node.hostname
    return node.node_id if where in ("", node.node_id) else f"{node.node_id} ({where})"


class OncePerIncident:
    """Raises an event unless some node already has for this incident: the claim is the database's."""

    def __init__(self, notifications: NotificationService, node_id: str, clock: Clock) -> None:
        self._notifications = notifications
        self._node_id = node_id
        self._clock = clock

    async def __call__(
        self, event_type: str, incident: str, details: dict[str, Any], *, dedupe_key: str
    ) -> bool:
        claim = RunClaim(event_type, incident, self._node_id, self._clock())
        recorded = await self._notifications.raise_once(
            claim, event_type, details, dedupe_key=dedupe_key, source="cluster"
        )
        return recorded is not None


class WriteOutageTracker:
    """When this node could not write to the database while it was the primary: "data sync failed".

    An outage runs from the last write that worked to the next one that does; it counts when the
    node was the primary at the last write before it. Kept 24 hours, in memory: a restart forgets,
    as a restart is itself reported by the election.
    """

    def __init__(self) -> None:
        self._last_ok: datetime | None = None
        self._primary_at_last_ok = False
        self._failing_since: datetime | None = None
        self._outages: list[WriteOutage] = []

    def succeeded(self, now: datetime, *, primary: bool) -> None:
        if self._failing_since is not None and self._primary_at_last_ok:
            self._outages.append(WriteOutage(self._failing_since, now))
            logger.error("the database was not writable for %s", now - self._failing_since)
        self._failing_since = None
        self._last_ok, self._primary_at_last_ok = now, primary
        self._outages = [o for o in self._outages if now - o.end <= DATA_SYNC_MEMORY]

    def failed(self, now: datetime) -> None:
        if self._failing_since is None:
            self._failing_since = self._last_ok or now

    def outages(self) -> list[WriteOutage]:
        return list(self._outages)


class FailoverChecks:
    def __init__(
        self,
        repository: NodeCheckRepository,
        prober: Prober,
        interfaces: NetworkInterfaces,
        raise_once: OncePerIncident,
        options: CheckOptions,
        *,
        observer: ClusterObserver | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._repository = repository
        self._prober = prober
        self._interfaces = interfaces
        self._raise_once = raise_once
        self._options = options
        self._observer = observer
        self._clock = clock
        self.outages = WriteOutageTracker()

    @property
    def options(self) -> CheckOptions:
        return self._options

    async def recorded(self) -> list[NodeCheck]:
        """Every node's checks as last probed."""
        return await self._repository.list()

    # --- a node's round -----------------------------------------------------------------------

    async def probe_round(
        self, me: ClusterNode, nodes: Sequence[ClusterNode], *, primary: bool, serves_http: bool
    ) -> list[CheckResult]:
        """Probe what concerns this node now, record it, and return it."""
        backup = not primary and me.role == "primary-capable"
        results = [checks.data_sync_result(
            self.outages.outages(), self._clock(), threshold=self._options.data_sync_threshold
        )]  # fmt: skip
        results += (
            await self._backup_results(me, nodes, serves_http) if backup else _passing(checks.BACKUP_CHECKS)
        )
        results += self._shared_ip_results() if primary else _passing(checks.PRIMARY_CHECKS)
        await self._repository.record(me.node_id, results, now=self._clock())
        if self._observer is not None:
            for result in results:
                self._observer.check_state(result.check, result.failing)
        return results

    async def _backup_results(
        self, me: ClusterNode, nodes: Sequence[ClusterNode], serves_http: bool
    ) -> list[CheckResult]:
        primary = next((n for n in nodes if n.is_primary and n.node_id != me.node_id), None)
        by_url: ProbeOutcome | None = None
        by_hostname: ProbeOutcome | None = None
        if primary is not None and primary.advertised_url:
            url = health_url(primary.advertised_url)
            other = health_url(primary.advertised_url, host=primary.hostname)
            by_url, by_hostname = await asyncio.gather(
                self._prober.http(url), self._probe_if(other != url, other)
            )
        tests = await asyncio.gather(
            *(self._prober.tcp(a.host, a.port) for a in self._options.test_addresses)
        )
        mine = await self._probe_if(serves_http and bool(me.advertised_url), health_url(me.advertised_url))
        name = describe(primary) if primary is not None else ""
        return [
            *checks.reachability_results(name, by_url, by_hostname, tests),
            checks.self_probe_result(mine),
            checks.backup_operations_result(me.backup_disabled_since),
        ]

    async def _probe_if(self, wanted: bool, url: str) -> ProbeOutcome | None:
        return await self._prober.http(url) if wanted else None

    def _shared_ip_results(self) -> list[CheckResult]:
        if not self._options.shared_ip:
            return _passing(checks.PRIMARY_CHECKS)
        state, interface = self._interfaces.locate(self._options.shared_ip)
        return checks.shared_ip_results(self._options.shared_ip, state, interface)

    # --- the primary's report -----------------------------------------------------------------

    async def report(self, live_nodes: set[str]) -> None:
        """Mail each confirmed problem of a live node once, and each mailed one's clearing once."""
        for check in await self._repository.list():
            if check.since is None:
                continue
            incident = incident_key(check.check, check.node_id, check.since.isoformat())
            if check.confirmed and not check.mailed and check.node_id in live_nodes:
                details = {"node": check.node_id, **check.details}
                await self._raise_once(check.check, incident, details, dedupe_key=check.node_id)
                await self._repository.mark_mailed(check.node_id, check.check, check.since, mailed=True)
            elif not check.failing and check.mailed:
                details = {"node": check.node_id, "check": check.check}
                await self._raise_once(
                    CHECK_CLEARED, incident, details, dedupe_key=f"{check.node_id} {check.check}"
                )
                await self._repository.mark_mailed(check.node_id, check.check, check.since, mailed=False)


def health_url(advertised_url: str, *, host: str | None = None) -> str:
    """The node's /healthz at its advertised URL, or at `host` with the same scheme and port."""
    parts = urlsplit(advertised_url)
    netloc = parts.netloc
    if host:
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/healthz", "", ""))


def _passing(names: Sequence[str]) -> list[CheckResult]:
    return [CheckResult(name, False) for name in names]
