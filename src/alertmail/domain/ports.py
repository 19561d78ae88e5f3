"""The ports: what services need from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Literal, Protocol

from alertmail.domain.api_tokens import TokenScope
from alertmail.domain.cluster_checks import CheckResult, InterfaceState, NodeCheck, ProbeOutcome
from alertmail.domain.delivery_report import HourOutcomes, PageCursor
from alertmail.domain.events import Digest, Event, EventRecorded, EventType, RenderedMail, StoredEvent
from alertmail.domain.fallback import TransportSwitch
from alertmail.domain.oauth import OAuthTokens, PendingAuthorization, TokenGrant
from alertmail.domain.outbox import (
    FailureStatus,
    HeldStatus,
    OutboxMessage,
    OutboxStatus,
    RecipientsSettled,
    WaitingFor,
)
from alertmail.domain.records import (
    Administrator,
    ApiToken,
    AuditEntry,
    MailLogEntry,
    StoredSettings,
)
from alertmail.domain.schedule import RunClaim
from alertmail.domain.settings import MailSettings
from alertmail.errors import TransportError

__all__ = [
    "AccessTokenSource",
    "AdministratorRepository",
    "ApiTokenRepository",
    "AuditRepository",
    "ClusterNode",
    "ClusterObserver",
    "DeliveryObserver",
    "DeliveryReportRepository",
    "EventRenderer",
    "EventRepository",
    "GenerationRepository",
    "MailLogFile",
    "MailLogRepository",
    "MailSession",
    "MailTransport",
    "NetworkInterfaces",
    "NodeCheckRepository",
    "NodeRepository",
    "NodeRole",
    "OAuthAuthorizationRepository",
    "OAuthClient",
    "OAuthTokenRepository",
    "OutboxRepository",
    "PrimaryLock",
    "Prober",
    "RetentionRepository",
    "SecretBox",
    "SettingsRepository",
    "TokenInfoSource",
    "WebSession",
    "WebSessionRepository",
]


class MailSession(Protocol):
    """A connection to the relay, opened and authenticated once, that sends message after message."""

    @property
    def usable(self) -> bool: ...

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> Mapping[str, TransportError]:
        """Send to the recipients the relay accepts; the refused ones and the reply to each."""
        ...

    async def close(self) -> None: ...


class MailTransport(Protocol):
    """Hands messages to the relay or the local MTA, or raises a `TransportError`."""

    async def send(
        self, message: EmailMessage, recipients: Sequence[str], settings: MailSettings
    ) -> None: ...

    async def open_session(self, settings: MailSettings) -> MailSession: ...


class SecretBox(Protocol):
    """Symmetric encryption for secrets at rest. Tokens are opaque text safe to store."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, token: str) -> str: ...


class SettingsRepository(Protocol):
    async def load(self) -> StoredSettings: ...

    async def save(
        self, settings: MailSettings, *, expected_version: int, actor: str, audit: AuditEntry
    ) -> StoredSettings:
        """Store a new version and its audit entry in one transaction.

        Raises `ConflictError` when the stored version is no longer `expected_version`.
        """
        ...


class MailLogRepository(Protocol):
    async def add(self, entry: MailLogEntry) -> MailLogEntry: ...

    async def list(
        self,
        *,
        limit: int = 100,
        category: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
    ) -> Sequence[MailLogEntry]:
        """Newest first; `since` inclusive, `until` exclusive; skip the first `offset` entries."""
        ...


class MailLogFile(Protocol):
    """The supplemental log file on disk (`<data dir>/logs/mail.log`)."""

    def write(self, entry: MailLogEntry) -> None: ...


class AdministratorRepository(Protocol):
    async def add(self, username: str, email: str | None, password_hash: str) -> Administrator: ...

    async def get(self, username: str) -> Administrator | None: ...

    async def password_hash(self, username: str) -> str | None: ...

    async def list(self) -> Sequence[Administrator]: ...

    async def set_email(self, username: str, email: str | None) -> None: ...

    async def set_password_hash(self, username: str, password_hash: str) -> None: ...

    async def remove(self, username: str) -> None:
        """Remove an administrator (their API tokens and web sessions go with them).

        Raises `NotFoundError` for an unknown one and `ConflictError` for the last one: an appliance
        nobody can sign in to is worse than one administrator too many.
        """
        ...


class ApiTokenRepository(Protocol):
    async def add(
        self,
        name: str,
        administrator: str,
        token_hash: str,
        *,
        scope: TokenScope = "admin",
        expires_at: datetime | None = None,
    ) -> ApiToken:
        """Raises `ConflictError` when a token of that name exists, `NotFoundError` for no such owner."""
        ...

    async def find(self, token_hash: str) -> ApiToken | None:
        """The token with this hash, its `last_used_at` touched, or None (expired ones too)."""
        ...

    async def list(self) -> Sequence[ApiToken]: ...

    async def remove(self, name: str) -> None:
        """Revoke: the row goes, so the token matches nothing. `NotFoundError` for no such name."""
        ...


class GenerationRepository(Protocol):
    """A counter every change to cached data bumps (in the change's own transaction)."""

    async def current(self) -> int: ...


class AuditRepository(Protocol):
    async def list(self, *, limit: int = 100) -> Sequence[AuditEntry]: ...


# --- OAuth2 ---------------------------------------------------------------------------------------


class AccessTokenSource(Protocol):
    """What the SMTP transport asks for an access token right before AUTH XOAUTH2."""

    async def access_token(self, settings: MailSettings, *, force_refresh: bool = False) -> str:
        """A current access token for `settings`, refreshed ahead of expiry; raises `OAuthError`.

        `force_refresh`: the relay refused the token it was given; get a new one if one can be had.
        """
        ...

    async def token_accepted(self, settings: MailSettings) -> None:
        """The relay accepted the token: the sign-in works end to end."""
        ...


class OAuthClient(Protocol):
    """The provider's authorization and token endpoints. Errors are raised as `OAuthError`."""

    def authorization_url(
        self, settings: MailSettings, *, redirect_uri: str, state: str, code_verifier: str
    ) -> str:
        """The URL to send the browser to: code flow with PKCE S256."""
        ...

    async def preflight(self, authorization_url: str, *, time_limit: float | None = None) -> None:
        """Ask the authorization endpoint without a browser; raise `OAuthError` when it refuses the
        request outright (unknown client, redirect URI mismatch), which it would otherwise only
        show on its own page and never send back to the callback. `time_limit`: the whole request."""
        ...

    async def exchange_code(
        self, settings: MailSettings, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant: ...

    async def refresh(self, settings: MailSettings, refresh_token: str) -> TokenGrant: ...

    async def client_credentials(self, settings: MailSettings) -> TokenGrant: ...


class TokenInfoSource(Protocol):
    """A provider's own account of an access token it cannot be read from (Google's are opaque)."""

    async def google_token_info(self, settings: MailSettings, access_token: str) -> Mapping[str, object]:
        """Google's token-info answer (`aud`, `scope`, `exp`, ...); raises `OAuthError`."""
        ...


class OAuthTokenRepository(Protocol):
    """The one set of tokens of the configured account; secrets encrypted at rest."""

    async def load(self) -> OAuthTokens | None: ...

    async def save(self, tokens: OAuthTokens) -> OAuthTokens:
        """Store new tokens whatever is stored (a sign-in); returned with their new generation."""
        ...

    async def save_if_current(self, tokens: OAuthTokens) -> OAuthTokens | None:
        """Compare-and-set: store only if the row is still at `tokens.generation`; None if it moved."""
        ...

    async def mark_accepted(self, generation: int, at: datetime) -> None:
        """The relay accepted the access token of `generation`: recorded if that is still stored."""
        ...

    async def delete(self) -> None: ...

    def refresh_lock(self) -> AbstractAsyncContextManager[None]:
        """Held while refreshing, so that processes sharing the database refresh one at a time."""
        ...


class OAuthAuthorizationRepository(Protocol):
    """Sign-ins in progress. The state is stored hashed and the PKCE verifier encrypted."""

    async def add(self, pending: PendingAuthorization) -> None: ...

    async def claim(self, state: str, now: datetime) -> PendingAuthorization | None:
        """Atomically mark a pending, unexpired sign-in as claimed and return it; None when the
        state is unknown, already used or expired. A state can be claimed once."""
        ...

    async def finish(self, state: str, *, succeeded: bool, message: str, reason: str) -> None: ...

    async def get(self, state: str) -> PendingAuthorization | None: ...


class OutboxRepository(Protocol):
    """The outbox's storage (see `alertmail.domain.outbox` for the states)."""

    async def enqueue(self, message: OutboxMessage) -> OutboxMessage: ...

    async def enqueue_many(self, messages: Sequence[OutboxMessage]) -> list[OutboxMessage]:
        """One transaction for them all; accepted once it returns."""
        ...

    async def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]: ...

    async def mark_sent_many(
        self, ids: Sequence[str], owner: str, now: datetime, *, transport: str = "primary"
    ) -> int: ...

    async def mark_failed(
        self,
        id: str,
        owner: str,
        *,
        now: datetime,
        status: FailureStatus,
        next_attempt_at: datetime | None,
        last_error: str,
        last_category: str,
        waiting_for: WaitingFor | None = None,
    ) -> bool: ...

    async def mark_recipients(
        self,
        id: str,
        owner: str,
        settled: RecipientsSettled,
        *,
        now: datetime,
        last_error: str,
        last_category: str,
        transport: str = "primary",
    ) -> bool: ...

    async def release_unattempted(
        self,
        ids: Sequence[str],
        owner: str,
        *,
        status: HeldStatus,
        next_attempt_at: datetime | None,
        waiting_for: WaitingFor | None = None,
    ) -> int: ...

    async def renew_leases(self, ids: Sequence[str], owner: str, until: datetime) -> int: ...

    async def release_waiting(self, now: datetime) -> int: ...

    async def release_retrying(self, now: datetime) -> int: ...

    async def release_changed(self, now: datetime, current: WaitingFor) -> int: ...

    async def retry(self, id: str, now: datetime) -> OutboxMessage: ...

    async def get(self, id: str) -> OutboxMessage | None: ...

    async def list(self, status: OutboxStatus | None = None, limit: int = 100) -> list[OutboxMessage]: ...

    async def counts(self) -> dict[OutboxStatus, int]: ...

    async def cancel(self, id: str, now: datetime) -> OutboxMessage:
        """A queued or retrying message given up by hand (dead); `ConflictError` for any other status."""
        ...


class DeliveryReportRepository(Protocol):
    """The outbox as the Delivery page reads it: pages on indexed columns, counts, outcomes per hour."""

    async def page(
        self,
        *,
        status: OutboxStatus | None,
        before: PageCursor | None,
        limit: int,
        created: tuple[datetime | None, datetime | None] = (None, None),
    ) -> list[OutboxMessage]:
        """Newest first (created_at, then id, both descending), strictly after `before`; queued
        within `created` (from inclusive, to exclusive; None leaves that end open)."""
        ...

    async def count_dead_since(self, since: datetime) -> int:
        """Messages that became dead at `since` or later (by `dead_at`, not by when they were queued)."""
        ...

    async def hourly(self, since: datetime) -> list[HourOutcomes]:
        """Hours since `since` in which a message was queued or became dead, oldest first: sent and
        retried count the messages queued in the hour, dead those that became dead in it."""
        ...

    async def daily(self, since: datetime) -> list[HourOutcomes]:
        """The same per UTC day (`hour` is then the day's midnight)."""
        ...


class DeliveryObserver(Protocol):
    """What the delivery worker reports as it goes (metrics)."""

    def sent(self, count: int, latencies: Sequence[float]) -> None: ...

    def failed(self, category: str) -> None: ...

    def retry_scheduled(self) -> None: ...

    def dead_lettered(self) -> None: ...

    def lease_lost(self, count: int) -> None: ...


class EventRepository(Protocol):
    """Events, their coalescing windows and the outbox rows they cause, written together."""

    async def record_many(
        self,
        events: Sequence[Event],
        *,
        window: timedelta,
        max_mailed_keys: int,
        make_messages: Callable[[list[Event]], Awaitable[list[OutboxMessage | None]]],
        claim: RunClaim | TransportSwitch | None = None,
    ) -> list[EventRecorded]:
        """One transaction for the batch; the results in the order of `events`.

        With `claim`: written first in the same transaction; `AlreadyClaimedError` (nothing
        written) when the job already ran for that period."""
        ...

    async def take_due_digests(
        self, now: datetime, build: Callable[[Digest], OutboxMessage | None], *, limit: int = 50
    ) -> int: ...

    async def list(
        self,
        *,
        event_type: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        disposition: str | None = None,
        before: PageCursor | None = None,
    ) -> list[StoredEvent]:
        """Newest first (received_at, then id, both descending), strictly after `before`."""
        ...

    async def count(self, *, event_type: str | None = None) -> int: ...


class RetentionRepository(Protocol):
    """Housekeeping: purge what is old enough, count mail that has waited too long."""

    async def purge(self, *, records_before: datetime, logs_before: datetime) -> dict[str, int]: ...

    async def stuck(self, *, waiting_since: datetime) -> dict[str, int]: ...


class EventRenderer(Protocol):
    """Turns an event, or a window's repeats, into the e-mail's subject, text and HTML."""

    def render_event(self, event_type: EventType, event: Event) -> RenderedMail: ...

    def render_digest(self, event_type: EventType, digest: Digest) -> RenderedMail: ...


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
