"""The loopback SMTP submission listener: local programs that speak SMTP hand their mail to it.

It asks for no AUTH, so it takes mail only from this machine: it listens on a loopback address
(127.0.0.1, ::1, localhost) and refuses any client that is not loopback. What it accepts is queued
(recipients = RCPT TO) and sent later through the configured relay; a message is accepted with
250 only once its outbox row is committed. Off by default: `ALERTMAIL_SMTP_LISTENER_PORT` turns it
on. `alertmail serve` runs it; any other long-running command can, with `configured_listener`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session

import alertmail
from alertmail.config import AppConfig
from alertmail.domain.submission import InvalidRecipientError, SubmissionError, valid_recipient
from alertmail.domain.transport_security import is_loopback
from alertmail.errors import AlertmailError
from alertmail.services.local_submission import LocalSubmissionService

__all__ = ["ListenerConfigurationError", "SmtpSubmissionListener", "configured_listener", "is_loopback"]

logger = logging.getLogger(__name__)

_STOP_GRACE = 5.0  # seconds a submission in progress gets to finish when the listener stops


class ListenerConfigurationError(AlertmailError):
    category = "configuration"


class SubmissionHandler:
    """aiosmtpd's hooks: loopback clients only, recipients checked at RCPT, the message queued at DATA."""

    def __init__(self, submission: LocalSubmissionService) -> None:
        self._submission = submission
        self._in_progress = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> object:
        peer = _peer_host(session)
        if not is_loopback(peer):
            logger.warning("refused mail from %s: the listener takes mail only from this machine", peer)
            return f"550 5.7.1 alertmail accepts mail here only from this machine (loopback); {peer} is not"
        return MISSING  # aiosmtpd records the sender

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> object:
        try:
            valid_recipient(address)
        except InvalidRecipientError as exc:
            return f"553 5.1.3 {_one_line(str(exc))}"
        return MISSING  # aiosmtpd adds the recipient

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._in_progress += 1
        self.idle.clear()
        try:
            return await self._queue(envelope)
        finally:
            self._in_progress -= 1
            if not self._in_progress:
                self.idle.set()

    async def _queue(self, envelope: Envelope) -> str:
        try:
            queued = await self._submission.submit(
                envelope.original_content or b"",
                recipients=envelope.rcpt_tos,
                envelope_from=envelope.mail_from or None,
                source="smtp-listener",
            )
        except SubmissionError as exc:
            return f"554 5.6.0 {_one_line(str(exc))}; nothing was queued"
        except Exception:
            # Not the message's fault (the database, most likely): a 4xx makes the client try again
            # later, where aiosmtpd's own answer to an exception would be a permanent 500.
            logger.exception("could not queue a message from the SMTP listener")
            return "451 4.3.0 The message could not be queued now; try again later"
        return f"250 2.0.0 Queued as {queued.id}"


class SmtpSubmissionListener:
    """An aiosmtpd server on the running event loop. `port` 0 picks a free port (see `.port`)."""

    def __init__(
        self,
        submission: LocalSubmissionService,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_bytes: int | None = None,
    ) -> None:
        if not is_loopback(host):
            raise ListenerConfigurationError(
                f"The SMTP listener cannot listen on {host!r} (ALERTMAIL_SMTP_LISTENER_HOST): it asks"
                " for no authentication, so it listens only on a loopback address such as 127.0.0.1,"
                " ::1 or localhost"
            )
        self._host = host
        self._requested_port = port
        self._max_bytes = max_bytes or submission.max_bytes
        self._handler = SubmissionHandler(submission)
        self._server: asyncio.Server | None = None
        self._sessions: set[_ListenerSMTP] = set()

    @property
    def port(self) -> int:
        """The port it listens on (the one the system picked when asked for 0)."""
        if self._server is None:
            raise RuntimeError("the SMTP listener is not running")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def host(self) -> str:
        return self._host

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(self._session, self._host, self._requested_port)
        except OSError as exc:
            raise ListenerConfigurationError(
                f"The SMTP listener cannot listen on {self._host} port {self._requested_port}: "
                f"{exc.strerror or exc}"
            ) from exc
        logger.info("SMTP submission listener on %s port %d", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening, let a submission in progress finish (briefly), then close every session."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._handler.idle.wait(), _STOP_GRACE)
        sessions = list(self._sessions)
        for session in sessions:
            session.hang_up()
        # aiosmtpd cancels a session's task when its connection is lost: wait for each to end.
        tasks = [session.task for session in sessions if session.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> SmtpSubmissionListener:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _session(self) -> _ListenerSMTP:
        return _ListenerSMTP(
            self._sessions,
            self._handler,
            hostname="localhost",  # not socket.getfqdn(), which can wait on DNS
            ident=f"alertmail {alertmail.__version__} local submission",
            data_size_limit=self._max_bytes,
            enable_SMTPUTF8=True,
            loop=asyncio.get_running_loop(),
        )


class _ListenerSMTP(SMTP):
    """aiosmtpd's SMTP session, known to its listener so that stopping can end it."""

    def __init__(self, sessions: set[_ListenerSMTP], handler: SubmissionHandler, **options: Any) -> None:
        self._sessions = sessions
        super().__init__(handler, **options)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._sessions.discard(self)

    def hang_up(self) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task aiosmtpd runs the conversation in."""
        task: asyncio.Task[None] | None = self._handler_coroutine
        return task


@asynccontextmanager
async def configured_listener(
    config: AppConfig, submission: LocalSubmissionService
) -> AsyncIterator[SmtpSubmissionListener | None]:
    """The listener the configuration asks for, running inside the block; None when it is off."""
    if not config.smtp_listener_port:
        yield None
        return
    listener = SmtpSubmissionListener(
        submission,
        host=config.smtp_listener_host,
        port=config.smtp_listener_port,
        max_bytes=config.local_submission_max_bytes,
    )
    async with listener:
        yield listener


def _peer_host(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer)


def _one_line(text: str) -> str:
    return " ".join(text.split())
