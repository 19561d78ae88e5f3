"""Recording what a batch came to: sent messages, recipients refused, failed messages, relay holds.

Each refused recipient and each failed message gets one Mail Server Logs entry. Recipients the
relay accepted are done for good; only the refused ones are tried again (4xx) or given up (5xx).
A message every recipient of which has ended is `sent`, or `dead` with a dead-letter notice that
names who got it and who did not. An outcome applies only while this worker still holds the
message's lease; a lost lease is logged and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from alertmail.domain.classification import Classification, Scope, classify
from alertmail.domain.outbox import (
    MAX_REPLY_TEXT,
    FailureDecision,
    OutboxMessage,
    RecipientReply,
    RetryPolicy,
    WaitingFor,
    decide,
    settle_recipients,
)
from alertmail.domain.ports import DeliveryObserver, OutboxRepository
from alertmail.domain.records import MailLogEntry
from alertmail.domain.settings import MailSettings, settings_snapshot
from alertmail.errors import ApiReplyError, SmtpReplyError, TransportError
from alertmail.services.clock import Clock
from alertmail.services.delivery_lanes import Attempt
from alertmail.services.sending import MailSendingService

__all__ = ["Batch", "DeadLetterHook", "Outcomes", "RelayState", "context_of"]

logger = logging.getLogger(__name__)

DeadLetterHook = Callable[[OutboxMessage, str], Awaitable[None]]
_INTERNAL_HINT = (
    "An unexpected error, not the relay's answer, stopped this message (the database may have been "
    "briefly unavailable). alertmail tries again; if it repeats, send the worker's log to support."
)

_EXPIRED_HINT = (
    "The relay never accepted this message in time. Fix the cause shown by the earlier entries, "
    "then retry the message from the outbox (alertmail outbox retry ID)."
)


@dataclass
class RelayState:
    """What the worker knows about the relay: a backoff, failures in a row, a refused configuration."""

    backoff_until: datetime | None = None
    failures: int = 0  # relay failures in a row: the relay's backoff, whatever message hit it
    blocked_on: WaitingFor | None = None


@dataclass
class Batch:
    """What one claimed batch came to."""

    attempts: list[Attempt] = field(default_factory=list)
    untried: list[OutboxMessage] = field(default_factory=list)
    relay_failure: tuple[Attempt, TransportError, Classification] | None = None


@dataclass(frozen=True)
class _Failure:
    message: OutboxMessage
    category: str
    retryable: bool
    reason: str
    retry_after: float | None = None  # seconds the provider asked to wait
    scope: Scope = Scope.RELAY  # what the refusal is about: only the relay's can wait for a fix


class Outcomes:
    def __init__(
        self,
        outbox: OutboxRepository,
        sending: MailSendingService,
        *,
        policy: RetryPolicy,
        owner: str,
        observer: DeliveryObserver,
        clock: Clock,
        random_fraction: Callable[[], float],
        on_dead_letter: DeadLetterHook | None,
    ) -> None:
        self._outbox = outbox
        self._sending = sending
        self._policy = policy
        self._owner = owner
        self._observer = observer
        self._clock = clock
        self._random = random_fraction
        self._on_dead_letter = on_dead_letter
        self.relay = RelayState()
        self._config: WaitingFor | None = None  # the configuration the batch was sent under
        self._transport = "primary"  # the transport the batch went through (domain/fallback.py)

    async def record(
        self, batch: Batch, settings: MailSettings, config: WaitingFor, *, transport: str = "primary"
    ) -> None:
        now = self._clock()
        self._config = config
        self._transport = transport
        sent = [a.message for a in batch.attempts if a.whole_message_sent]
        if sent:
            self.relay.failures = 0
            applied = await self._outbox.mark_sent_many(
                [m.id for m in sent], self._owner, now, transport=self._transport
            )
            self.lease_check(len(sent), applied, "sent")
            self._observer.sent(len(sent), [(now - m.created_at).total_seconds() for m in sent])
        relay_attempt = batch.relay_failure[0] if batch.relay_failure else None
        for attempt in batch.attempts:
            if not attempt.whole_message_sent and attempt is not relay_attempt:
                await self._record_attempt(attempt, settings, now)
        if batch.relay_failure is not None:
            await self._relay_failed(*batch.relay_failure, batch.untried, settings, now)
        elif batch.untried:
            await self._outbox.release_unattempted(
                [m.id for m in batch.untried], self._owner, status="retry_wait", next_attempt_at=now
            )

    def lease_check(self, expected: int, applied: int, what: str) -> None:
        """Log and count outcomes that found their lease taken over by another worker."""
        if applied < expected:
            lost = expected - applied
            logger.warning(
                "delivery: %d of %d message(s) %s had lost their lease to another worker, which "
                "sends them again; the lease is too short for this relay",
                lost,
                expected,
                what,
            )
            self._observer.lease_lost(lost)

    async def _record_attempt(self, attempt: Attempt, settings: MailSettings, now: datetime) -> None:
        if attempt.internal is not None:
            await self._internal(attempt.message, attempt.internal, settings, now)
        elif attempt.error is not None:
            await self._fail(attempt.message, attempt.error, classify(attempt.error), settings, now)
        else:
            await self._recipients(attempt, settings, now)

    async def _recipients(self, attempt: Attempt, settings: MailSettings, now: datetime) -> None:
        """Some recipients refused (or refused before): each one logged, the message settled."""
        message = attempt.message
        reasons = []
        for recipient, error in attempt.refused.items():
            classification = classify(error)
            context = f"{context_of(message)} to {recipient}"
            await self._sending.record_failure(
                error, classification, settings, context=context, transport=self._transport
            )
            self._observer.failed(classification.category)
            reasons.append(f"{recipient}: {classification.message}")
        replies = {r: reply_of(error) for r, error in attempt.refused.items()}
        settled = settle_recipients(
            message, replies, policy=self._policy, now=now, random_fraction=self._random()
        )
        reason = "; ".join(reasons) or message.last_error
        last_category = classify(next(iter(attempt.refused.values()))).category if attempt.refused else ""
        applied = await self._outbox.mark_recipients(
            message.id,
            self._owner,
            settled,
            now=now,
            last_error=reason,
            last_category=last_category,
            transport=self._transport,
        )
        self.lease_check(1, int(applied), settled.status)
        if settled.status == "sent":
            self._observer.sent(1, [(now - message.created_at).total_seconds()])
        elif settled.status == "retry_wait":
            self._observer.retry_scheduled()
        else:
            dead = replace(
                message, status="dead", recipient_states=settled.states, recipient_replies=settled.replies
            )
            await self.dead_lettered(dead, reason)

    async def _internal(
        self, message: OutboxMessage, error: Exception, settings: MailSettings, now: datetime
    ) -> None:
        # The first line only: a database error's further lines quote the statement and its values.
        text = (str(error).splitlines() or [""])[0][:300]
        reason = f"Unexpected {type(error).__name__} while sending: {text}".rstrip(": ")
        await self._sending.record(_entry(message, "internal", True, reason, _INTERNAL_HINT, settings, now))
        await self._settle_failure(_Failure(message, "internal", True, reason), now)

    async def _fail(
        self,
        message: OutboxMessage,
        error: TransportError,
        classification: Classification,
        settings: MailSettings,
        now: datetime,
        *,
        attempts: int | None = None,
    ) -> FailureDecision:
        await self._sending.record_failure(
            error, classification, settings, context=context_of(message), transport=self._transport
        )
        failure = _Failure(
            message,
            classification.category,
            classification.retryable,
            classification.message,
            classification.retry_after,
            _settled_scope(error, classification),
        )
        return await self._settle_failure(failure, now, attempts=attempts)

    async def _settle_failure(
        self, failure: _Failure, now: datetime, *, attempts: int | None = None
    ) -> FailureDecision:
        message = failure.message
        decision = self._decide(failure, message, now, attempts)
        if decision.status == "retry_wait" and failure.retry_after is not None:
            # The provider said how long (Retry-After): exactly that, no backoff, no jitter.
            decision = FailureDecision("retry_wait", now + timedelta(seconds=failure.retry_after))
        applied = await self._outbox.mark_failed(
            message.id,
            self._owner,
            now=now,
            status=decision.status,
            next_attempt_at=decision.next_attempt_at,
            last_error=failure.reason,
            last_category=failure.category,
            waiting_for=self._config if decision.status == "waiting_config" else None,
        )
        self.lease_check(1, int(applied), decision.status)
        self._observer.failed(failure.category)
        if decision.status == "retry_wait":
            self._observer.retry_scheduled()
        elif decision.status == "dead":
            await self.dead_lettered(replace(message, status="dead"), failure.reason)
        return decision

    def _decide(
        self, failure: _Failure, message: OutboxMessage, now: datetime, attempts: int | None
    ) -> FailureDecision:
        return decide(
            retryable=failure.retryable,
            category=failure.category,
            scope=failure.scope,
            policy=self._policy,
            attempts=message.attempts if attempts is None else attempts,
            now=now,
            created_at=message.created_at,
            random_fraction=self._random(),
        )

    async def _relay_failed(
        self,
        attempt: Attempt,
        error: TransportError,
        classification: Classification,
        untried: Sequence[OutboxMessage],
        settings: MailSettings,
        now: datetime,
    ) -> None:
        # A message on its first attempt must not bring an outage back to the first delay.
        self.relay.failures += 1
        message = attempt.message
        attempts = max(message.attempts, self.relay.failures)
        if attempt.error is not None:
            decision = await self._fail(message, error, classification, settings, now, attempts=attempts)
        else:  # a 421 to a recipient: that recipient's outcome, and a hold on the relay
            await self._recipients(attempt, settings, now)
            failure = _Failure(
                message, classification.category, classification.retryable, "", scope=classification.scope
            )
            decision = self._decide(failure, message, now, attempts)
        await self._hold_relay(decision, untried, now)

    async def _hold_relay(
        self, decision: FailureDecision, untried: Sequence[OutboxMessage], now: datetime
    ) -> None:
        ids = [m.id for m in untried]
        if decision.status == "waiting_config":
            self.relay.blocked_on = self._config
            await self._outbox.release_unattempted(
                ids, self._owner, status="waiting_config", next_attempt_at=None, waiting_for=self._config
            )
            return
        resume = decision.next_attempt_at or now + self._policy.first_delay
        self.relay.backoff_until = resume
        await self._outbox.release_unattempted(ids, self._owner, status="retry_wait", next_attempt_at=resume)

    async def expired(self, message: OutboxMessage, settings: MailSettings, now: datetime) -> None:
        """Dead-letter a message claimed past its lifetime, without trying it."""
        reason = (
            f"Gave up after {message.attempts - 1} attempt(s) over {_days(self._policy.lifetime)}: "
            f"{message.last_error or 'never sent'}"
        )
        await self._sending.record(_entry(message, "expired", False, reason, _EXPIRED_HINT, settings, now))
        applied = await self._outbox.mark_failed(
            message.id,
            self._owner,
            now=now,
            status="dead",
            next_attempt_at=None,
            last_error=reason,
            last_category="expired",
        )
        self.lease_check(1, int(applied), "expired")
        await self.dead_lettered(replace(message, status="dead"), reason)

    async def dead_lettered(self, message: OutboxMessage, reason: str) -> None:
        self._observer.dead_lettered()
        if self._on_dead_letter is not None and message.event_type != "delivery.dead_lettered":
            # Never about a dead-letter notice itself: that could chain without end.
            await self._on_dead_letter(message, reason)


def _entry(
    message: OutboxMessage,
    category: str,
    retryable: bool,
    reason: str,
    hint: str,
    settings: MailSettings,
    now: datetime,
) -> MailLogEntry:
    """A Mail Server Logs entry for a failure that is no reply of the relay."""
    return MailLogEntry(
        registered_at=now,
        auth_type=settings.auth_type,
        status="error",
        category=category,
        retryable=retryable,
        message=reason,
        hint=hint,
        settings_snapshot=settings_snapshot(settings),
        context=context_of(message),
    )


def _settled_scope(error: TransportError, classification: Classification) -> Scope:
    """What a failed message's refusal is about, for deciding whether it may wait for a fix.

    A mail API's rule names it (a recipient or the size: the message dies at once; a permission: it
    waits). An SMTP reply after DATA gets the message scope from its stage alone, and there a
    refusal such as DMARC's is about the sender's configuration, so it keeps waiting for a fix.
    """
    return classification.scope if isinstance(error, ApiReplyError) else Scope.RELAY


def reply_of(error: TransportError) -> RecipientReply:
    """A refusal of one recipient as kept with its outcome: the relay's code and text, bounded."""
    if isinstance(error, SmtpReplyError):
        return RecipientReply(error.code, error.message[:MAX_REPLY_TEXT])
    return RecipientReply(None, str(error)[:MAX_REPLY_TEXT])


def context_of(message: OutboxMessage) -> str:
    return f"outbox {message.id} ({message.event_type})"


def _days(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g} day(s)" if hours >= 24 else f"{hours:g} hour(s)"
