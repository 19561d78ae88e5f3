"""A local program's message made into an outbox message: the part of queueing that reads and
writes nothing, shared by the listener's service (local_submission.py) and sendmail's direct path.

`queue_directly` is that direct path: synchronous, on a `DirectOutbox`, for a process that queues
one message and exits (no event loop, no SQLAlchemy, no pydantic to import).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime

from alertmail.domain.local_queue import DirectOutbox, LocalSender
from alertmail.domain.mail_api import graph_size_problem
from alertmail.domain.outbox import OutboxMessage, RetryPolicy, new_outbox_message
from alertmail.domain.submission import (
    LOCAL_SUBMISSION_EVENT_TYPE,
    MessageTooLargeError,
    SubmissionSource,
    TooLargeForApiError,
    prepare_submission,
)
from alertmail.services.clock import Clock, utc_now

__all__ = ["Envelope", "check_size", "local_outbox_message", "log_queued", "queue_directly"]

logger = logging.getLogger("alertmail.services.local_submission")


@dataclasses.dataclass(frozen=True)
class Envelope:
    """How the program handed the message over (see LocalSubmissionService.submit)."""

    recipients: Sequence[str]
    envelope_from: str | None
    source: SubmissionSource
    recipients_from_headers: bool = False
    full_name: str = ""


def check_size(raw: bytes, max_bytes: int) -> None:
    if len(raw) > max_bytes:
        raise MessageTooLargeError(len(raw), max_bytes)


def local_outbox_message(
    raw: bytes, envelope: Envelope, *, sender: LocalSender, policy: RetryPolicy, now: datetime
) -> OutboxMessage:
    """The message to queue, checked and completed; raises a `SubmissionError` saying what is wrong."""
    submission = prepare_submission(
        raw,
        recipients=envelope.recipients,
        recipients_from_headers=envelope.recipients_from_headers,
        envelope_from=envelope.envelope_from,
        full_name=envelope.full_name,
        from_address=sender.from_address,
        now=now,
    )
    _check_api_size(sender, submission.raw)
    queued = new_outbox_message(
        event_type=LOCAL_SUBMISSION_EVENT_TYPE,
        recipients=submission.recipients,
        subject=submission.subject,
        text="",
        html="",
        from_address=sender.from_address,
        now=now,
        policy=policy,
    )
    # The message's own Message-ID (kept or just added) is the one every attempt carries.
    return dataclasses.replace(
        queued, message_id=submission.message_id, source=envelope.source, raw=submission.raw
    )


def queue_directly(
    outbox: DirectOutbox,
    raw: bytes,
    envelope: Envelope,
    *,
    policy: RetryPolicy,
    max_bytes: int,
    clock: Clock = utc_now,
) -> OutboxMessage | None:
    """Queue on `outbox`; the stored message, committed. None, with nothing queued, when no mail
    settings were saved yet (the async path then queues it with the defaults)."""
    check_size(raw, max_bytes)
    sender = outbox.sender()
    if sender is None:
        return None
    queued = local_outbox_message(raw, envelope, sender=sender, policy=policy, now=clock())
    outbox.enqueue(queued)
    log_queued(queued)
    return queued


def log_queued(stored: OutboxMessage) -> None:
    logger.info(
        "queued %s from %s for %d recipient(s), Message-ID %s",
        stored.id,
        stored.source,
        len(stored.recipients),
        stored.message_id,
    )


def _check_api_size(sender: LocalSender, raw: str) -> None:
    """Refuse now what Microsoft Graph would refuse at every attempt: never queued to die."""
    if sender.email_type != "graph":
        return
    # As sent: UTF-8, lines ending in CRLF (the stored text ends them in LF).
    size = len(raw.encode("utf-8")) + raw.count("\n") - raw.count("\r\n")
    problem = graph_size_problem(size)
    if problem is not None:
        raise TooLargeForApiError(problem)
