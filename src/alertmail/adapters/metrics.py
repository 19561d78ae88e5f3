"""Prometheus metrics, in a registry of their own (one per container, so tests never collide)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["PrometheusMetrics"]

_TOKEN_STATES = ("not_authorized", "valid", "expiring", "reauthorization_required")
_NODE_ROLES = ("primary-capable", "traffic")
_REFRESH_REASONS = ("expiring", "rejected", "requested", "app_only")
_TRANSPORTS = ("primary", "fallback")


class PrometheusMetrics:
    """The delivery worker's observer, plus gauges set from the database at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._add_delivery_metrics()
        self._add_state_metrics()
        self._add_cluster_metrics()

    def _counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, documentation, labels, registry=self.registry)

    def _add_delivery_metrics(self) -> None:
        self._sent = self._counter("alertmail_messages_sent", "Messages the relay accepted.")
        self._failed = self._counter(
            "alertmail_delivery_failures", "Failed delivery attempts, by error category.", ["category"]
        )
        self._retries = self._counter(
            "alertmail_delivery_retries", "Attempts that failed and were scheduled again."
        )
        self._dead = self._counter("alertmail_messages_dead_lettered", "Messages given up.")
        self._leases_lost = self._counter(
            "alertmail_delivery_leases_lost",
            "Messages whose lease another worker had taken over before their outcome was recorded.",
        )
        self._latency = Histogram(
            "alertmail_delivery_latency_seconds",
            "From a message's acceptance to the relay's acceptance.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
            registry=self.registry,
        )
        self._events = self._counter("alertmail_events_received", "Events received, by type.", ["type"])

    def _add_state_metrics(self) -> None:
        self._outbox = self._gauge(
            "alertmail_outbox_messages", "Messages in the outbox, by status.", ["status"]
        )
        self._token = self._gauge(
            "alertmail_oauth_token_state",
            "1 for the OAuth2 token's current state, 0 for the others.",
            ["state"],
        )
        self._refreshes = self._counter(
            "alertmail_oauth_token_refreshes",
            "Token requests to the OAuth2 provider, by reason: expiring (within the refresh margin),"
            " rejected (the relay refused the token), requested (keep-alive, by hand), app_only.",
            ["reason"],
        )
        for reason in _REFRESH_REASONS:  # shown at 0 from the start: "none yet" is the news
            self._refreshes.labels(reason=reason)
        self._transport = self._gauge(
            "alertmail_active_transport",
            "1 for the transport mail goes through now (primary, or fallback while the primary is down).",
            ["transport"],
        )

    def _add_cluster_metrics(self) -> None:
        self._node_role = self._gauge(
            "alertmail_node_role",
            "1 for this node's cluster role (primary-capable or traffic), 0 for the other.",
            ["role"],
        )
        self._node_primary = self._gauge(
            "alertmail_node_is_primary",
            "1 while this node holds the primary lock (runs the scheduler and the cluster checks).",
        )
        self._check_failing = self._gauge(
            "alertmail_failover_check_failing",
            "1 while this node's latest probe of the failover check found its problem, else 0.",
            ["check"],
        )

    # DeliveryObserver
    def sent(self, count: int, latencies: Sequence[float]) -> None:
        self._sent.inc(count)
        for seconds in latencies:
            self._latency.observe(max(seconds, 0.0))

    def failed(self, category: str) -> None:
        self._failed.labels(category=category).inc()

    def retry_scheduled(self) -> None:
        self._retries.inc()

    def dead_lettered(self) -> None:
        self._dead.inc()

    def lease_lost(self, count: int) -> None:
        self._leases_lost.inc(count)

    # the rest
    def event_received(self, event_type: str) -> None:
        self._events.labels(type=event_type).inc()

    def set_outbox(self, counts: Mapping[Any, int]) -> None:
        for status, count in counts.items():
            self._outbox.labels(status=status).set(count)

    def set_token_state(self, state: str | None) -> None:
        for known in _TOKEN_STATES:
            self._token.labels(state=known).set(1 if known == state else 0)

    def set_active_transport(self, active: str) -> None:
        for known in _TRANSPORTS:
            self._transport.labels(transport=known).set(1 if known == active else 0)

    def token_refreshed(self, reason: str) -> None:
        self._refreshes.labels(reason=reason).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # ClusterObserver
    def node_state(self, role: str, is_primary: bool) -> None:
        for known in _NODE_ROLES:
            self._node_role.labels(role=known).set(1 if known == role else 0)
        self._node_primary.set(1 if is_primary else 0)

    def check_state(self, check: str, failing: bool) -> None:
        self._check_failing.labels(check=check).set(1 if failing else 0)
