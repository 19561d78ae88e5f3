"""/api/v1/cluster: the nodes on the shared database, their roles, heartbeats, states and problems."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from alertmail.domain.cluster_checks import NodeCheck
from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep
from alertmail.interfaces.api.responses import not_found
from alertmail.interfaces.api.schemas import ErrorPublic
from alertmail.services.cluster import NodeState, NodeStatus

router = APIRouter(prefix="/api/v1/cluster", tags=["cluster"])


class CheckPublic(BaseModel):
    """A failover check that found its problem on the node's latest probe."""

    check: str  # the event type it is mailed as
    since: datetime | None
    checked_at: datetime
    mailed: bool  # the primary has mailed this incident
    details: dict[str, str]

    @classmethod
    def of(cls, check: NodeCheck) -> CheckPublic:
        return cls(
            check=check.check,
            since=check.since,
            checked_at=check.checked_at,
            mailed=check.mailed,
            details=dict(check.details),
        )


class NodePublic(BaseModel):
    node_id: str
    hostname: str
    advertised_url: str
    version: str
    role: str
    state: NodeState
    is_primary: bool
    started_at: datetime
    last_heartbeat: datetime
    this_node: bool
    backup_operations_enabled: bool
    backup_disabled_since: datetime | None
    problems: list[CheckPublic]

    @classmethod
    def of(cls, status: NodeStatus) -> NodePublic:
        node = status.node
        return cls(
            node_id=node.node_id,
            hostname=node.hostname,
            advertised_url=node.advertised_url,
            version=node.version,
            role=node.role,
            state=status.state,
            is_primary=node.is_primary,
            started_at=node.started_at,
            last_heartbeat=node.last_heartbeat,
            this_node=status.this_node,
            backup_operations_enabled=node.backup_disabled_since is None,
            backup_disabled_since=node.backup_disabled_since,
            problems=[CheckPublic.of(check) for check in status.problems],
        )


class ClusterPublic(BaseModel):
    node_id: str  # the node that answered
    is_primary: bool  # whether it holds the primary lock now
    automatic_failover: bool
    failover_grace_seconds: float
    nodes: list[NodePublic]


@router.get("", response_model=ClusterPublic)
async def read_cluster(container: ContainerDep, admin: AdministratorDep) -> ClusterPublic:
    cluster = container.cluster
    return ClusterPublic(
        node_id=cluster.options.node_id,
        is_primary=cluster.is_primary,
        automatic_failover=cluster.options.automatic_failover,
        failover_grace_seconds=cluster.options.grace,
        nodes=[NodePublic.of(status) for status in await cluster.status()],
    )


class BackupOperations(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # `0` and "yes" are not true/false

    enabled: bool


@router.put(
    "/nodes/{node_id}/backup-operations",
    response_model=NodePublic,
    responses={
        **not_found("node with this id"),
        409: {"model": ErrorPublic, "description": "A traffic node has no backup operations"},
    },
)
async def set_backup_operations(
    node_id: str, body: BackupOperations, container: ContainerDep, admin: AdministratorDep
) -> NodePublic:
    """Enable or disable a node's backup operations: a node with them disabled never takes over."""
    cluster = container.cluster
    await cluster.set_backup_operations(node_id, enabled=body.enabled)
    return next(NodePublic.of(s) for s in await cluster.status() if s.node.node_id == node_id)
