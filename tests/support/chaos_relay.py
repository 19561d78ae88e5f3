"""A scripted SMTP relay for the chaos test: it answers each command from a script, then heals.

A small SMTP server of its own (asyncio streams, no TLS, no AUTH) rather than aiosmtpd: it must be
able to drop the connection between receiving the end of DATA and replying, which aiosmtpd's
handlers cannot. Each command answered (the greeting, EHLO/HELO, MAIL, each RCPT, DATA and the end
of the data) takes the next answer of the script:

    ok                 the usual 2xx/3xx reply
    4xx, 5xx           a temporary or permanent refusal, worded as a real relay words it there
    421                "try again later", then the connection is closed (any command)
    drop_before_reply  the connection closes without a reply; at the end of DATA the relay has
                       taken the message (the one case where a copy may arrive twice)
    drop_after_reply   the usual reply, then the connection closes
    delay              the usual reply, late (well inside the client's timeout)

When the script is used up (or `heal()` was called) every answer is `ok`. RSET, NOOP and QUIT take
no answer from the script. Every copy the relay took is kept in `copies`, per recipient, with the
`generation` it arrived in and whether the client was told (`acknowledged`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tests.support.smtp import HOST

__all__ = ["ANSWERS", "ChaosRelay", "Copy"]

ANSWERS = ("ok", "4xx", "5xx", "421", "drop_before_reply", "drop_after_reply", "delay")
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_REPLIES = {
    "greeting": {
        "ok": "220 chaos.test ESMTP",
        "4xx": "421 4.3.2 Too busy",
        "5xx": "554 5.3.2 Not accepting mail",
    },
    "ehlo": {"ok": "250-chaos.test\r\n250 8BITMIME", "4xx": "451 4.3.0 Try later", "5xx": "550 5.5.1 No"},
    "helo": {"ok": "250 chaos.test", "4xx": "451 4.3.0 Try later", "5xx": "550 5.5.1 No"},
    "mail": {
        "ok": "250 2.1.0 Sender OK",
        "4xx": "451 4.3.0 Temporary failure",
        "5xx": "550 5.7.1 Sender rejected",
    },
    "rcpt": {
        "ok": "250 2.1.5 Recipient OK",
        "4xx": "452 4.2.2 Mailbox full",
        "5xx": "550 5.1.1 User unknown",
    },
    "data": {
        "ok": "354 End data with <CR><LF>.<CR><LF>",
        "4xx": "451 4.3.0 Try later",
        "5xx": "554 5.3.0 No",
    },
    "end": {"ok": "250 2.0.0 Queued", "4xx": "451 4.3.0 Queue error", "5xx": "554 5.6.0 Content rejected"},
}
_STAGES = {"EHLO": "ehlo", "HELO": "helo", "MAIL": "mail", "RCPT": "rcpt", "DATA": "data"}


@dataclass(frozen=True)
class Copy:
    """One recipient's copy of a message, as the relay took it."""

    message_id: str
    recipient: str
    generation: int  # the driver's count of worker crashes when it arrived
    acknowledged: bool  # False: the relay took it and dropped the connection before replying


@dataclass
class _Envelope:
    recipients: list[str]


class ChaosRelay:
    def __init__(self, script: Sequence[str]) -> None:
        self.script = list(script)
        self.position = 0
        self.healed = False
        self.generation = 0
        self.commands = 0  # commands answered so far (the greeting counts)
        self.connections = 0
        self.copies: list[Copy] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> ChaosRelay:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def heal(self) -> None:
        self.healed = True

    @property
    def script_used(self) -> bool:
        return self.healed or self.position >= len(self.script)

    def _next(self) -> str:
        self.commands += 1
        if self.script_used:
            return "ok"
        answer = self.script[self.position]
        self.position += 1
        return answer

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._conversation(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: so does the conversation
        finally:
            writer.close()

    async def _conversation(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not await self._answer(writer, "greeting", self._next()):
            return
        envelope = _Envelope([])
        while line := await reader.readline():
            verb, _, argument = line.decode("ascii", "replace").strip().partition(" ")
            verb = verb.upper()
            if verb in {"RSET", "NOOP", "QUIT"}:
                envelope.recipients.clear()
                await _write(writer, "221 2.0.0 Bye" if verb == "QUIT" else "250 2.0.0 OK")
                if verb == "QUIT":
                    return
                continue
            stage = _STAGES.get(verb)
            if stage is None:
                await _write(writer, "500 5.5.2 Unknown command")
                continue
            if not await self._command(reader, writer, stage, argument, envelope):
                return

    async def _command(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        stage: str,
        argument: str,
        envelope: _Envelope,
    ) -> bool:
        """Answer one command; False once the connection is to close."""
        answer = self._next()
        if stage == "data" and not envelope.recipients:
            answer = "503"  # aiosmtplib never sends DATA without an accepted recipient
        if stage == "rcpt" and answer in {"ok", "delay", "drop_after_reply"}:
            envelope.recipients.append(argument.partition(":")[2].strip().strip("<>").split(">")[0])
        if stage == "mail":
            envelope.recipients.clear()
        going_on = await self._answer(writer, stage, answer)
        if stage != "data" or answer not in {"ok", "delay", "drop_after_reply"} or not going_on:
            return going_on
        return await self._message(reader, writer, envelope)

    async def _message(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, envelope: _Envelope
    ) -> bool:
        content = bytearray()
        while (line := await reader.readuntil(b"\r\n")) != b".\r\n":
            content += line
        answer = self._next()
        if answer in {"ok", "delay", "drop_after_reply", "drop_before_reply"}:
            found = _MESSAGE_ID.search(bytes(content))
            message_id = found.group(1).decode() if found else "?"
            taken = answer != "drop_before_reply"
            self.copies += [Copy(message_id, r, self.generation, taken) for r in envelope.recipients]
        envelope.recipients.clear()
        return await self._answer(writer, "end", answer)

    async def _answer(self, writer: asyncio.StreamWriter, stage: str, answer: str) -> bool:
        """Send the reply `answer` stands for at `stage`; False once the connection is to close."""
        if answer == "503":
            await _write(writer, "503 5.5.1 No valid recipients")
            return True
        if answer == "drop_before_reply":
            return False
        if answer == "421":
            await _write(writer, "421 4.7.0 Try again later, closing connection")
            return False
        if answer == "delay":
            await asyncio.sleep(0.02)
        await _write(writer, _REPLIES[stage]["ok" if answer in {"delay", "drop_after_reply"} else answer])
        return answer != "drop_after_reply" and not (
            stage == "greeting" and answer != "ok" and answer != "delay"
        )


async def _write(writer: asyncio.StreamWriter, reply: str) -> None:
    writer.write(reply.encode("ascii") + b"\r\n")
    await writer.drain()
