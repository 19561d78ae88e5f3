"""The outage of the recorded primary as one backup sees it, and the e-mails it causes.

The "primary probe failed" e-mail goes once per outage across the cluster (claimed with the event),
and a cleared note when the same primary comes back; a failover instead is told by the backup that
takes over (`BECOMING_PRIMARY`, in cluster.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alertmail.domain.ports import ClusterNode
from alertmail.services.cluster_checks import CHECK_CLEARED, OncePerIncident, describe, incident_key

__all__ = ["PROBE_FAILED", "Outage", "OutageMail"]

logger = logging.getLogger("alertmail.services.cluster")

PROBE_FAILED = {
    True: "failover.primary_probe_failed_failover_enabled",
    False: "failover.primary_probe_failed_failover_disabled",
}


@dataclass(frozen=True)
class Outage:
    """The recorded primary's lock is free: seen first at `since` (this process's monotonic clock)."""

    primary: ClusterNode
    incident: str
    since: float


class OutageMail:
    def __init__(
        self,
        raise_once: OncePerIncident,
        node_id: str,
        automatic: bool,
        grace: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._raise_once = raise_once
        self._node_id = node_id
        self._automatic = automatic
        self._grace = grace
        self._monotonic = monotonic
        self.current: Outage | None = None

    async def seen(self, recorded: ClusterNode) -> Outage:
        """The outage of `recorded`, opened (and mailed, once across the cluster) when first seen."""
        if self.current is not None and self.current.primary.node_id == recorded.node_id:
            return self.current
        incident = incident_key("primary", recorded.node_id, recorded.last_heartbeat.isoformat())
        self.current = Outage(recorded, incident, self._monotonic())
        automatic = self._automatic
        details = {"node": self._node_id, "primary": describe(recorded)}
        if automatic:
            details["grace_period"] = f"{self._grace:g} s"
        logger.error("primary %s does not hold the lock any more", recorded.node_id)
        await self._raise_once(PROBE_FAILED[automatic], incident, details, dedupe_key=recorded.node_id)
        return self.current

    async def over(self, nodes: Sequence[ClusterNode]) -> None:
        """The lock is held again. If the same primary came back (not a failover), say it cleared."""
        outage = self.current
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
        self.current = None
        if same:
            details = {"node": self._node_id, "check": PROBE_FAILED[self._automatic]}
            await self._raise_once(CHECK_CLEARED, outage.incident, details, dedupe_key=before.node_id)
