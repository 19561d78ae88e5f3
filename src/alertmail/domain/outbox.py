"""The outbox as a state machine, and the retry policy that moves a message through it.

    queued ──claim──▶ sending ──▶ sent
      ▲                  │
      │                  ├──▶ retry_wait ──(due)──▶ sending ...    retryable failure
      │                  ├──▶ waiting_config ──(settings saved, re-authorized)──▶ queued
      │                  └──▶ dead                 550 recipient, or past the lifetime
      └──────── retry by an administrator (dead, waiting_config)

A `sending` row whose lease expired (its worker crashed) is claimed again: delivery is at least
once, and the Message-ID stays the same across attempts so receivers can tell a repeat.

Everything here is pure: time and randomness come in as arguments.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, get_args

from alertmail.domain.classification_matchers import Scope
from alertmail.domain.message import new_message_id

__all__ = [
    "DEAD_AT_ONCE",
    "MAX_REPLY_TEXT",
    "OUTBOX_STATUSES",
    "FailureDecision",
    "FailureStatus",
    "HeldStatus",
    "OutboxMessage",
    "OutboxStatus",
    "RecipientOutcome",
    "RecipientReply",
    "RecipientState",
    "RecipientsSettled",
    "RetryPolicy",
    "WaitingFor",
    "decide",
    "new_outbox_message",
    "next_attempt",
    "settle_recipients",
]

OutboxStatus = Literal["queued", "sending", "sent", "retry_wait", "waiting_config", "dead"]
FailureStatus = Literal["retry_wait", "waiting_config", "dead"]
HeldStatus = Literal["retry_wait", "waiting_config"]  # where a claimed message that was never tried goes
RecipientState = Literal["sent", "pending", "dead"]
OUTBOX_STATUSES: tuple[OutboxStatus, ...] = get_args(OutboxStatus)
_MAX_EXPONENT = 64  # far past any cap; keeps `factor ** n` finite
MAX_REPLY_TEXT = 500  # a relay's reply kept per recipient: enough for any real one, bounded for a hostile one


@dataclass(frozen=True)
class RecipientReply:
    """The relay's last answer about one recipient it refused at RCPT TO (`550`, `5.1.1 <a@b>: unknown`)."""

    code: int | None  # None: the refusal came with no SMTP reply code
    text: str

    def __str__(self) -> str:
        return self.text if self.code is None else f"{self.code} {self.text}"


@dataclass(frozen=True)
class RecipientOutcome:
    """One recipient of a message: what became of it, and the relay's refusal of it if any."""

    address: str
    state: RecipientState
    reply: RecipientReply | None


@dataclass(frozen=True, kw_only=True)
class OutboxMessage:
    """One e-mail to send, as stored. `next_attempt_at` is None when no attempt is planned."""

    id: str
    event_type: str
    dedupe_key: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str  # the RFC 5322 Message-ID, the same on every attempt
    status: OutboxStatus = "queued"
    attempts: int = 0  # attempts started: a claim counts one, even if its worker then crashed
    next_attempt_at: datetime | None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    last_error: str = ""
    last_category: str = ""
    created_at: datetime
    sent_at: datetime | None = None
    expires_at: datetime  # created_at + the policy's lifetime; informative, the policy decides
    source: str = "event"  # event | digest | sendmail | smtp-listener
    raw: str | None = None  # a local program's message as submitted; subject/text/html then unused
    # Each recipient's outcome once an attempt reached only some of them; a recipient not named is
    # pending. A `sent` message reached every recipient.
    recipient_states: Mapping[str, RecipientState] = field(default_factory=dict)
    # Each refused recipient's own last reply; dropped once the recipient is accepted.
    recipient_replies: Mapping[str, RecipientReply] = field(default_factory=dict)
    # When it became dead (refused, expired, given up or cancelled); None whenever it is not dead.
    dead_at: datetime | None = None
    # What a `waiting_config` message was refused under (see services/delivery.py).
    waiting_settings_version: int | None = None
    waiting_sign_in: datetime | None = None
    transport: str = ""  # which transport sent it: "primary" or "fallback" (domain/fallback.py)

    def state_of(self, recipient: str) -> RecipientState:
        if self.status == "sent":
            return "sent"
        return self.recipient_states.get(recipient, "pending")

    @property
    def recipient_outcomes(self) -> tuple[RecipientOutcome, ...]:
        return tuple(
            RecipientOutcome(r, self.state_of(r), self.recipient_replies.get(r)) for r in self.recipients
        )

    @property
    def pending_recipients(self) -> tuple[str, ...]:
        """The recipients an attempt still has to reach."""
        return tuple(r for r in self.recipients if self.state_of(r) == "pending")

    @property
    def delivered_recipients(self) -> tuple[str, ...]:
        return tuple(r for r in self.recipients if self.state_of(r) == "sent")

    @property
    def undelivered_recipients(self) -> tuple[str, ...]:
        return tuple(r for r in self.recipients if self.state_of(r) != "sent")


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, and a lifetime after which a message is dead.

    Shorter than RFC 5321's relay defaults on purpose (see PROTOCOL-NOTES.md): alerts are urgent.
    """

    first_delay: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    max_delay: timedelta = timedelta(minutes=30)
    jitter: float = 0.2  # a delay is shortened by up to this fraction, so the cap still holds
    lifetime: timedelta = timedelta(days=2)

    def __post_init__(self) -> None:
        if self.first_delay <= timedelta(0) or self.max_delay < self.first_delay:
            raise ValueError("need 0 < first_delay <= max_delay")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("need factor >= 1 and 0 <= jitter < 1")
        if self.lifetime <= timedelta(0):
            raise ValueError("need a positive lifetime")


def new_outbox_message(
    *,
    event_type: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str,
    from_address: str,
    now: datetime,
    policy: RetryPolicy,
    dedupe_key: str = "",
) -> OutboxMessage:
    """A queued message, due now, with a fresh id and the Message-ID all its attempts will carry."""
    return OutboxMessage(
        id=str(uuid.uuid4()),
        event_type=event_type,
        dedupe_key=dedupe_key,
        recipients=tuple(recipients),
        subject=subject,
        text=text,
        html=html,
        message_id=new_message_id(from_address),
        next_attempt_at=now,
        created_at=now,
        expires_at=now + policy.lifetime,
    )


def next_attempt(
    policy: RetryPolicy, attempts: int, now: datetime, created_at: datetime, random_fraction: float
) -> datetime | None:
    """When to try again after `attempts` failed attempts (1 = the first); None: dead, past the lifetime.

    The delay is `first_delay * factor ** (attempts - 1)`, capped at `max_delay`, then shortened by
    `jitter * random_fraction` (random_fraction in [0, 1)) so that a batch that failed together
    does not retry together. The last attempt is moved up to the end of the lifetime, not past it.
    """
    if attempts < 1 or not 0 <= random_fraction < 1:
        raise ValueError("need attempts >= 1 and 0 <= random_fraction < 1")
    deadline = created_at + policy.lifetime
    if now >= deadline:
        return None
    exponent = min(attempts - 1, _MAX_EXPONENT)
    seconds = policy.first_delay.total_seconds() * policy.factor**exponent
    delay = timedelta(seconds=min(seconds, policy.max_delay.total_seconds()))
    return min(now + delay * (1 - policy.jitter * random_fraction), deadline)


@dataclass(frozen=True)
class WaitingFor:
    """The configuration a relay refused: a message waiting on it is released once it changes."""

    settings_version: int
    sign_in: datetime | None  # the OAuth2 sign-in's obtained_at; None without OAuth2


@dataclass(frozen=True)
class FailureDecision:
    status: FailureStatus
    next_attempt_at: datetime | None  # set only for retry_wait


# Non-retryable categories that no configuration change can fix: waiting would only delay the news.
DEAD_AT_ONCE: Mapping[str, str] = {
    "smtp_recipient": "the relay refused the recipient (550): a new attempt gets the same answer",
}


def decide(
    *,
    retryable: bool,
    category: str,
    scope: Scope = Scope.RELAY,
    policy: RetryPolicy,
    attempts: int,
    now: datetime,
    created_at: datetime,
    random_fraction: float,
) -> FailureDecision:
    """Where a failed attempt sends the message. The whole table:

    | failure                                               | next status                        |
    |-------------------------------------------------------|------------------------------------|
    | category in DEAD_AT_ONCE (`smtp_recipient`)           | dead                               |
    | non-retryable, about this message or its recipient    | dead: no configuration change can  |
    | (scope message/recipient: too large, bad recipient)   | make the same message go           |
    | retryable (timeout, refused, DNS, 4xx, quota...)      | retry_wait, at `next_attempt(...)` |
    | retryable, past the lifetime                          | dead                               |
    | other non-retryable (smtp_auth, oauth, oauth_reauth,  | waiting_config, until the settings |
    | tls_*, smtp_policy...)                                | change or a re-authorization       |
    """
    if category in DEAD_AT_ONCE:
        return FailureDecision("dead", None)
    if not retryable and scope is not Scope.RELAY:
        return FailureDecision("dead", None)
    if not retryable:
        return FailureDecision("waiting_config", None)
    when = next_attempt(policy, attempts, now, created_at, random_fraction)
    return FailureDecision("dead", None) if when is None else FailureDecision("retry_wait", when)


@dataclass(frozen=True)
class RecipientsSettled:
    """Where an attempt that reached some recipients and not others leaves the message."""

    states: Mapping[str, RecipientState]
    status: Literal["sent", "retry_wait", "dead"]
    next_attempt_at: datetime | None  # set only for retry_wait
    replies: Mapping[str, RecipientReply] = field(default_factory=dict)  # of recipients not accepted


def settle_recipients(
    message: OutboxMessage,
    refused: Mapping[str, RecipientReply],
    *,
    policy: RetryPolicy,
    now: datetime,
    random_fraction: float,
) -> RecipientsSettled:
    """The message after an attempt to its pending recipients in which `refused` (recipient ->
    the relay's reply) were refused at RCPT and the rest accepted.

    Accepted recipients are done for good; a 5xx refusal is final for that recipient, a 4xx one (or
    one without a code) leaves it pending for the next attempt (dead too once the lifetime is over).
    The message is `sent` when every recipient got it, `dead` when none is pending and one never got
    it. Each refused recipient keeps its own reply; an accepted one drops an earlier refusal.
    """
    states: dict[str, RecipientState] = {r: message.state_of(r) for r in message.recipients}
    replies = dict(message.recipient_replies)
    for recipient in message.pending_recipients:
        reply = refused.get(recipient)
        if reply is None:
            states[recipient] = "sent"
            replies.pop(recipient, None)
        else:
            states[recipient] = "dead" if reply.code is not None and reply.code >= 500 else "pending"
            replies[recipient] = reply
    when = None
    if "pending" in states.values():
        when = next_attempt(policy, message.attempts, now, message.created_at, random_fraction)
        if when is None:
            states = {r: "dead" if state == "pending" else state for r, state in states.items()}
    if when is not None:
        return RecipientsSettled(states, "retry_wait", when, replies)
    everyone = all(state == "sent" for state in states.values())
    return RecipientsSettled(states, "sent" if everyone else "dead", None, replies)
