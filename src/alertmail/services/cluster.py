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
(`PrimaryLock.fence`, of the session the primary recorded as its lock's, never whoever holds the
lock now): the lock is freed, and the old primary steps down when it wakes, since its
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
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alertmail.domain.ports import (
    ClusterNode,
    ClusterObserver,
    NodeRepository,
    NodeRole,
    PrimaryLock,
)
from alertmail.errors import ConflictError, NodeNameInUseError
from alertmail.services.clock import Clock, utc_now
from alertmail.services.cluster_checks import (
    FailoverChecks,
    OncePerIncident,
    describe,
)
from alertmail.services.cluster_outage import OutageMail
from alertmail.services.cluster_status import (
    NodeState,
    NodeStatus,
    VersionWatch,
    find_node,
    node_state,
    silent_primary,
)
from alertmail.services.node_registration import NodeRegistration

__all__ = ["ClusterOptions", "ClusterService", "NodeState", "NodeStatus", "node_state"]

logger = logging.getLogger(__name__)


BECOMING_PRIMARY = "failover.backup_becoming_primary"


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
    exclusive_name: bool = False  # refuse a name a live node holds (PostgreSQL; see node_registration)

    @property
    def stale_after(self) -> timedelta:
        """A node whose last heartbeat is older than this is down."""
        return timedelta(seconds=3 * self.heartbeat)


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
        self._outages = OutageMail(
            raise_once, options.node_id, options.automatic_failover, options.grace, monotonic
        )
        self._versions = VersionWatch(
            raise_once, options.node_id, options.version, options.stale_after, clock
        )
        self._heard: dict[str, tuple[datetime, float]] = {}  # node id -> (its last heartbeat, seen at)
        self._serves_http, self._registered = True, False
        self._registration = NodeRegistration(
            nodes,
            exclusive=options.exclusive_name,
            stale_after=options.stale_after,
            heartbeat=options.heartbeat,
            clock=clock,
            monotonic=monotonic,
        )

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
        node = find_node(await self._nodes.list(), target)
        if node.role == "traffic":
            raise ConflictError(f"{target} is a traffic node: it has no backup operations")
        return await self._nodes.set_backup_operations(target, enabled=enabled, now=self._clock())

    async def promote(
        self, node_id: str | None = None, *, wait: float = 30.0, poll: float = 0.5
    ) -> ClusterNode:
        """Ask a backup (this node by default) to take the free lock, and wait until it has."""
        target = node_id or self._options.node_id
        node = find_node(await self._nodes.list(), target)
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
            if not silent_primary(await self._nodes.list(), self._clock(), self._options.stale_after):
                raise ConflictError(
                    "the primary still holds the lock; stop it first (systemctl stop alertmail on it),"
                    " then promote"
                )
        await self._nodes.request_promotion(target)
        deadline = self._monotonic() + wait
        while self._monotonic() < deadline:
            await asyncio.sleep(poll)
            node = find_node(await self._nodes.list(), target)
            if node.is_primary and not node.promote_requested:
                return node
        raise ConflictError(
            f"{target} did not take over within {wait:g} s: is it running? (alertmail cluster status)"
        )

    # --- the node's own loop ------------------------------------------------------------------

    async def register(self, *, serves_http: bool = True) -> None:
        """Take this node's name before serving: `NodeNameInUseError` if a live node holds it.

        `serves_http`: whether this process answers HTTP (`serve`) or not (`worker`): a node without
        it advertises no URL, so nobody probes it, and it does not probe itself.
        """
        self._serves_http = serves_http
        await self._register()
        self._registered = True

    async def run_forever(self, *, serves_http: bool = True) -> None:
        """Register (unless `register` did), then heartbeat (and elect, and check) until cancelled;
        step down on the way out."""
        self._serves_http = serves_http
        checks = asyncio.create_task(self._check_forever(), name="failover-checks")
        try:
            while True:
                try:
                    if not self._registered:
                        await self.register(serves_http=serves_http)
                    await self.tick()
                    self._checks.outages.succeeded(self._clock(), primary=self._primary)
                except NodeNameInUseError:
                    raise  # not a hiccup: this node must not run under that name
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
            await self._versions.check(nodes)

    async def _register(self) -> None:
        now = self._clock()
        o = self._options
        url = o.advertised_url if self._serves_http else ""
        await self._registration.register(
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
            if self._registered:
                with suppress(Exception):  # else the name frees itself once its heartbeat is stale
                    await self._registration.leave(self._options.node_id)

    # --- election -----------------------------------------------------------------------------

    async def _elect(self, nodes: Sequence[ClusterNode]) -> None:
        me = next((n for n in nodes if n.node_id == self._options.node_id), None)
        recorded = next((n for n in nodes if n.is_primary and n.node_id != self._options.node_id), None)
        hung = self._primary_hung(recorded)  # heard on every tick, so silence is measured from the first
        held = await self._lock.held_by_anyone()
        if held and not hung:
            await self._outages.over(nodes)
            return
        if me is not None and me.backup_disabled_since is not None:
            if recorded is not None:
                await self._outages.seen(recorded)  # still say the primary is gone; never take over
            return
        promoted = me is not None and me.promote_requested
        # Fence only the recorded primary's own lock session: whoever holds the lock now may be a
        # backup that took over a moment ago, and must be left alone.
        fence = recorded.lock_session if held and recorded is not None else None
        if recorded is None or promoted:
            # a cold start, a primary that stepped down cleanly, or a promotion by hand
            if await self._take(fence=fence):
                self._outages.current = None
            return
        outage = await self._outages.seen(recorded)
        waited = self._monotonic() - outage.since
        if (
            self._options.automatic_failover
            and waited >= self._options.grace
            and await self._take(fence=fence)
        ):
            self._outages.current = None
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

    async def _take(self, *, fence: int | None = None) -> bool:
        if fence is not None:
            ended = await self._lock.fence(fence)
            logger.error("ended %d database session(s) of a hung primary that kept the lock", ended)
        if not await self._lock.try_acquire():
            return False
        # Primary from the moment the lock is ours: were the record below to fail, the lock must
        # not stay held by a node that does not know it is the primary.
        self._set_primary(True)
        logger.warning("node %s is now the primary", self._options.node_id)
        await self._nodes.mark_primary(self._options.node_id, lock_session=self._lock.session())
        return True

    def _set_primary(self, primary: bool) -> None:
        self._primary = primary
        if primary:
            self._stepped_down.clear()
            self._became_primary.set()
        else:
            self._became_primary.clear()
            self._stepped_down.set()
        self._observe()

    def _observe(self) -> None:
        if self._observer is not None:
            self._observer.node_state(self._options.role, self._primary)
