"""Raising events from the host application's Python code.

    import alertmail
    alertmail.notify("failover.version_mismatch", {"primary_version": "1.4"})

    async with alertmail.Notifier() as notifier:        # one open database for many events
        await notifier.notify("backup.failed", {"job": "nightly"}, dedupe_key="nightly")

Configuration comes from the environment (`ALERTMAIL_DATA_DIR`, `ALERTMAIL_DATABASE_URL`, ...) as
for the `alertmail` command, or from an `AppConfig`. An event is accepted once `notify` returns:
it is then recorded and its e-mail queued (or folded into a digest) in the shared database, and
the delivery worker of `alertmail serve` or `alertmail worker` sends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.domain.events import EventRecorded, EventType

__all__ = ["Notifier", "notify"]


class Notifier:
    """Keeps the database open across events; register the application's own types on it."""

    def __init__(self, config: AppConfig | None = None, *, event_types: Iterable[EventType] = ()) -> None:
        self._config = config
        self._event_types = tuple(event_types)
        self._stack = AsyncExitStack()
        self._container: Container | None = None

    async def __aenter__(self) -> Notifier:
        container = await self._stack.enter_async_context(open_container(self._config or AppConfig()))
        for kind in self._event_types:
            container.notifications.catalog.register(kind)
        self._container = container
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._container = None
        await self._stack.aclose()

    async def notify(
        self, event_type: str, details: Mapping[str, Any] | None = None, *, dedupe_key: str | None = None
    ) -> EventRecorded:
        if self._container is None:
            raise RuntimeError("use `async with Notifier() as notifier:` before notify()")
        return await self._container.notifications.raise_event(
            event_type, details, dedupe_key=dedupe_key, source="python"
        )


def notify(
    event_type: str,
    details: Mapping[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    config: AppConfig | None = None,
) -> EventRecorded:
    """Raise one event from synchronous code (it opens and closes the database: use `Notifier` for many).

    Raises `UnknownEventTypeError` for a type not in the catalog and `SettingsValidationError` for
    bad details, before anything is written.
    """

    async def once() -> EventRecorded:
        async with Notifier(config) as notifier:
            return await notifier.notify(event_type, details, dedupe_key=dedupe_key)

    return asyncio.run(once())
