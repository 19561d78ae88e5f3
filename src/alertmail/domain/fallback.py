"""The fallback transport: when to use it, which settings it sends with, and the state every node shares.

The primary transport is the one the mail settings describe. The fallback is a second, complete
transport (`fallback_*` settings). When the primary has failed relay-wide without a break for
`fallback_after_minutes`, mail goes through the fallback until a probe of the primary (connect,
TLS, authenticate, no message) succeeds. A run of failures is broken by a quiet period: when the
primary was not tried for longer than the threshold (no mail, none held), a failure hours ago says
nothing about the primary now, and the next failure starts a new run (`run_is_broken`). A
failure that is one message's or one recipient's own never counts: only failures whose
classification scope is the relay do (see services/delivery_lanes.affects_whole_relay).

The state lives in the database (one row) so that every node sends through the same transport; it
changes only by compare-and-set on `generation`, and the notice that tells the administrators is
written in the same transaction as the change (`TransportSwitch`). Everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol, get_args

if TYPE_CHECKING:
    from alertmail.domain.settings import MailSettings

__all__ = [
    "FALLBACK_EMAIL_TYPES",
    "FALLBACK_STARTED",
    "NO_FALLBACK",
    "PRIMARY_RESTORED",
    "ActiveTransport",
    "FallbackEmailType",
    "PrimaryFailure",
    "TransportState",
    "TransportStateRepository",
    "TransportSwitch",
    "failure_run_start",
    "fallback_configured",
    "fallback_view",
    "run_is_broken",
    "should_use_fallback",
]

# The kinds of transport a fallback can be: the one list to extend (with the `fallback_` fields a
# kind needs in `FALLBACK_FIELDS` and a transport under that name). Graph: app-only only.
FallbackEmailType = Literal["none", "smtp", "native", "graph"]
FALLBACK_EMAIL_TYPES: tuple[str, ...] = get_args(FallbackEmailType)
NO_FALLBACK = "none"
FallbackAuthType = Literal["none", "basic"]

ActiveTransport = Literal["primary", "fallback"]
FALLBACK_STARTED = "transport.fallback_started"
PRIMARY_RESTORED = "transport.primary_restored"

# The fallback's own fields and the primary field each one stands for in the fallback's settings.
FALLBACK_FIELDS: dict[str, str] = {
    "fallback_email_type": "email_type",
    "fallback_hostname": "hostname",
    "fallback_port": "port",
    "fallback_encryption": "encryption",
    "fallback_auth_type": "auth_type",
    "fallback_username": "username",
    "fallback_password": "password",
    "fallback_graph_endpoint": "graph_endpoint",
    "fallback_tenant_id": "tenant_id",
    "fallback_client_id": "client_id",
    "fallback_client_secret": "client_secret",
}


@dataclass(frozen=True)
class PrimaryFailure:
    """The primary's relay-wide failure, as Mail Server Logs classified it."""

    category: str
    message: str
    hint: str


@dataclass(frozen=True)
class TransportState:
    """Which transport every node sends through, since when, and how the primary is doing.

    `primary_failing_since`: the start of the primary's current run of relay-wide failures (None
    while it works), `primary_last_failed_at` the latest of them (None in a row written before it
    was kept: the run's start stands in); `failure` what the latest said. `generation` moves with
    every switch."""

    active: ActiveTransport = "primary"
    active_since: datetime | None = None
    primary_failing_since: datetime | None = None
    primary_last_failed_at: datetime | None = None
    failure: PrimaryFailure | None = None
    next_probe_at: datetime | None = None
    generation: int = 0


@dataclass(frozen=True)
class TransportSwitch:
    """A change of the active transport, applied only if the state is still at `expected_generation`.

    Written as the first statement of the transaction that also records its notice, so the notice
    exists exactly once cluster-wide (a node that lost the race writes neither)."""

    to: ActiveTransport
    at: datetime
    expected_generation: int
    next_probe_at: datetime | None = None


def run_is_broken(last_failed_at: datetime, threshold: timedelta, now: datetime) -> bool:
    """Whether the primary's run of failures ended in a quiet period: nothing was tried (and failed)
    on it for longer than `threshold` before `now`. Within the threshold a relay that is down is
    tried again (the worker's backoff, a probe, the next message), so a longer silence means there
    was nothing to send, not that the relay kept failing."""
    return now - last_failed_at > threshold


def failure_run_start(
    failing_since: datetime | None, last_failed_at: datetime | None, threshold: timedelta, at: datetime
) -> datetime:
    """The start of the run a relay-wide failure at `at` belongs to: the current run's, or `at`
    itself when there is none or it was broken by a quiet period."""
    if failing_since is None or run_is_broken(last_failed_at or failing_since, threshold, at):
        return at
    return failing_since


def should_use_fallback(
    failing_since: datetime | None,
    threshold: timedelta,
    now: datetime,
    *,
    last_failed_at: datetime | None,
    primary_held: bool = False,
) -> bool:
    """Whether the primary has failed relay-wide without a break for at least `threshold` at `now`.

    A run broken by a quiet period never counts (the next message tries the primary first), unless
    this node holds mail back because of the primary (its backoff, or a configuration it waits on):
    held mail is not quiet, the primary is simply not being tried in the meantime."""
    if failing_since is None:
        return False
    if not primary_held and run_is_broken(last_failed_at or failing_since, threshold, now):
        return False
    return now - failing_since >= threshold


def fallback_configured(settings: MailSettings) -> bool:
    return settings.fallback_email_type != NO_FALLBACK


def fallback_view(settings: MailSettings) -> MailSettings:
    """The settings the fallback transport sends with: the primary's From address, contacts, trust
    store, time-outs and pacing, with the fallback's own transport fields. No OAuth2 but a Graph
    fallback's app-only sign-in: its token endpoint on its cloud's login host for its tenant, the
    scope `{endpoint}/.default`."""
    update: dict[str, object] = {"oauth_provider": None, "oauth_grant": "authorization_code"}
    update |= {primary: getattr(settings, own) for own, primary in FALLBACK_FIELDS.items()}
    if settings.fallback_email_type == "graph":
        update |= _graph_app_only(settings.fallback_graph_endpoint, settings.fallback_tenant_id)
    else:
        update["client_secret"] = None
    return settings.model_copy(update=update)


def _graph_app_only(endpoint: str, tenant: str) -> dict[str, object]:
    # Imported here: settings_presets imports the settings model, which imports this module.
    from alertmail.domain.settings_presets import login_host

    return {
        "auth_type": "oauth2",
        "oauth_provider": "microsoft",
        "oauth_grant": "client_credentials",
        "token_endpoint": f"{login_host(endpoint)}/{tenant}/oauth2/v2.0/token",
        "authorization_endpoint": "",
        "device_authorization_endpoint": "",
        "scopes": f"{endpoint}/.default",
    }


class TransportStateRepository(Protocol):
    """The one row of transport state (see `TransportState`)."""

    async def load(self) -> TransportState: ...

    async def primary_failed(
        self, at: datetime, failure: PrimaryFailure, threshold: timedelta
    ) -> TransportState:
        """Note a relay-wide failure of the primary: the run's start is kept unless a quiet period
        longer than `threshold` broke it (`failure_run_start`), the failure replaced."""
        ...

    async def primary_worked(self) -> None:
        """The primary sent or passed its probe: its run of failures is over."""
        ...

    async def claim_probe(
        self, now: datetime, next_probe_at: datetime, *, due_or_not: bool = False
    ) -> TransportState | None:
        """While on the fallback, take the due probe of the primary (one node per interval): the
        state with the probe moved to `next_probe_at`, or None when none is due or another node took it.
        `due_or_not`: take it even if not due yet (the settings just changed)."""
        ...

    async def switch(self, switch: TransportSwitch) -> bool:
        """Apply `switch` alone, without a notice (the fallback was switched off); False if it lost."""
        ...
