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

A primary that hangs (stopped, swapping, wedged) keeps its connection and so the lock, but its
heartbeat stops: once a backup has seen no new heartbeat from it for three heartbeats, it is an
outage too, and the backup that takes over first ends the hung primary's database session
(`PrimaryLock.fence`): the lock is freed, and the old primary steps down when it wakes, since its
lock check fails. A node whose backup operations are disabled never takes over.

Traffic nodes never take the lock. Only the primary runs `run_while_primary` jobs (the scheduler)
and mails the failover checks' problems (`cluster_checks.py`); every node probes its own checks and
delivers mail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from alertmail.domain.cluster_checks import NodeCheck
from alertmail.domain.ports import (
    ClusterNode,
    ClusterObserver,
    NodeRepository,
    NodeRole,
    PrimaryLock,
)
from alertmail.errors import ConflictError, NotFoundError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.cluster_checks import (
    CHECK_CLEARED,
    FailoverChecks,
    OncePerIncident,
    describe,
    incident_key,
)

__all__ = ["ClusterOptions", "ClusterService", "NodeState", "NodeStatus", "node_state"]

logger = logging.getLogger(__name__)

NodeState = Literal["primary", "backup", "traffic", "down"]

PROBE_FAILED = {
    True: "failover.primary_probe_failed_failover_enabled",
    False: "failover.primary_probe_failed_failover_disabled",
}
BECOMING_PRIMARY = "failover.backup_becoming_primary"
VERSION_MISMATCH = "failover.version_mismatch"


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
    checks: tuple[NodeCheck, ...] = ()  # the node's failover checks as last probed

    @property
    def problems(self) -> tuple[NodeCheck, ...]:
        return tuple(check for check in self.checks if check.failing)


def node_state(node: ClusterNode, now: datetime, stale_after: timedelta) -> NodeState:
    if now - node.last_heartbeat > stale_after:
        return "down"
    if node.is_primary:
        return "primary"
    return "backup" if node.role == "primary-capable" else "traffic"


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
        raise_once: OncePerIncident,
        checks: FailoverChecks,
        options: ClusterOptions,
        *,
        observer: ClusterObserver | None = None,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nodes = nodes
        self._lock = lock
        self._raise_once = raise_once
        self._checks = checks
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
        self._heard: dict[str, tuple[datetime, float]] = {}  # node id -> (its last heartbeat, seen at)
        self._serves_http = True

    @property
    def options(self) -> ClusterOptions:
        return self._options

    @property
    def is_primary(self) -> bool:
        return self._primary

    # --- what the interfaces ask --------------------------------------------------------------

    async def status(self) -> list[NodeStatus]:
        now = self._clock()
        recorded = await self._checks.recorded()
        return [
            NodeStatus(
                node,
                node_state(node, now, self._options.stale_after),
                node.node_id == self._options.node_id,
                tuple(check for check in recorded if check.node_id == node.node_id),
            )
            for node in await self._nodes.list()
        ]

    async def set_backup_operations(self, node_id: str | None, *, enabled: bool) -> ClusterNode:
        """Enable or disable a node's backup operations (this node by default)."""
        target = node_id or self._options.node_id
        node = _find(await self._nodes.list(), target)
        if node.role == "traffic":
            raise ConflictError(f"{target} is a traffic node: it has no backup operations")
        return await self._nodes.set_backup_operations(target, enabled=enabled, now=self._clock())

    async def promote(
        self, node_id: str | None = None, *, wait: float = 30.0, poll: float = 0.5
    ) -> ClusterNode:
        """Ask a backup (this node by default) to take the free lock, and wait until it has."""
        target = node_id or self._options.node_id
        node = _find(await self._nodes.list(), target)
        if node.role == "traffic":
            raise ConflictError(f"{target} is a traffic node: traffic nodes never become primary")
        if node.backup_disabled_since is not None:
            raise ConflictError(
                f"{target}'s backup operations are disabled: enable them first"
                f" (alertmail cluster backup-operations enable --node {target})"
            )
        if await self._lock.held_by_anyone():
            if node.is_primary:
                return node
            if not _silent_primary(await self._nodes.list(), self._clock(), self._options.stale_after):
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

    async def run_forever(self, *, serves_http: bool = True) -> None:
        """Register, then heartbeat (and elect, and check) until cancelled; step down on the way out.

        `serves_http`: whether this process answers HTTP (`serve`) or not (`worker`): a node without
        it advertises no URL, so nobody probes it, and it does not probe itself.
        """
        self._serves_http = serves_http
        registered = False
        checks = asyncio.create_task(self._check_forever(), name="failover-checks")
        try:
            while True:
                try:
                    if not registered:
                        await self._register()
                        registered = True
                    await self.tick()
                    self._checks.outages.succeeded(self._clock(), primary=self._primary)
                except Exception:  # a database hiccup must not end the heartbeat
                    self._checks.outages.failed(self._clock())
                    logger.exception("cluster heartbeat failed; trying again")
                await asyncio.sleep(self._options.heartbeat)
        finally:
            checks.cancel()
            await asyncio.wait([checks])
            await self._leave()

    async def _check_forever(self) -> None:
        """Every check interval: probe this node's checks; on the primary, mail what they found."""
        while True:
            # First wait: the node's own /healthz is not up before its server is.
            await asyncio.sleep(self._checks.options.interval)
            try:
                await self.check_round()
            except Exception:
                logger.exception("the failover checks failed; trying again")

    async def check_round(self) -> None:
        nodes = await self._nodes.list()
        me = next((n for n in nodes if n.node_id == self._options.node_id), None)
        if me is None:
            return  # not registered yet
        await self._checks.probe_round(me, nodes, primary=self._primary, serves_http=self._serves_http)
        if self._primary:
            now = self._clock()
            stale = self._options.stale_after
            await self._checks.report({n.node_id for n in nodes if node_state(n, now, stale) != "down"})

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
        url = o.advertised_url if self._serves_http else ""
        await self._nodes.register(
            ClusterNode(o.node_id, o.hostname, url, o.version, o.role, now, now, is_primary=False)
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
        me = next((n for n in nodes if n.node_id == self._options.node_id), None)
        recorded = next((n for n in nodes if n.is_primary and n.node_id != self._options.node_id), None)
        hung = self._primary_hung(recorded)  # heard on every tick, so silence is measured from the first
        held = await self._lock.held_by_anyone()
        if held and not hung:
            await self._outage_over(nodes)
            return
        if me is not None and me.backup_disabled_since is not None:
            if recorded is not None:
                await self._outage_seen(recorded)  # still say the primary is gone; never take over
            return
        promoted = me is not None and me.promote_requested
        if recorded is None or promoted:
            # a cold start, a primary that stepped down cleanly, or a promotion by hand
            if await self._take(fence=held):
                self._outage = None
            return
        outage = await self._outage_seen(recorded)
        waited = self._monotonic() - outage.since
        if (
            self._options.automatic_failover
            and waited >= self._options.grace
            and await self._take(fence=held)
        ):
            self._outage = None
            details = {
                "node": self._options.node_id,
                "primary": describe(outage.primary),
                "down_for": f"{waited:.0f} s",
            }
            await self._raise_once(
                BECOMING_PRIMARY, outage.incident, details, dedupe_key=outage.primary.node_id
            )

    def _primary_hung(self, recorded: ClusterNode | None) -> bool:
        """The other node recorded as primary, whose heartbeat has not moved for three heartbeats.

        Measured on this node's monotonic clock from when its heartbeat was last seen to change, so
        a clock difference between the hosts cannot make a live primary look hung.
        """
        if recorded is None:
            return False
        now = self._monotonic()
        heard = self._heard.get(recorded.node_id)
        if heard is None or heard[0] != recorded.last_heartbeat:
            self._heard[recorded.node_id] = (recorded.last_heartbeat, now)
            return False
        return now - heard[1] > self._options.stale_after.total_seconds()

    async def _take(self, *, fence: bool = False) -> bool:
        if fence:
            ended = await self._lock.fence()
            logger.error("ended %d database session(s) of a hung primary that kept the lock", ended)
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
        details = {"node": self._options.node_id, "primary": describe(recorded)}
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

    def _observe(self) -> None:
        if self._observer is not None:
            self._observer.node_state(self._options.role, self._primary)


def _silent_primary(nodes: Sequence[ClusterNode], now: datetime, stale_after: timedelta) -> bool:
    """The recorded primary holds the lock but has stopped heartbeating (by the clocks' say)."""
    return any(n.is_primary and node_state(n, now, stale_after) == "down" for n in nodes)


def _find(nodes: Sequence[ClusterNode], node_id: str) -> ClusterNode:
    for node in nodes:
        if node.node_id == node_id:
            return node
    raise NotFoundError(f"there is no node {node_id!r} (alertmail cluster status lists them)")
