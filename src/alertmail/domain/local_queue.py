"""The port of `alertmail sendmail`'s direct path: the outbox, reached without the async stack.

The listener and the fallback path of sendmail queue through `OutboxRepository` and
`SettingsRepository` (ports.py), on the async engine. A process that queues one message and exits
needs two things of the database, and nothing else: the sender the message goes out as, and one
INSERT (see services/local_message.py and adapters/storage/direct_outbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from alertmail.domain.outbox import OutboxMessage

__all__ = ["DirectOutbox", "LocalSender"]


@dataclass(frozen=True)
class LocalSender:
    """What queueing a local program's message needs of the saved mail settings."""

    from_address: str
    email_type: str  # MailSettings.email_type: "graph" limits the size of what is queued


class DirectOutbox(Protocol):
    def sender(self) -> LocalSender | None:
        """The saved settings' sender; None before the mail settings were first saved."""
        ...

    def enqueue(self, message: OutboxMessage) -> None:
        """Store a new message; it is accepted once this returns (the row is committed)."""
        ...
