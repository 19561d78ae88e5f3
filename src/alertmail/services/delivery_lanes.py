"""Lanes: the worker's connections to the relay, and one attempt to send one message over one.

A lane keeps its session open across messages and batches, and closes it after `idle_close`
seconds unused. Before it connects it takes one of the cluster's connection tokens (`max_connections`
for every node together, services/pacing.py) and keeps it until it is closed; each message it sends
holds one of the cluster's message tokens (`messages_per_minute`).

An attempt never raises (but for cancellation): what happened, a refusal of some
recipients, a failure of the whole message, or an error that is no transport failure at all (the
database while fetching a token, a message that cannot be built), comes back as an `Attempt`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from alertmail.domain.classification import Classification, classify
from alertmail.domain.classification_matchers import Scope
from alertmail.domain.message import build_message
from alertmail.domain.outbox import OutboxMessage
from alertmail.domain.ports import MailSession, MailTransport
from alertmail.domain.settings import MailSettings
from alertmail.domain.submission import prepare_for_relay
from alertmail.errors import ApiReplyError, SmtpReplyError, TransportError
from alertmail.services.pacing import ClusterPacing

__all__ = ["Attempt", "Lane", "Lanes", "affects_whole_relay", "close_lane", "email_for"]

logger = logging.getLogger(__name__)

_MESSAGE_STAGES = frozenset({"mail", "rcpt", "data"})


def affects_whole_relay(error: TransportError, classification: Classification) -> bool:
    """Would the next message fail the same way? Then the batch stops and the relay is held.

    Yes for 421 at any stage, and for whatever fails before a message's envelope (connecting, TLS,
    the greeting, EHLO, the login, tokens, the local MTA). At MAIL FROM, RCPT and after DATA, yes
    when the classification's scope is the relay (throttling, a sending quota, a refused sender or
    login); a reply about one recipient or one message never holds the relay. A mail API's refusal
    holds the relay when its classification's scope is the relay.
    """
    if isinstance(error, ApiReplyError):
        # A mail API takes or refuses each message whole: its rule says whether the next one
        # would fare the same (a permission, a throttled mailbox) or not (a message too large).
        return classification.scope is Scope.RELAY
    if isinstance(error, SmtpReplyError) and error.code == 421:
        return True
    if not (isinstance(error, SmtpReplyError) and error.stage in _MESSAGE_STAGES):
        return True
    # The classification's scope: a reply at RCPT is the recipient's unless its rule says it is about
    # the relay (a sending quota, a refused sender), and at MAIL or DATA the rule decides.
    return classification.scope is Scope.RELAY


@dataclass
class Lane:
    """One connection to the relay, the cluster's connection token it holds, when it was last used."""

    session: MailSession | None = None
    last_used: float = 0.0
    token: str | None = None


@dataclass(frozen=True)
class Attempt:
    """What one attempt to send one message came to."""

    message: OutboxMessage
    refused: Mapping[str, TransportError] = field(default_factory=dict)  # recipient -> the reply
    error: TransportError | None = None  # the whole message failed
    internal: Exception | None = None  # not a transport failure: a bug, the database, bad content

    @property
    def whole_message_sent(self) -> bool:
        """Every recipient has the message now (and none was given up on before)."""
        failed = self.error is not None or self.internal is not None or bool(self.refused)
        return not failed and not self.message.recipient_states

    def relay_failure(self) -> tuple[TransportError, Classification] | None:
        """The failure in this attempt that is about the relay, not this message; None if none."""
        errors = [self.error] if self.error is not None else list(self.refused.values())
        for error in errors:
            classification = classify(error)
            if affects_whole_relay(error, classification):
                return error, classification
        return None


class Lanes:
    """Up to `max_connections` lanes, opened under one settings version."""

    def __init__(
        self, transports: Mapping[str, MailTransport], pacing: ClusterPacing, *, idle_close: float
    ) -> None:
        self._default = transports
        self._transports = transports
        self._pacing = pacing
        self._idle_close = idle_close
        self._lanes: list[Lane] = []
        self._version: object = None

    async def prepare(
        self, version: object, max_connections: int, transports: Mapping[str, MailTransport] | None = None
    ) -> bool:
        """Lanes for settings `version` (and transport), sending through `transports` (by E-mail
        Type; the fallback has its own); True when they changed since the last batch."""
        changed = version != self._version
        if changed:
            # New settings: connections opened under the old ones must not be reused.
            await self.close()
            self._version = version
            self._transports = transports or self._default
        while len(self._lanes) < max_connections:
            self._lanes.append(Lane())
        return changed

    @property
    def holding(self) -> bool:
        """Whether any lane holds a connection token."""
        return any(lane.token is not None for lane in self._lanes)

    def first(self, count: int) -> list[Lane]:
        return self._lanes[: max(1, min(len(self._lanes), count))]

    async def ready(self, lane: Lane, max_connections: int, still_needed: Callable[[], bool]) -> bool:
        """The lane holds a connection token, waited for while `still_needed()`; False once not."""
        if lane.token is None:
            lane.token = await self._pacing.take_connection(max_connections, still_needed)
        return lane.token is not None

    async def release(self, lane: Lane) -> None:
        """Close the lane's connection and give its connection token back to the cluster."""
        await close_lane(lane)
        token, lane.token = lane.token, None
        if token is not None:
            await self._pacing.give_back(token)

    async def attempt(
        self, lane: Lane, message: OutboxMessage, settings: MailSettings, now: datetime, *, wanted: int = 1
    ) -> Attempt:
        """Send `message`; `wanted`: the messages of the batch still to send, this one included."""
        try:
            refused = await self._send(lane, message, settings, now, wanted)
        except TransportError as error:
            return Attempt(message, error=error)
        except Exception as error:
            logger.exception(
                "delivery: unexpected %s while sending outbox %s", type(error).__name__, message.id
            )
            await close_lane(lane)  # the session may be half-way through a command
            return Attempt(message, internal=error)
        return Attempt(message, refused=refused)

    async def _send(
        self, lane: Lane, message: OutboxMessage, settings: MailSettings, now: datetime, wanted: int
    ) -> Mapping[str, TransportError]:
        email = email_for(message, settings, now)
        recipients = message.pending_recipients
        loop = asyncio.get_running_loop()
        fresh = True  # a connection that failed to open is not tried again here
        try:
            # The message's token first: the wait for it may outlast the connection's idle time.
            async with self._pacing.message(settings.messages_per_minute, wanted=wanted):
                fresh = await self._session(lane, settings)
                refused = await _session_of(lane).send(email, recipients)
        except TransportError as error:
            if fresh or isinstance(error, SmtpReplyError):
                raise
            # A reused connection the relay dropped since: one new connection, one more try.
            await close_lane(lane)
            async with self._pacing.message(settings.messages_per_minute):
                await self._session(lane, settings)
                refused = await _session_of(lane).send(email, recipients)
        lane.last_used = loop.time()
        return refused

    async def _session(self, lane: Lane, settings: MailSettings) -> bool:
        """Make sure the lane has an open session; True when it was opened just now."""
        idle = asyncio.get_running_loop().time() - lane.last_used
        if lane.session is not None and (not lane.session.usable or idle > self._idle_close):
            await close_lane(lane)
        if lane.session is not None:
            return False
        lane.session = await self._transports[settings.email_type].open_session(settings)
        return True

    async def close_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        for lane in self._lanes:
            if (
                lane.session is not None or lane.token is not None
            ) and now - lane.last_used > self._idle_close:
                await self.release(lane)

    async def close(self) -> None:
        lanes, self._lanes = self._lanes, []
        for lane in lanes:
            await self.release(lane)


def email_for(message: OutboxMessage, settings: MailSettings, now: datetime) -> EmailMessage:
    if message.raw is not None:
        return prepare_for_relay(message.raw, settings.from_address)
    return build_message(
        from_address=settings.from_address,
        to=message.recipients,
        subject=message.subject,
        text=message.text,
        html=message.html,
        sent_at=now,
        message_id=message.message_id,
    )


def _session_of(lane: Lane) -> MailSession:
    if lane.session is None:
        raise RuntimeError("the lane has no session")  # `_session` opened one just before
    return lane.session


async def close_lane(lane: Lane) -> None:
    session, lane.session = lane.session, None
    if session is not None:
        with suppress(Exception):  # closing a broken connection must not hide the real failure
            await session.close()
