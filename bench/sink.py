"""A lean aiosmtpd relay for the benchmarks, run as its own process: STARTTLS and AUTH PLAIN required.

    python -m bench.sink CERT_PEM KEY_PEM [REPLY_DELAY_MS]

prints "READY <port>", then answers commands on stdin:
    stats -> {"messages": n, "unique": n, "connections": n}   reset -> zeroes the counts

REPLY_DELAY_MS (default 0) holds every reply that long, a stand-in for a relay across a network:
on 127.0.0.1 a TLS handshake and a login cost almost nothing, which flatters code that pays them
for every message.

`SinkProcess` starts one from a benchmark and talks to it. It runs in a separate process so that
the receiving side's CPU is not charged to the client being measured.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

USERNAME = "bench-user"
PASSWORD = "bench-password"
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class _Counts:
    def __init__(self) -> None:
        self.messages = 0
        self.ids: set[bytes] = set()
        self.connections = 0

    def as_json(self) -> str:
        return json.dumps(
            {"messages": self.messages, "unique": len(self.ids), "connections": self.connections}
        )


async def _serve(cert: str, key: str, reply_delay: float) -> None:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    counts = _Counts()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            counts.messages += 1
            found = _MESSAGE_ID.search(envelope.original_content or b"")
            if found:
                counts.ids.add(found.group(1))
            return "250 2.0.0 OK: queued"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USERNAME.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok)

    class DelayedSMTP(SMTP):
        async def push(self, status: Any) -> None:
            if reply_delay:
                await asyncio.sleep(reply_delay)
            await super().push(status)

    def protocol() -> SMTP:
        counts.connections += 1
        return DelayedSMTP(
            Handler(),
            hostname="localhost",
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            auth_exclude_mechanism=["LOGIN"],
            authenticator=authenticate,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = line.decode().strip()
        if command == "reset":
            counts = _Counts()
        print(counts.as_json(), flush=True)
    server.close()


class SinkProcess:
    """The sink as a child process: `start()`, `stats()`, `reset()`, `stop()`."""

    def __init__(self, cert: Path, key: Path, reply_delay_ms: float = 0.0) -> None:
        self._args = [sys.executable, "-m", "bench.sink", str(cert), str(key), str(reply_delay_ms)]
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> SinkProcess:
        self._process = subprocess.Popen(
            self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self._process.stdout is not None
        ready = self._process.stdout.readline().split()
        if ready[:1] != ["READY"]:
            raise RuntimeError(f"the sink did not start: {ready}")
        self.port = int(ready[1])
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def _ask(self, command: str) -> dict[str, int]:
        assert self._process is not None and self._process.stdin and self._process.stdout
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        answer: dict[str, int] = json.loads(self._process.stdout.readline())
        return answer

    def stats(self) -> dict[str, int]:
        return self._ask("stats")

    def reset(self) -> dict[str, int]:
        return self._ask("reset")

    def stop(self) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


if __name__ == "__main__":
    # aiosmtpd logs a warning about its own deprecated Session.login_data on every successful AUTH.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    delay_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    asyncio.run(_serve(sys.argv[1], sys.argv[2], delay_ms / 1000))
