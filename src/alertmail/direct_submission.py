"""The composition root of `alertmail sendmail`'s direct path: one message queued with the
database driver alone, no event loop, no SQLAlchemy, no pydantic (see adapters/storage/direct_outbox.py).

It declines (None, nothing queued) whenever the full path (submission_composition.py) has work to
do first: a data directory or secret key file still to create, a database to create or upgrade,
mail settings never saved. The command then queues through the full path.
"""

from __future__ import annotations

from datetime import timedelta

from alertmail.adapters.storage.direct_outbox import open_direct_outbox
from alertmail.domain.outbox import OutboxMessage, RetryPolicy
from alertmail.queueing_config import QueueingConfig
from alertmail.services.local_message import Envelope, queue_directly

__all__ = ["submit_directly"]


def submit_directly(config: QueueingConfig, raw: bytes, envelope: Envelope) -> OutboxMessage | None:
    """The message queued and committed; None when the full path must queue it.

    Raises a `SubmissionError` for a message refused, `QueueUnreachableError` when the database
    cannot be reached."""
    if not config.resolved_secret_key_file.is_file():  # the full path creates it
        return None
    with open_direct_outbox(config.resolved_database_url) as outbox:
        if outbox is None:
            return None
        policy = RetryPolicy(lifetime=timedelta(hours=config.message_lifetime_hours))
        return queue_directly(
            outbox, raw, envelope, policy=policy, max_bytes=config.local_submission_max_bytes
        )
