"""What the cluster looks like from one node: each node's state, and the primary's version watch.

A node is `down` once its heartbeat is older than the stale period; otherwise it is what it last
reported. The primary mails each live node whose version differs from its own once per incident,
and a cleared note once it matches again or is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from alertmail.domain.cluster_checks import NodeCheck
from alertmail.domain.ports import ClusterNode
from alertmail.errors import NotFoundError
from alertmail.services.clock import Clock
from alertmail.services.cluster_checks import CHECK_CLEARED, OncePerIncident, incident_key

__all__ = [
    "VERSION_MISMATCH",
    "NodeState",
    "NodeStatus",
    "VersionWatch",
    "find_node",
    "node_state",
    "silent_primary",
]

NodeState = Literal["primary", "backup", "traffic", "down"]
VERSION_MISMATCH = "failover.version_mismatch"


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


class VersionWatch:
    """The primary's check that every live node runs its version."""

    def __init__(
        self, raise_once: OncePerIncident, node_id: str, version: str, stale_after: timedelta, clock: Clock
    ) -> None:
        self._raise_once = raise_once
        self._node_id = node_id
        self._version = version
        self._stale_after = stale_after
        self._clock = clock
        self._mismatches: dict[str, str] = {}  # node id -> open version-mismatch incident

    async def check(self, nodes: Sequence[ClusterNode]) -> None:
        """Each live node whose version is not the primary's is one incident, mailed once."""
        now = self._clock()
        mine = self._version
        found: dict[str, str] = {}
        for node in nodes:
            if node.node_id == self._node_id or node.version == mine:
                continue
            if node_state(node, now, self._stale_after) == "down":
                continue
            incident = incident_key("version", node.node_id, node.version, mine, node.started_at.isoformat())
            found[node.node_id] = incident
            if self._mismatches.get(node.node_id) != incident:
                details = {
                    "node": node.node_id,
                    "primary": self._node_id,
                    "primary_version": mine,
                    "backup_version": node.version,
                }
                await self._raise_once(VERSION_MISMATCH, incident, details, dedupe_key=node.node_id)
        for node_id, incident in self._mismatches.items():
            if node_id not in found:
                details = {"node": node_id, "check": VERSION_MISMATCH}
                await self._raise_once(CHECK_CLEARED, incident, details, dedupe_key=node_id)
        self._mismatches = found


def silent_primary(nodes: Sequence[ClusterNode], now: datetime, stale_after: timedelta) -> bool:
    """The recorded primary holds the lock but has stopped heartbeating (by the clocks' say)."""
    return any(n.is_primary and node_state(n, now, stale_after) == "down" for n in nodes)


def find_node(nodes: Sequence[ClusterNode], node_id: str) -> ClusterNode:
    for node in nodes:
        if node.node_id == node_id:
            return node
    raise NotFoundError(f"there is no node {node_id!r} (alertmail cluster status lists them)")
