"""Several nodes on one PostgreSQL: registration, heartbeats, the primary election and its checks.

Every node registers itself in `nodes` and heartbeats. A primary-capable node becomes the primary
by taking the advisory lock (`PrimaryLock`); the lock lives on a connection of its own, so when the
primary dies the lock is released with it. Then:

- no node recorded as primary (a cold start, or the primary stopped cleanly and said so): the first
  primary-capable node to try takes the lock at once;
- a primary recorded but the lock free (it died, or lost its database connection): an outage. Each
  backup raises the "primary probe failed" e-mail (once per outage across the cluster, claimed in
  `scheduler_runs`); with automatic failover, a backup takes the lock after the grace period and
  raises "backup becoming primary"; without it, backups wait for `alertmail cluster promote`.

Traffic nodes never take the lock. Only the primary runs `run_while_primary` jobs (the scheduler)
and the cluster checks (version mismatch); every node delivers mail.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from alertmail.domain.ports import (
    ClusterNode,
    ClusterObserver,
    NodeRepository,
    NodeRole,
    PrimaryLock,
    SchedulerRunRepository,
)
from alertmail.errors import ConflictError, NotFoundError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.notifications import NotificationService

__all__ = ["ClusterOptions", "ClusterService", "NodeState", "NodeStatus", "node_state"]

logger = logging.getLogger(__name__)

NodeState = Literal["primary", "backup", "traffic", "down"]

PROBE_FAILED = {
    True: "failover.primary_probe_failed_failover_enabled",
    False: "failover.primary_probe_failed_failover_disabled",
}
BECOMING_PRIMARY = "failover.backup_becoming_primary"
VERSION_MISMATCH = "failover.version_mismatch"
CHECK_CLEARED = "failover.check_cleared"


@dataclass(frozen=True)
class ClusterOptions:
    node_id: str
    hostname: str
    advertised_url: str
    version: str
    role: NodeRole = "primary-capable"
    heartbeat: float = 5.0  # seconds between heartbeats (and lock checks)
    grace: float = 15.0  # seconds a primary may be gone before a backup takes over
    automatic_failover: bool = True

    @property
    def stale_after(self) -> timedelta:
        """A node whose last heartbeat is older than this is down."""
        return timedelta(seconds=3 * self.heartbeat)


@dataclass(frozen=True)
class NodeStatus:
    node: ClusterNode
    state: NodeState
    this_node: bool


def node_state(node: ClusterNode, now: datetime, stale_after: timedelta) -> NodeState:
    if now - node.last_heartbeat > stale_after:
        return "down"
    if node.is_primary:
        return "primary"
    return "backup" if node.role == "primary-capable" else "traffic"


def incident_key(*parts: str) -> str:
    """A short, stable name for one incident (a `scheduler_runs` period holds 64 characters)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


@dataclass(frozen=True)
class _Outage:
    """The recorded primary's lock is free: seen first at `since` (this process's monotonic clock)."""

    primary: ClusterNode
    incident: str
    since: float


class ClusterService:
    def __init__(
        self,
        nodes: NodeRepository,
        lock: PrimaryLock,
        notifications: NotificationService,
        runs: SchedulerRunRepository,
        options: ClusterOptions,
        *,
        observer: ClusterObserver | None = None,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nodes = nodes
        self._lock = lock
        self._notifications = notifications
        self._runs = runs
        self._options = options
        self._observer = observer
        self._clock = clock
        self._monotonic = monotonic
        self._primary = False
        self._became_primary = asyncio.Event()
        self._stepped_down = asyncio.Event()
        self._stepped_down.set()
        self._outage: _Outage | None = None
        self._mismatches: dict[str, str] = {}  # node id -> open version-mismatch incident

    @property
    def options(self) -> ClusterOptions:
        return self._options

    @property
    def is_primary(self) -> bool:
        return self._primary

    # --- what the interfaces ask --------------------------------------------------------------

    async def status(self) -> list[NodeStatus]:
        now = self._clock()
        return [
            NodeStatus(
                node, node_state(node, now, self._options.stale_after), node.node_id == self._options.node_id
            )
            for node in await self._nodes.list()
        ]

    async def promote(
        self, node_id: str | None = None, *, wait: float = 30.0, poll: float = 0.5
    ) -> ClusterNode:
        """Ask a backup (this node by default) to take the free lock, and wait until it has."""
        target = node_id or self._options.node_id
        node = _find(await self._nodes.list(), target)
        if node.role == "traffic":
            raise ConflictError(f"{target} is a traffic node: traffic nodes never become primary")
        if await self._lock.held_by_anyone():
            if node.is_primary:
                return node
            raise ConflictError(
                "the primary still holds the lock; stop it first (systemctl stop alertmail on it),"
                " then promote"
            )
        await self._nodes.request_promotion(target)
        deadline = self._monotonic() + wait
        while self._monotonic() < deadline:
            await asyncio.sleep(poll)
            node = _find(await self._nodes.list(), target)
            if node.is_primary and not node.promote_requested:
                return node
        raise ConflictError(
            f"{target} did not take over within {wait:g} s: is it running? (alertmail cluster status)"
        )

    # --- the node's own loop ------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Register, then heartbeat (and elect, and check) until cancelled; step down on the way out."""
        registered = False
        try:
            while True:
                try:
                    if not registered:
                        await self._register()
                        registered = True
                    await self.tick()
                except Exception:  # a database hiccup must not end the heartbeat
                    logger.exception("cluster heartbeat failed; trying again")
                await asyncio.sleep(self._options.heartbeat)
        finally:
            await self._leave()

    async def run_while_primary(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `job` while this node is the primary: started on election, cancelled on stepping down."""
        while True:
            await self._became_primary.wait()
            task = asyncio.create_task(job(), name="primary-only")
            try:
                await self._stepped_down.wait()
            finally:
                task.cancel()
                # wait() and not `await task`: a cancellation of this coroutine meanwhile must not be
                # taken for the job's own and swallowed (it would then wait for the next election).
                await asyncio.wait([task])
                if not task.cancelled() and task.exception() is not None:
                    logger.error("a primary-only job failed", exc_info=task.exception())

    async def tick(self) -> None:
        """One heartbeat: check the lock we hold, or look for a primary; then the primary's checks."""
        if self._primary and not await self._lock.still_held():
            logger.error("this node lost the primary lock (its database connection ended); stepping down")
            self._set_primary(False)
        nodes = await self._nodes.list()
        if not self._primary and self._options.role == "primary-capable":
            await self._elect(nodes)
        await self._nodes.heartbeat(self._options.node_id, now=self._clock(), is_primary=self._primary)
        if self._primary:
            await self._check_versions(nodes)

    async def _register(self) -> None:
        now = self._clock()
        o = self._options
        await self._nodes.register(
            ClusterNode(
                o.node_id, o.hostname, o.advertised_url, o.version, o.role, now, now, is_primary=False
            )
        )
        self._observe()

    async def _leave(self) -> None:
        """Say we are no longer primary before letting the lock go: a backup then takes over at once."""
        was_primary = self._primary
        self._set_primary(False)
        try:
            if was_primary:
                await self._nodes.heartbeat(self._options.node_id, now=self._clock(), is_primary=False)
        except Exception:
            logger.exception("could not record stepping down; the backups will wait out the grace period")
        finally:
            await self._lock.release()

    # --- election -----------------------------------------------------------------------------

    async def _elect(self, nodes: Sequence[ClusterNode]) -> None:
        if await self._lock.held_by_anyone():
            await self._outage_over(nodes)
            return
        me = next((n for n in nodes if n.node_id == self._options.node_id), None)
        recorded = next((n for n in nodes if n.is_primary and n.node_id != self._options.node_id), None)
        if recorded is None or (me is not None and me.promote_requested):
            # a cold start, a primary that stepped down cleanly, or a promotion by hand
            if await self._take():
                self._outage = None
            return
        outage = await self._outage_seen(recorded)
        waited = self._monotonic() - outage.since
        if self._options.automatic_failover and waited >= self._options.grace and await self._take():
            self._outage = None
            details = {
                "node": self._options.node_id,
                "primary": _name(outage.primary),
                "down_for": f"{waited:.0f} s",
            }
            await self._raise_once(
                BECOMING_PRIMARY, outage.incident, details, dedupe_key=outage.primary.node_id
            )

    async def _take(self) -> bool:
        if not await self._lock.try_acquire():
            return False
        # Primary from the moment the lock is ours: were the record below to fail, the lock must
        # not stay held by a node that does not know it is the primary.
        self._set_primary(True)
        logger.warning("node %s is now the primary", self._options.node_id)
        await self._nodes.mark_primary(self._options.node_id)
        return True

    async def _outage_seen(self, recorded: ClusterNode) -> _Outage:
        """The outage of `recorded`, opened (and mailed, once across the cluster) when first seen."""
        if self._outage is not None and self._outage.primary.node_id == recorded.node_id:
            return self._outage
        incident = incident_key("primary", recorded.node_id, recorded.last_heartbeat.isoformat())
        self._outage = _Outage(recorded, incident, self._monotonic())
        automatic = self._options.automatic_failover
        details = {"node": self._options.node_id, "primary": _name(recorded)}
        if automatic:
            details["grace_period"] = f"{self._options.grace:g} s"
        logger.error("primary %s does not hold the lock any more", recorded.node_id)
        await self._raise_once(PROBE_FAILED[automatic], incident, details, dedupe_key=recorded.node_id)
        return self._outage

    async def _outage_over(self, nodes: Sequence[ClusterNode]) -> None:
        """The lock is held again. If the same primary came back (not a failover), say it cleared."""
        outage = self._outage
        if outage is None:
            return
        primary = next((n for n in nodes if n.is_primary), None)
        if primary is None:
            return  # the holder has not recorded itself yet: look again at the next heartbeat
        before = outage.primary
        same = primary.node_id == before.node_id
        if (
            same
            and primary.last_heartbeat == before.last_heartbeat
            and primary.started_at == before.started_at
        ):
            return  # its row is the one from before the outage: not recorded yet either
        self._outage = None
        if same:
            details = {"node": self._options.node_id, "check": PROBE_FAILED[self._options.automatic_failover]}
            await self._raise_once(CHECK_CLEARED, outage.incident, details, dedupe_key=before.node_id)

    def _set_primary(self, primary: bool) -> None:
        self._primary = primary
        if primary:
            self._stepped_down.clear()
            self._became_primary.set()
        else:
            self._became_primary.clear()
            self._stepped_down.set()
        self._observe()

    # --- the primary's checks -----------------------------------------------------------------

    async def _check_versions(self, nodes: Sequence[ClusterNode]) -> None:
        """Each live node whose version is not the primary's is one incident, mailed once."""
        now = self._clock()
        mine = self._options.version
        found: dict[str, str] = {}
        for node in nodes:
            if node.node_id == self._options.node_id or node.version == mine:
                continue
            if node_state(node, now, self._options.stale_after) == "down":
                continue
            incident = incident_key("version", node.node_id, node.version, mine, node.started_at.isoformat())
            found[node.node_id] = incident
            if self._mismatches.get(node.node_id) != incident:
                details = {
                    "node": node.node_id,
                    "primary": self._options.node_id,
                    "primary_version": mine,
                    "backup_version": node.version,
                }
                await self._raise_once(VERSION_MISMATCH, incident, details, dedupe_key=node.node_id)
        for node_id, incident in self._mismatches.items():
            if node_id not in found:
                details = {"node": node_id, "check": VERSION_MISMATCH}
                await self._raise_once(CHECK_CLEARED, incident, details, dedupe_key=node_id)
        self._mismatches = found

    async def _raise_once(
        self, event_type: str, incident: str, details: dict[str, Any], *, dedupe_key: str
    ) -> None:
        """Raise the event unless a node already has for this incident (the claim is the database's)."""
        if await self._runs.claim(event_type, incident, now=self._clock(), node=self._options.node_id):
            await self._notifications.raise_event(
                event_type, details, dedupe_key=dedupe_key, source="cluster"
            )

    def _observe(self) -> None:
        if self._observer is not None:
            self._observer.node_state(self._options.role, self._primary)


def _find(nodes: Sequence[ClusterNode], node_id: str) -> ClusterNode:
    for node in nodes:
        if node.node_id == node_id:
            return node
    raise NotFoundError(f"there is no node {node_id!r} (alertmail cluster status lists them)")


def _name(node: ClusterNode) -> str:
    """How the e-mails name a node: its id, and where it is when that says more."""
    where = node.advertised_url or node.hostname
    return node.node_id if where in ("", node.node_id) else f"{node.node_id} ({where})"
