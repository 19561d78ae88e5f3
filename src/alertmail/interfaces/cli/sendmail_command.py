"""`alertmail sendmail`: the sendmail command line that cron, monitoring scripts and other legacy
programs call, queueing their message for the configured relay instead of a local MTA.

    alertmail sendmail [-t] [-i] [-f FROM] [-F NAME] [RECIPIENT ...] < message

Flags are read the way sendmail and Postfix read them (getopt: `-oi`, `-fFROM`, `-f FROM`, `-ti`)
and may come after recipients. The message is queued, not sent: the command exits 0 once its
outbox row is committed. Exit codes follow sysexits.h, as programs that call sendmail expect:
64 usage, 65 a bad message or address, 75 the queue cannot be reached now (try again later),
78 a bad ALERTMAIL_* setting.

Also installed as `alertmail-sendmail`, which can be linked as /usr/sbin/sendmail.
"""

from __future__ import annotations

import getopt
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO, NoReturn, TextIO

from alertmail.adapters.storage.direct_outbox import QueueUnreachableError
from alertmail.domain.outbox import OutboxMessage
from alertmail.domain.submission import MessageTooLargeError, NoRecipientsError, SubmissionError
from alertmail.errors import AlertmailError
from alertmail.interfaces.cli.quick_exit import leave
from alertmail.interfaces.cli.terminal import terminal_safe
from alertmail.queueing_config import QueueingConfig, queueing_config
from alertmail.services.local_message import Envelope

if TYPE_CHECKING:
    from alertmail.config import AppConfig

# A message is queued directly (direct_submission.py: no pydantic, SQLAlchemy nor asyncio to load)
# unless the configuration or the database needs the full path (submission_composition.py).

__all__ = ["SendmailArguments", "SendmailUsageError", "main", "parse_arguments", "read_message", "run"]

USAGE = """\
usage: alertmail sendmail [-t] [-i] [-f FROM] [-F NAME] [RECIPIENT ...] < message

Queue the message on standard input for the configured relay; exit 0 once it is queued.
  -t          also send to the To, Cc and Bcc addresses of the message (Bcc is then removed)
  -i, -oi     a line with a single '.' does not end the message (without it, it does)
  -f FROM     the sender; it becomes the From header when the message has none
              (-r FROM is the same). The relay's sender is always the configured from_address.
  -F NAME     the sender's full name, for a From header made from -f
  -v          say what was queued, on standard error
Accepted and ignored, for programs that pass them: -bm -odX -oeX -om -m -n -G -U -B TYPE
  -N DSN -R RET -V ENVID -L TAG -h HOPS.
Exit: 0 queued, 64 usage, 65 bad message or address, 75 the queue cannot be reached (try later),
  78 a bad ALERTMAIL_* setting.
"""

# getopt's short options, after sendmail's and Postfix's own: ':' takes a value.
_SHORT_OPTIONS = "B:b:F:f:Gh:iL:mN:no:R:r:tUV:v"
_IGNORED = frozenset({"-B", "-G", "-h", "-L", "-m", "-N", "-n", "-R", "-U", "-V"})
_IGNORED_O_OPTIONS = ("d", "e", "m")  # -odX delivery mode (we always queue), -oeX error mode, -om


# The queue's database or data directory cannot be reached: the program may try again later.
def _temporary_failures() -> tuple[type[Exception], ...]:
    # Evaluated only when an exception is being matched; SQLAlchemy's errors come only once it is
    # loaded (the full path), and the direct path does not load it for this.
    sqlalchemy = sys.modules.get("sqlalchemy.exc")
    return (QueueUnreachableError, OSError, *((sqlalchemy.SQLAlchemyError,) if sqlalchemy else ()))


class _ConfigurationError(Exception):
    """An ALERTMAIL_* variable with a bad value (pydantic's message)."""


class SendmailUsageError(AlertmailError):
    category = "usage"


@dataclass(frozen=True)
class SendmailArguments:
    recipients: tuple[str, ...] = ()
    read_recipients: bool = False  # -t
    ignore_dots: bool = False  # -i, -oi
    envelope_from: str | None = None  # -f, -r
    full_name: str = ""  # -F
    verbose: bool = False  # -v
    show_help: bool = False
    ignored: tuple[str, ...] = ()  # harmless flags accepted for compatibility, as given


def parse_arguments(args: Sequence[str]) -> SendmailArguments:
    """Read sendmail's command line, or raise `SendmailUsageError` naming what is wrong."""
    try:
        options, recipients = getopt.gnu_getopt(list(args), _SHORT_OPTIONS, ["help"])
    except getopt.GetoptError as exc:
        raise SendmailUsageError(f"{_option_problem(exc)}; see alertmail sendmail --help") from None
    arguments = SendmailArguments(recipients=tuple(recipients))
    for flag, value in options:
        arguments = _apply(arguments, flag, value)
    return arguments


def _apply(arguments: SendmailArguments, flag: str, value: str) -> SendmailArguments:
    """The arguments with one more option: `flag` (such as `-f`) and its value, or ''."""
    if flag == "-b" and value != "m":
        raise SendmailUsageError(
            f"-b{value} is not supported: alertmail sendmail only submits messages (-bm)"
        )
    if flag == "-o" and value != "i" and not value.startswith(_IGNORED_O_OPTIONS):
        raise SendmailUsageError(f"-o{value} is not supported (only -oi, -odX, -oeX and -om are)")
    if flag == "-i" or (flag, value) == ("-o", "i"):
        return replace(arguments, ignore_dots=True)
    if flag in _IGNORED or flag in ("-o", "-b"):
        return replace(arguments, ignored=(*arguments.ignored, flag + value))
    if flag == "-t":
        return replace(arguments, read_recipients=True)
    if flag in ("-f", "-r"):
        return replace(arguments, envelope_from=value)
    if flag == "-F":
        return replace(arguments, full_name=value)
    if flag == "-v":
        return replace(arguments, verbose=True)
    return replace(arguments, show_help=True)  # --help: getopt lets no other flag through


def _option_problem(exc: getopt.GetoptError) -> str:
    option = f"-{exc.opt}" if len(exc.opt) == 1 else f"--{exc.opt}"
    if "requires argument" in exc.msg:
        return f"{option} needs a value"
    return f"unknown option {option}"


def read_message(stream: BinaryIO, *, ignore_dots: bool, max_bytes: int) -> bytes:
    """The message on `stream`: up to its end or, without `ignore_dots`, a line holding only '.'.

    Reading stops at that line, as sendmail does, so that someone typing a message can end it
    with a dot. Raises `MessageTooLargeError` past `max_bytes`.
    """
    lines: list[bytes] = []
    size = 0
    while line := stream.readline(max_bytes + 1 - size):
        if not ignore_dots and line.rstrip(b"\r\n") == b".":
            break
        size += len(line)
        if size > max_bytes:
            raise MessageTooLargeError(size, max_bytes)
        lines.append(line)
    return b"".join(lines)


def run(
    args: Sequence[str],
    *,
    stdin: BinaryIO,
    stdout: TextIO,
    stderr: TextIO,
    config: AppConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run the command; its exit status (sysexits.h). `config`: AppConfig's, not the environment's."""
    try:
        arguments = parse_arguments(args)
    except SendmailUsageError as exc:
        return _failed(stderr, str(exc), os.EX_USAGE)
    if arguments.show_help:
        stdout.write(USAGE)
        return os.EX_OK
    if not arguments.recipients and not arguments.read_recipients:
        return _failed(stderr, "no recipients: name them as arguments, or use -t", os.EX_USAGE)
    try:
        settings = config or queueing_config(os.environ if environ is None else environ) or _app_config()
        raw = read_message(
            stdin, ignore_dots=arguments.ignore_dots, max_bytes=settings.local_submission_max_bytes
        )
        queued = _queue(settings, raw, _envelope(arguments))
    except _ConfigurationError as exc:
        return _failed(stderr, f"the configuration is invalid: {exc}", os.EX_CONFIG)
    except NoRecipientsError:
        return _failed(stderr, "no recipients: the message has no To, Cc or Bcc address", os.EX_USAGE)
    except SubmissionError as exc:
        return _failed(stderr, f"{exc}; nothing was queued", os.EX_DATAERR)
    except _temporary_failures() as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return _failed(stderr, f"the queue cannot be reached ({reason}); nothing was queued", os.EX_TEMPFAIL)
    if arguments.verbose:
        stderr.write(
            f"alertmail sendmail: queued {queued.id} (Message-ID {queued.message_id}) "
            f"for {', '.join(queued.recipients)}\n"
        )
    return os.EX_OK


def _app_config() -> AppConfig:
    from pydantic import ValidationError

    from alertmail.config import AppConfig

    try:
        return AppConfig()
    except ValidationError as exc:
        raise _ConfigurationError(str(exc)) from exc


def _envelope(arguments: SendmailArguments) -> Envelope:
    return Envelope(
        recipients=arguments.recipients,
        envelope_from=arguments.envelope_from,
        source="sendmail",
        recipients_from_headers=arguments.read_recipients,
        full_name=arguments.full_name,
    )


def _queue(settings: QueueingConfig | AppConfig, raw: bytes, envelope: Envelope) -> OutboxMessage:
    """Queued directly when the configuration and the database allow it, else on the full path."""
    if isinstance(settings, QueueingConfig):
        from alertmail.direct_submission import submit_directly

        queued = submit_directly(settings, raw, envelope)
        if queued is not None:
            return queued
        settings = _app_config()
    import asyncio

    return asyncio.run(_submit(settings, raw, envelope))


async def _submit(config: AppConfig, raw: bytes, envelope: Envelope) -> OutboxMessage:
    # Imported once the arguments are known to be good; only what queueing needs (see there).
    from alertmail.submission_composition import open_local_submission

    async with open_local_submission(config) as local_submission:
        return await local_submission.submit(
            raw,
            recipients=envelope.recipients,
            envelope_from=envelope.envelope_from,
            source=envelope.source,
            recipients_from_headers=envelope.recipients_from_headers,
            full_name=envelope.full_name,
        )


def _failed(stderr: TextIO, message: str, status: int) -> int:
    stderr.write(f"alertmail sendmail: {terminal_safe(message)}\n")
    return status


def main(args: Sequence[str] | None = None) -> NoReturn:
    """The `alertmail-sendmail` program (link it as /usr/sbin/sendmail)."""
    arguments = sys.argv[1:] if args is None else args
    leave(run(arguments, stdin=sys.stdin.buffer, stdout=sys.stdout, stderr=sys.stderr))
