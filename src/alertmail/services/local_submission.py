"""Queueing what local programs submit, through `alertmail sendmail` or the loopback SMTP listener.

Both hand the message over as bytes with its envelope; it is checked and completed (see
`domain.submission`), then stored in the outbox as it is. It is accepted once its row is
committed, which is when `submit` returns; the delivery worker sends it later, through the
configured relay and authentication, with the configured From address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from alertmail.domain.local_queue import LocalSender
from alertmail.domain.outbox import OutboxMessage, RetryPolicy
from alertmail.domain.ports import OutboxRepository, SettingsRepository
from alertmail.domain.submission import SubmissionSource
from alertmail.services.clock import Clock, utc_now
from alertmail.services.group_commit import GroupCommit
from alertmail.services.local_message import (
    Envelope,
    check_size,
    local_outbox_message,
    log_queued,
)

__all__ = ["LocalSubmissionService"]


class LocalSubmissionService:
    def __init__(
        self,
        outbox: OutboxRepository,
        settings: SettingsRepository,
        *,
        policy: RetryPolicy,
        max_bytes: int,
        on_queued: Callable[[], None] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._on_queued = on_queued  # the listener in `serve`: send now, not at the next poll
        self._settings = settings
        self._policy = policy
        self._max_bytes = max_bytes
        self._clock = clock
        # Concurrent submissions (the listener's sessions) share a transaction: see group_commit.py.
        self._intake: GroupCommit[OutboxMessage, OutboxMessage] = GroupCommit(outbox.enqueue_many)

    @property
    def max_bytes(self) -> int:
        """The largest message accepted, in bytes."""
        return self._max_bytes

    async def submit(
        self,
        raw: bytes,
        *,
        recipients: Sequence[str],
        envelope_from: str | None,
        source: SubmissionSource,
        recipients_from_headers: bool = False,
        full_name: str = "",
    ) -> OutboxMessage:
        """Queue a local program's message; the stored row, committed.

        `recipients` are the envelope's; `recipients_from_headers` (sendmail -t) adds To, Cc and
        Bcc. Raises a `SubmissionError` saying what is wrong (no recipients, a bad address, an
        empty or oversized message), and then nothing is queued.
        """
        check_size(raw, self._max_bytes)
        settings = (await self._settings.load()).settings
        envelope = Envelope(recipients, envelope_from, source, recipients_from_headers, full_name)
        sender = LocalSender(settings.from_address, settings.email_type)
        queued = local_outbox_message(raw, envelope, sender=sender, policy=self._policy, now=self._clock())
        stored = await self._intake.submit(queued)
        if self._on_queued is not None:
            self._on_queued()
        log_queued(stored)
        return stored
