"""The node's place in the cluster, built for the composition root (composition.py).

On PostgreSQL the primary holds an advisory lock; on SQLite the one node always is primary. The
failover checks probe this node's network and its peers, and mail what they find once per incident.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import alertmail
from alertmail.adapters.metrics import PrometheusMetrics
from alertmail.adapters.network_interfaces import HostInterfaces
from alertmail.adapters.probes import NetworkProber
from alertmail.adapters.storage.database import Database
from alertmail.adapters.storage.node_check_repository import SqlNodeCheckRepository
from alertmail.adapters.storage.node_repository import SqlNodeRepository
from alertmail.adapters.storage.primary_lock import PostgresPrimaryLock, SingleNodeLock
from alertmail.config import AppConfig
from alertmail.domain.ports import PrimaryLock
from alertmail.services.clock import utc_now
from alertmail.services.cluster import ClusterOptions, ClusterService
from alertmail.services.cluster_checks import CheckOptions, FailoverChecks, OncePerIncident
from alertmail.services.notifications import NotificationService

__all__ = ["cluster_service"]


def cluster_service(
    config: AppConfig,
    database: Database,
    notifications: NotificationService,
    metrics: PrometheusMetrics,
    node: str,
) -> ClusterService:
    """The node's place in the cluster: on PostgreSQL the advisory lock; on SQLite always primary."""
    lock: PrimaryLock = (
        PostgresPrimaryLock(config.resolved_database_url, database.engine)
        if database.dialect == "postgresql"
        else SingleNodeLock()
    )
    options = ClusterOptions(
        node_id=node,
        hostname=config.node_hostname or socket.gethostname(),
        advertised_url=config.advertised_url or config.public_url,
        version=config.version_override or alertmail.__version__,
        role=config.node_role,
        heartbeat=config.heartbeat_seconds,
        grace=config.failover_grace_seconds,
        automatic_failover=config.automatic_failover,
        exclusive_name=database.dialect == "postgresql",  # SQLite: one node, its processes share it
    )
    sessions = database.sessionmaker
    raise_once = OncePerIncident(notifications, node, utc_now)
    checks = FailoverChecks(
        SqlNodeCheckRepository(sessions),
        NetworkProber(timeout=config.probe_timeout_seconds, verify=config.cluster_ca_file or True),
        HostInterfaces(),
        raise_once,
        CheckOptions(
            interval=config.failover_check_seconds,
            test_addresses=config.test_addresses,
            shared_ip=config.shared_ip,
            data_sync_threshold=timedelta(seconds=config.data_sync_threshold_seconds),
        ),
        observer=metrics,
    )
    return ClusterService(SqlNodeRepository(sessions), lock, raise_once, checks, options, observer=metrics)
