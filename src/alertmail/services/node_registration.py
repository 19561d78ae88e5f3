"""A node's name in the cluster: taken at start, refused while another live process holds it.

Two nodes that start under one name (two hosts left at the default, or `serve` and `worker` on one
host) would write one row: kill either and no backup ever sees an outage. So a node takes its name
with its own instance id and a compare-and-set: the row is free when nobody holds it (a node that
stopped cleanly gives it back), when the holder is this process, or when the holder's heartbeat is
older than `stale_after` (it died without saying). A holder whose heartbeat is fresh may be a
process that crashed a moment ago: the newcomer waits for one stale period (and a heartbeat)
before refusing, with an error that says to set ALERTMAIL_NODE_NAME.

On SQLite there is a single node by design (`serve`, `worker` and the CLI share its name), so the
name is taken without the check (`ClusterOptions.exclusive_name`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from alertmail.domain.ports import ClusterNode, NodeRepository
from alertmail.errors import NodeNameInUseError
from alertmail.services.clock import Clock

__all__ = ["NodeRegistration"]


class NodeRegistration:
    def __init__(
        self,
        nodes: NodeRepository,
        *,
        exclusive: bool,
        stale_after: timedelta,
        heartbeat: float,
        clock: Clock,
        monotonic: Callable[[], float],
    ) -> None:
        self._nodes = nodes
        self._exclusive = exclusive
        self._stale_after = stale_after
        self._heartbeat = heartbeat
        self._clock = clock
        self._monotonic = monotonic
        self.instance_id = uuid.uuid4().hex

    async def register(self, node: ClusterNode) -> None:
        """Take `node.node_id`, or raise `NodeNameInUseError` if a live process keeps holding it."""
        deadline = self._monotonic() + self._stale_after.total_seconds() + self._heartbeat
        while True:
            holder = await self._nodes.register(
                node, instance_id=self.instance_id, live_since=self._live_since()
            )
            if holder is None:
                return
            if self._monotonic() >= deadline:
                raise _in_use(holder)
            await asyncio.sleep(self._heartbeat)

    async def leave(self, node_id: str) -> None:
        """Give the name back: a restart takes it at once instead of waiting for it to go stale."""
        await self._nodes.release_name(node_id, instance_id=self.instance_id)

    def _live_since(self) -> datetime | None:
        return self._clock() - self._stale_after if self._exclusive else None


def _in_use(holder: ClusterNode) -> NodeNameInUseError:
    return NodeNameInUseError(
        f"another live node already runs as {holder.node_id!r} (host {holder.hostname}, last"
        f" heartbeat {holder.last_heartbeat:%Y-%m-%d %H:%M:%S %Z}): give each node its own name"
        " with ALERTMAIL_NODE_NAME"
    )
