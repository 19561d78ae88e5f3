"""The diagnostics corpus: real failure texts, fed through alertmail's own transports and OAuth client.

`tests/data/diagnostics_corpus.json` holds failure texts people pasted into public issue trackers
and vendor documentation, each with its source, the stage it happened at, and the expected category
and retryability. `classify_case` reproduces one the way production would meet it:

- `smtp`: a scripted SMTP server on 127.0.0.1 (`ScriptedRelay`) answers every command with success
  except at the case's stage, where it sends the reply text (multi-line as written), and
  `SmtpTransport` sends one message to it;
- `close`: the same server closes the connection at the stage without a word;
- `silent`: a server that accepts the connection and never greets;
- `tls`: a real TLS handshake against a trustme certificate that is expired, issued for another
  name, or signed by an untrusted CA, or TLS spoken to a plain server;
- `dns`: a name under `.invalid`, which no resolver knows;
- `refused`: a port where nothing listens;
- `socket`: the exception the socket layer raises (`errno`, or getaddrinfo's `resolver` code) for a
  condition a test machine cannot produce (no route, a failing resolver), translated by the SMTP
  adapter exactly as aiosmtplib wraps it;
- `oauth_token` / `oauth_page`: the provider's JSON body (token endpoint) or HTML page (sign-in)
  served through httpx to `HttpOAuthClient`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trustme
from aiosmtplib import SMTPConnectError, SMTPConnectTimeoutError
from pydantic import SecretStr

from alertmail.adapters.oauth_client import HttpOAuthClient
from alertmail.adapters.smtp_errors import Where, translate
from alertmail.adapters.smtp_transport import SmtpTransport
from alertmail.domain.classification import Classification, classify
from alertmail.domain.settings import MailSettings, validate_settings
from alertmail.errors import TransportError
from tests.support.smtp import alert_message

__all__ = ["CORPUS_PATH", "PLAINTEXT_AUTH", "CorpusCase", "classify_case", "load_corpus"]

CORPUS_PATH = Path(__file__).resolve().parents[1] / "data" / "diagnostics_corpus.json"
HOST = "127.0.0.1"
# The scripted relay speaks no TLS; a password may cross in clear only when the settings say so
# (the field exists once the plaintext-auth setting is in; before that, nothing needs saying).
PLAINTEXT_AUTH: dict[str, Any] = (
    {"allow_plaintext_auth": True} if "allow_plaintext_auth" in MailSettings.model_fields else {}
)
_STAGES = ("connect", "ehlo", "starttls", "auth", "mail", "rcpt", "data")


@dataclass(frozen=True)
class CorpusCase:
    id: str
    source: str
    via: str
    stage: str
    category: str
    retryable: bool
    text: str = ""  # the reply or error as pasted (SMTP: as the server sent it)
    details: dict[str, Any] | None = None  # via-specific: errno, resolver, port, verify, body, status, host


def load_corpus(path: Path = CORPUS_PATH) -> list[CorpusCase]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    fields = set(CorpusCase.__dataclass_fields__)
    cases = []
    for entry in raw["cases"]:
        known = {key: value for key, value in entry.items() if key in fields}
        extra = {key: value for key, value in entry.items() if key not in fields and key != "note"}
        cases.append(CorpusCase(**known, details=extra))
    return cases


# --- the scripted relay ---------------------------------------------------------------------------


def reply_lines(text: str) -> tuple[int, list[str]]:
    """The code and the lines of a reply written as servers send it ("535-5.7.8 ...\\n535 5.7.8 ...")."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    code = int(lines[0][:3])
    return code, [line[4:] if line[:3].isdigit() and line[3:4] in ("-", " ", "") else line for line in lines]


def _format(code: int, lines: list[str]) -> bytes:
    last = len(lines) - 1
    return "".join(f"{code}{' ' if i == last else '-'}{line}\r\n" for i, line in enumerate(lines)).encode()


class ScriptedRelay:
    """Answers success to everything except at `stage`, where it sends `reply` (or closes when None)."""

    def __init__(self, stage: str, reply: str | None, *, silent: bool = False) -> None:
        if stage not in _STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        self.stage, self.reply, self.silent = stage, reply, silent
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> ScriptedRelay:
        self._server = await asyncio.start_server(self._session, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self._writers:
            await _closed(writer)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, writer: asyncio.StreamWriter, stage: str, success: bytes) -> bool:
        """Send the scripted reply at its stage (False: the session ends), else `success`."""
        if stage != self.stage:
            writer.write(success)
        elif self.reply is None:
            await _closed(writer)
            return False
        else:
            writer.write(_format(*reply_lines(self.reply)))
        await writer.drain()
        return not (stage == self.stage and stage == "connect")

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if self.silent:
            await reader.read()
            return
        with suppress(ConnectionError):
            if await self._answer(writer, "connect", b"220 scripted ESMTP\r\n"):
                await self._commands(reader, writer)

    async def _commands(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ehlo = b"250-scripted\r\n250-AUTH PLAIN LOGIN\r\n" + (
            b"250-STARTTLS\r\n" if self.stage == "starttls" else b""
        )
        while line := await reader.readline():
            verb = line.split(b" ", 1)[0].strip().upper().decode(errors="replace")
            stage, success = _STEP.get(verb, ("", b"250 OK\r\n"))
            if verb in ("EHLO", "HELO"):
                success = ehlo + b"250 SIZE 10000000\r\n"
            if verb == "DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                while (await reader.readline()) not in (b".\r\n", b""):
                    pass
            if not await self._answer(writer, stage, success) or verb == "QUIT":
                await _closed(writer)
                return


async def _closed(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1)


_STEP = {
    "EHLO": ("ehlo", b""),
    "HELO": ("ehlo", b""),
    "STARTTLS": ("starttls", b"220 go ahead\r\n"),
    "AUTH": ("auth", b"235 2.7.0 Authentication successful\r\n"),
    "MAIL": ("mail", b"250 2.1.0 OK\r\n"),
    "RCPT": ("rcpt", b"250 2.1.5 OK\r\n"),
    "DATA": ("data", b"250 2.0.0 queued\r\n"),
    "QUIT": ("", b"221 bye\r\n"),
}


# --- feeding each kind of case --------------------------------------------------------------------


def _settings(port: int, **changes: Any) -> MailSettings:
    data: dict[str, Any] = {
        "from_address": "alerts@example.com",
        "email_type": "smtp",
        "hostname": HOST,
        "port": port,
        "encryption": "none",
        "auth_type": "none",
        "connect_timeout": 2,
    }
    return validate_settings(data | changes)


async def _send(settings: MailSettings) -> TransportError:
    try:
        await SmtpTransport().send(alert_message(["ops@example.com"]), ["ops@example.com"], settings)
    except TransportError as error:
        return error
    raise AssertionError("the send did not fail")


async def _smtp(case: CorpusCase) -> TransportError:
    reply = None if case.via == "close" else case.text
    async with ScriptedRelay(case.stage, reply, silent=case.via == "silent") as relay:
        changes: dict[str, Any] = {}
        if case.stage == "auth":
            changes = {"auth_type": "basic", "username": "alerts", "password": "secret", **PLAINTEXT_AUTH}
        if case.stage == "starttls":
            changes = {"encryption": "starttls"}
        return await _send(_settings(relay.port, **changes))


@asynccontextmanager
async def _tls_server(context: ssl.SSLContext | None) -> Any:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, ssl.SSLError):
            writer.write(b"220 tls ESMTP\r\n")
            await writer.drain()
            await reader.read()
        await _closed(writer)

    server = await asyncio.start_server(greet, HOST, 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        with suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


def _certificate(kind: str) -> tuple[ssl.SSLContext | None, str]:
    """A server context for `kind` of bad certificate, and the CA PEM the client trusts."""
    if kind == "plain_server":
        return None, ""
    ca = trustme.CA()
    now = datetime.now(UTC)
    if kind == "expired":
        cert = ca.issue_cert(HOST, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    elif kind == "mismatch":
        cert = ca.issue_cert("mail.example.org")
    else:
        cert = ca.issue_cert(HOST)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context, "" if kind == "untrusted" else ca.cert_pem.bytes().decode()


async def _tls(case: CorpusCase) -> TransportError:
    context, trusted = _certificate(str(_detail(case, "verify")))
    async with _tls_server(context) as port:
        return await _send(_settings(port, encryption="tls", tls_trusted_ca=trusted))


def _socket(case: CorpusCase) -> TransportError:
    port = int(_detail(case, "port", 587))
    where = Where(str(_detail(case, "host", "smtp.example.net")), port, 30.0, case.stage or "connect")
    if "resolver" in (case.details or {}):
        cause: OSError = socket.gaierror(int(_detail(case, "resolver")), case.text)
    elif _detail(case, "greeting", False):
        return translate(_greeting_timeout(), where)
    else:
        cause = OSError(int(_detail(case, "errno")), case.text)
    try:
        raise SMTPConnectError(f"Error connecting to {where.host} on port {port}: {cause}") from cause
    except SMTPConnectError as wrapped:
        return translate(wrapped, where)


def _greeting_timeout() -> BaseException:
    try:
        raise SMTPConnectTimeoutError("Timed out waiting for server ready message") from TimeoutError()
    except SMTPConnectTimeoutError as raised:
        return raised


async def _oauth(case: CorpusCase) -> TransportError:
    status = int(_detail(case, "status", 400))
    host = str(_detail(case, "host", "login.microsoftonline.com"))
    body = _detail(case, "body", None)

    def answer(request: httpx.Request) -> httpx.Response:
        if case.via == "oauth_page":
            return httpx.Response(status, text=case.text, headers={"content-type": "text/html"})
        return httpx.Response(status, json=body)

    client = HttpOAuthClient(transport=httpx.MockTransport(answer))
    try:
        if case.via == "oauth_page":
            await client.preflight(f"https://{host}/authorize?client_id=x")
        else:
            await client.refresh(_oauth_settings(host), "refresh-token")
    except TransportError as error:
        return error
    raise AssertionError("the provider's answer was accepted")


def _oauth_settings(host: str) -> MailSettings:
    microsoft = "microsoft" in host
    return validate_settings(
        {
            "from_address": "alerts@example.com",
            "hostname": "smtp.office365.com" if microsoft else "smtp.gmail.com",
            "port": 587,
            "encryption": "starttls",
            "auth_type": "oauth2",
            "username": "alerts@example.com",
            "oauth_provider": "microsoft" if microsoft else "google",
            "tenant_id": "contoso.onmicrosoft.com",
            "client_id": "client",
            "client_secret": SecretStr("secret"),
            "authorization_endpoint": f"https://{host}/authorize",
            "token_endpoint": f"https://{host}/token",
            "scopes": "https://outlook.office.com/SMTP.Send offline_access",
        }
    )


def _detail(case: CorpusCase, name: str, default: Any = ...) -> Any:
    value = (case.details or {}).get(name, default)
    if value is ...:
        raise KeyError(f"case {case.id} needs {name!r}")
    return value


async def failure_of(case: CorpusCase) -> TransportError:
    """The `TransportError` alertmail meets for this case."""
    if case.via in ("smtp", "close", "silent"):
        return await _smtp(case)
    if case.via == "tls":
        return await _tls(case)
    if case.via == "dns":
        return await _no_such_name(case)
    if case.via == "refused":
        return await _send(_settings(_refused_port()))
    if case.via == "socket":
        return _socket(case)
    if case.via in ("oauth_token", "oauth_page"):
        return await _oauth(case)
    raise ValueError(f"case {case.id}: unknown via {case.via!r}")


async def classify_case(case: CorpusCase) -> Classification:
    return classify(await failure_of(case))


_NO_SUCH_HOST = "smtp.does-not-exist.invalid"  # RFC 6761: no resolver knows a .invalid name


async def _no_such_name(case: CorpusCase) -> TransportError:
    """A real lookup of a name that does not exist; a machine with no reachable resolver answers
    EAI_AGAIN for every name, and then the resolver's EAI_NONAME is raised as glibc would."""
    try:
        await asyncio.to_thread(socket.getaddrinfo, _NO_SUCH_HOST, 25)
    except socket.gaierror as failed:
        if failed.errno == socket.EAI_NONAME:
            return await _send(_settings(25, hostname=_NO_SUCH_HOST))
    no_name = replace(case, details={**(case.details or {}), "resolver": socket.EAI_NONAME})
    return _socket(no_name)


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def by_category(cases: list[CorpusCase]) -> Iterator[tuple[str, list[CorpusCase]]]:
    for category in sorted({case.category for case in cases}):
        yield category, [case for case in cases if case.category == category]
