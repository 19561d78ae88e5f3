"""In-memory fakes of the cluster service's ports, sharing one `Server` that stands for the database.

The server holds the nodes table, the advisory lock (one holder at a time, freed when the holder
"dies", or fenced), the scheduler-run claims, the failover checks' rows and the events raised.
Several services on one server are several nodes. Checks fold through the domain's own
`NodeCheck.folded`, as the SQL repository does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from alertmail.domain.cluster_checks import CheckResult, InterfaceState, NodeCheck, ProbeOutcome
from alertmail.domain.ports import ClusterNode, NodeRole
from alertmail.domain.schedule import RunClaim
from alertmail.services.cluster import ClusterOptions, ClusterService
from alertmail.services.cluster_checks import CheckOptions, FailoverChecks, OncePerIncident

START = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@dataclass
class Server:
    nodes: dict[str, ClusterNode] = field(default_factory=dict)
    holder: str | None = None
    claims: set[tuple[str, str]] = field(default_factory=set)
    raised: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    checks: dict[tuple[str, str], NodeCheck] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)  # probe targets that do not answer
    interfaces: dict[str, tuple[InterfaceState, str]] = field(default_factory=dict)
    now: datetime = START
    seconds: float = 0.0

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.now += timedelta(seconds=seconds)

    def types(self) -> list[str]:
        return [event_type for event_type, _ in self.raised]


@dataclass
class Nodes:
    server: Server

    async def register(self, node: ClusterNode) -> None:
        self.server.nodes[node.node_id] = node

    async def heartbeat(self, node_id: str, *, now: datetime, is_primary: bool) -> None:
        node = self.server.nodes[node_id]
        self.server.nodes[node_id] = replace(node, last_heartbeat=now, is_primary=is_primary)

    async def mark_primary(self, node_id: str) -> None:
        for other, node in self.server.nodes.items():
            primary = other == node_id
            requested = node.promote_requested and not primary
            self.server.nodes[other] = replace(node, is_primary=primary, promote_requested=requested)

    async def list(self) -> list[ClusterNode]:
        return sorted(self.server.nodes.values(), key=lambda n: n.node_id)

    async def request_promotion(self, node_id: str) -> None:
        self.server.nodes[node_id] = replace(self.server.nodes[node_id], promote_requested=True)

    async def set_backup_operations(self, node_id: str, *, enabled: bool, now: datetime) -> ClusterNode:
        node = self.server.nodes[node_id]
        since = None if enabled else (node.backup_disabled_since or now)
        self.server.nodes[node_id] = replace(node, backup_disabled_since=since)
        return self.server.nodes[node_id]


@dataclass
class Lock:
    server: Server
    owner: str

    async def try_acquire(self) -> bool:
        if self.server.holder in (None, self.owner):
            self.server.holder = self.owner
            return True
        return False

    async def still_held(self) -> bool:
        return self.server.holder == self.owner

    async def held_by_anyone(self) -> bool:
        return self.server.holder is not None

    async def release(self) -> None:
        if self.server.holder == self.owner:
            self.server.holder = None

    async def fence(self) -> int:
        if self.server.holder in (None, self.owner):
            return 0
        self.server.holder = None
        return 1


@dataclass
class Notifications:
    """Raises once per claimed (job, period), as `NotificationService.raise_once` does."""

    server: Server

    async def raise_once(
        self, claim: RunClaim, event_type: str, details: dict[str, Any], *, dedupe_key: str, source: str
    ) -> object | None:
        assert source == "cluster" and dedupe_key
        if (claim.job, claim.period) in self.server.claims:
            return None
        self.server.claims.add((claim.job, claim.period))
        self.server.raised.append((event_type, details))
        return claim


@dataclass
class Observer:
    states: list[tuple[str, bool]] = field(default_factory=list)

    checks: dict[str, bool] = field(default_factory=dict)

    def node_state(self, role: str, is_primary: bool) -> None:
        self.states.append((role, is_primary))

    def check_state(self, check: str, failing: bool) -> None:
        self.checks[check] = failing


@dataclass
class Checks:
    server: Server

    async def record(self, node_id: str, results: Sequence[CheckResult], *, now: datetime) -> None:
        for result in results:
            known = self.server.checks.get((node_id, result.check))
            folded = known.folded(result, now) if known else NodeCheck.first(node_id, result, now)
            self.server.checks[(node_id, result.check)] = folded

    async def list(self) -> list[NodeCheck]:
        return [self.server.checks[key] for key in sorted(self.server.checks)]

    async def mark_mailed(self, node_id: str, check: str, since: datetime, *, mailed: bool) -> None:
        known = self.server.checks[(node_id, check)]
        if known.since == since:
            self.server.checks[(node_id, check)] = replace(known, mailed=mailed)


@dataclass
class Prober:
    server: Server

    async def http(self, url: str) -> ProbeOutcome:
        return self._outcome(url)

    async def tcp(self, host: str, port: int) -> ProbeOutcome:
        return self._outcome(f"{host}:{port}")

    def _outcome(self, target: str) -> ProbeOutcome:
        down = target in self.server.unreachable
        return ProbeOutcome(target, not down, "Connection refused" if down else "")


@dataclass
class Interfaces:
    server: Server

    def locate(self, ip: str) -> tuple[InterfaceState, str]:
        return self.server.interfaces.get(ip, ("absent", ""))


def node(
    server: Server,
    name: str,
    *,
    role: NodeRole = "primary-capable",
    version: str = "1.0",
    automatic: bool = True,
    observer: Observer | None = None,
    nodes: Nodes | None = None,
    heartbeat: float = 1.0,
    checks: CheckOptions | None = None,
    url: str | None = None,
) -> ClusterService:
    options = ClusterOptions(
        node_id=name,
        hostname=f"{name}.example.com",
        advertised_url=f"http://{name}.example.com:8025" if url is None else url,
        version=version,
        role=role,
        heartbeat=heartbeat,
        grace=10.0,
        automatic_failover=automatic,
    )
    clock = lambda: server.now  # noqa: E731
    raise_once = OncePerIncident(Notifications(server), name, clock)  # type: ignore[arg-type]
    failover_checks = FailoverChecks(
        Checks(server),
        Prober(server),
        Interfaces(server),
        raise_once,
        checks or CheckOptions(),
        observer=observer,
        clock=clock,
    )
    return ClusterService(
        nodes or Nodes(server),
        Lock(server, name),
        raise_once,
        failover_checks,
        options,
        observer=observer,
        clock=clock,
        monotonic=lambda: server.seconds,
    )


async def started(*services: ClusterService) -> None:
    for service in services:
        await service._register()
        await service.tick()


def crash(server: Server, service: ClusterService) -> None:
    """The process dies: its connection ends, and the lock with it; its row stays as it was."""
    if server.holder == service.options.node_id:
        server.holder = None


async def tick_for(server: Server, seconds: float, *services: ClusterService) -> None:
    for _ in range(int(seconds)):
        server.advance(1)
        for service in services:
            await service.tick()
