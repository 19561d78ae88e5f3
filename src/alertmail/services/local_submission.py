"""Queueing what local programs submit, through `alertmail sendmail` or the loopback SMTP listener.

Both hand the message over as bytes with its envelope; it is checked and completed (see
`domain.submission`), then stored in the outbox as it is. It is accepted once its row is
committed, which is when `submit` returns; the delivery worker sends it later, through the
configured relay and authentication, with the configured From address.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from alertmail.domain.mail_api import graph_size_problem
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message
from alertmail.domain.ports import OutboxRepository, SettingsRepository
from alertmail.domain.settings import MailSettings
from alertmail.domain.submission import (
    LOCAL_SUBMISSION_EVENT_TYPE,
    MessageTooLargeError,
    SubmissionSource,
    TooLargeForApiError,
    prepare_submission,
)
from alertmail.services.clock import Clock, utc_now
from alertmail.services.group_commit import GroupCommit

__all__ = ["LocalSubmissionService"]

logger = logging.getLogger(__name__)


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
        if len(raw) > self._max_bytes:
            raise MessageTooLargeError(len(raw), self._max_bytes)
        settings = (await self._settings.load()).settings
        from_address = settings.from_address
        now = self._clock()
        submission = prepare_submission(
            raw,
            recipients=recipients,
            recipients_from_headers=recipients_from_headers,
            envelope_from=envelope_from,
            full_name=full_name,
            from_address=from_address,
            now=now,
        )
        _check_api_size(settings, submission.raw)
        queued = new_outbox_message(
            event_type=LOCAL_SUBMISSION_EVENT_TYPE,
            recipients=submission.recipients,
            subject=submission.subject,
            text="",
            html="",
            from_address=from_address,
            now=now,
            policy=self._policy,
        )
        # The message's own Message-ID (kept or just added) is the one every attempt carries.
        queued = dataclasses.replace(
            queued, message_id=submission.message_id, source=source, raw=submission.raw
        )
        stored = await self._intake.submit(queued)
        if self._on_queued is not None:
            self._on_queued()
        logger.info(
            "queued %s from %s for %d recipient(s), Message-ID %s",
            stored.id,
            source,
            len(stored.recipients),
            stored.message_id,
        )
        return stored


def _check_api_size(settings: MailSettings, raw: str) -> None:
    """Refuse now what Microsoft Graph would refuse at every attempt: never queued to die."""
    if settings.email_type != "graph":
        return
    # As sent: UTF-8, lines ending in CRLF (the stored text ends them in LF).
    size = len(raw.encode("utf-8")) + raw.count("\n") - raw.count("\r\n")
    problem = graph_size_problem(size)
    if problem is not None:
        raise TooLargeForApiError(problem)
