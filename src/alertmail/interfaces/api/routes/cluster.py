"""/api/v1/cluster: the nodes on the shared database, their roles, heartbeats and states."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from alertmail.interfaces.api.deps import AdministratorDep, ContainerDep
from alertmail.services.cluster import NodeState, NodeStatus

router = APIRouter(prefix="/api/v1/cluster", tags=["cluster"])


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
