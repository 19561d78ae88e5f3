"""Delivery through the local MTA's sendmail program (`sendmail -t -oi`).

With `-t` the MTA takes the recipients from the To, Cc and Bcc headers and removes Bcc before
delivery; `-oi` keeps a line holding a single dot from ending the message, and lines end in LF,
as the local MTA expects. Recipients the headers do not name are added as Bcc, so the envelope is
exactly `recipients`; a header naming an address outside `recipients` is refused, as `-t` would
deliver to it too. The envelope sender is `-f<from address>`, in the one-argument form so that no
address is ever read as an option.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from contextlib import suppress
from email.message import EmailMessage

from alertmail.adapters.header_recipients import addressed_to
from alertmail.domain.settings import MailSettings
from alertmail.errors import NativeTransportError, TransportError

__all__ = ["NativeSession", "NativeTransport"]

_OUTPUT_LIMIT = 500


class NativeTransport:
    """Hands a message to `program` (a sendmail-compatible MTA), or raises `NativeTransportError`.

    `timeout` bounds the whole run in seconds; a program still running then is killed. Exit status
    75 (EX_TEMPFAIL) is the MTA's "try again later" and is classified as retryable.
    """

    def __init__(self, program: str = "/usr/sbin/sendmail", *, timeout: float = 60.0) -> None:
        self._program = program
        self._timeout = timeout

    async def open_session(self, settings: MailSettings) -> NativeSession:
        """A session in name only: the MTA takes each message in its own run of `program`."""
        return NativeSession(self, settings)

    async def probe(self, settings: MailSettings) -> None:
        """Whether the MTA could take a message, sending none: its program is there and executable."""
        if not os.access(self._program, os.X_OK):
            raise NativeTransportError(
                f"cannot run {self._program}: it is missing or not executable",
                program=self._program,
                exit_code=None,
            )

    async def send(self, message: EmailMessage, recipients: Sequence[str], settings: MailSettings) -> None:
        addressed = addressed_to(message, recipients)
        # A pipe to sendmail carries Unix lines, whatever the message's policy (SMTP: CRLF).
        data = addressed.as_bytes(policy=addressed.policy.clone(linesep="\n"))
        command = [self._program, "-t", "-oi"]
        if settings.from_address:
            command.append(f"-f{settings.from_address}")
        process = await self._start(command)
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(data), self._timeout)
        except TimeoutError as exc:
            with suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise NativeTransportError(
                f"{self._program} did not finish within {self._timeout:g} seconds and was stopped",
                program=self._program,
                exit_code=None,
            ) from exc
        if process.returncode != 0:
            raise NativeTransportError(
                _failure_detail(self._program, process.returncode, stderr or stdout),
                program=self._program,
                exit_code=process.returncode,
            )

    async def _start(self, command: list[str]) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:  # missing, not executable, ...
            raise NativeTransportError(
                f"cannot run {self._program}: {exc.strerror or exc}",
                program=self._program,
                exit_code=None,
            ) from exc


def _failure_detail(program: str, exit_code: int | None, output: bytes) -> str:
    text = output.decode("utf-8", errors="replace").strip()[:_OUTPUT_LIMIT]
    detail = f"{program} failed with exit code {exit_code}"
    return f"{detail}: {text}" if text else detail


class NativeSession:
    def __init__(self, transport: NativeTransport, settings: MailSettings) -> None:
        self._transport = transport
        self._settings = settings

    @property
    def usable(self) -> bool:
        return True

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, TransportError]:
        """The local MTA takes the message for every recipient or fails for all: none refused alone."""
        await self._transport.send(message, recipients, self._settings)
        return {}

    async def close(self) -> None:
        return None
