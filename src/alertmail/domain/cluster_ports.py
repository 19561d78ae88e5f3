"""The ports of web sessions and of the cluster (several nodes on one PostgreSQL).

Re-exported by `alertmail.domain.ports`; kept apart so that module stays readable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from alertmail.domain.cluster_checks import CheckResult, InterfaceState, NodeCheck, ProbeOutcome
from alertmail.domain.records import (
    Administrator,
)

__all__ = [
    "ClusterNode",
    "ClusterObserver",
    "NetworkInterfaces",
    "NodeCheckRepository",
    "NodeRepository",
    "NodeRole",
    "PrimaryLock",
    "Prober",
    "WebSession",
    "WebSessionRepository",
]


# --- web UI sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser. `id` is the SHA-256 of the cookie's value: the value itself is not kept."""

    id: str
    administrator: Administrator
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str = ""


class WebSessionRepository(Protocol):
    async def add(self, session: WebSession) -> None: ...

    async def find(self, session_id: str) -> WebSession | None:
        """The session with this id and its administrator, expired or not; None when unknown."""
        ...

    async def touch(self, session_id: str, *, last_seen_at: datetime, expires_at: datetime) -> None: ...

    async def delete(self, session_id: str) -> None: ...

    async def delete_for_administrator(self, username: str, *, keep: str | None = None) -> None:
        """End every session of `username` but `keep` (after a password change)."""
        ...

    async def delete_expired(self, now: datetime) -> int: ...


# --- cluster: several nodes on one PostgreSQL -----------------------------------------------------

NodeRole = Literal["primary-capable", "traffic"]


@dataclass(frozen=True)
class ClusterNode:
    """One alertmail process on the shared database, as it last reported itself."""

    node_id: str
    hostname: str
    advertised_url: str
    version: str
    role: NodeRole
    started_at: datetime
    last_heartbeat: datetime
    is_primary: bool
    promote_requested: bool = False
    # Set by an administrator ("backup operations disabled"): the node never takes over as primary.
    backup_disabled_since: datetime | None = None
    # The database session holding the primary's lock (PostgreSQL backend pid): the one to fence.
    lock_session: int | None = None


class NodeRepository(Protocol):
    async def register(
        self, node: ClusterNode, *, instance_id: str, live_since: datetime | None
    ) -> ClusterNode | None:
        """Insert or replace the node's row (a restart keeps its id and clears a promotion request)
        for process `instance_id`; None when done. With `live_since`, another process whose
        heartbeat is newer keeps the row, and is returned."""
        ...

    async def release_name(self, node_id: str, *, instance_id: str) -> None:
        """The process stopped cleanly: its name is free for the next one at once."""
        ...

    async def heartbeat(self, node_id: str, *, now: datetime, is_primary: bool) -> None: ...

    async def mark_primary(self, node_id: str, *, lock_session: int | None = None) -> None:
        """Record `node_id` as the primary (holding the lock on `lock_session`), every other as not."""
        ...

    async def list(self) -> list[ClusterNode]: ...

    async def request_promotion(self, node_id: str) -> None: ...

    async def set_backup_operations(self, node_id: str, *, enabled: bool, now: datetime) -> ClusterNode:
        """Enable or disable the node's backup operations; NotFoundError for an unknown node."""
        ...


class NodeCheckRepository(Protocol):
    """The failover checks' results, per node: written by the node that probes, read by the primary."""

    async def record(self, node_id: str, results: Sequence[CheckResult], *, now: datetime) -> None:
        """Fold one probe round in: a problem newly found opens an incident (`since` = now)."""
        ...

    async def list(self) -> list[NodeCheck]: ...

    async def mark_mailed(self, node_id: str, check: str, since: datetime, *, mailed: bool) -> None:
        """Record that the incident starting at `since` was mailed (or its cleared note was)."""
        ...


class Prober(Protocol):
    """Reaches other nodes and the test addresses; never raises: a failure is an outcome."""

    async def http(self, url: str) -> ProbeOutcome:
        """GET `url`: ok when it answers 200."""
        ...

    async def tcp(self, host: str, port: int) -> ProbeOutcome:
        """Open a TCP connection: ok when it is accepted."""
        ...


class NetworkInterfaces(Protocol):
    def locate(self, ip: str) -> tuple[InterfaceState, str]:
        """Whether `ip` is on one of this host's interfaces, and that interface's name and state."""
        ...


class PrimaryLock(Protocol):
    """The primary's lock: held by one node at most, and released when its holder's connection ends."""

    async def try_acquire(self) -> bool: ...

    async def still_held(self) -> bool:
        """False once the connection holding the lock is gone, and the lock with it."""
        ...

    async def held_by_anyone(self) -> bool:
        """Whether some node (this one included) holds the lock now: the backups' primary probe."""
        ...

    async def release(self) -> None:
        """Let the lock go and close the connection that held it."""
        ...

    def session(self) -> int | None:
        """The database session this node holds the lock on (PostgreSQL backend pid), if any."""
        ...

    async def fence(self, session: int) -> int:
        """End `session` if it still holds the lock (a hung primary's); how many ended (0 or 1).

        Only that one: a backup whose view is a moment old must not end the new primary's."""
        ...


class ClusterObserver(Protocol):
    def node_state(self, role: str, is_primary: bool) -> None: ...

    def check_state(self, check: str, failing: bool) -> None:
        """This node's latest result of one failover check."""
        ...
