"""`alertmail sendmail`: its command line read as sendmail reads it, and the message read from stdin."""

from __future__ import annotations

import io

import pytest

from alertmail.domain.submission import MessageTooLargeError
from alertmail.interfaces.cli.sendmail_command import (
    SendmailArguments,
    SendmailUsageError,
    parse_arguments,
    read_message,
)

ME = "me@example.com"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["a@example.com"], SendmailArguments(recipients=("a@example.com",))),
        (["-t"], SendmailArguments(read_recipients=True)),
        (["-t", "-i"], SendmailArguments(read_recipients=True, ignore_dots=True)),
        (["-ti"], SendmailArguments(read_recipients=True, ignore_dots=True)),
        (["-oi", "a@example.com"], SendmailArguments(recipients=("a@example.com",), ignore_dots=True)),
        (["-f", "me@example.com", "x@example.com"], SendmailArguments(("x@example.com",), envelope_from=ME)),
        (["-fme@example.com", "x@example.com"], SendmailArguments(("x@example.com",), envelope_from=ME)),
        (["-r", "me@example.com", "-t"], SendmailArguments(read_recipients=True, envelope_from=ME)),
        (["-F", "Backup job", "-t"], SendmailArguments(read_recipients=True, full_name="Backup job")),
        (["-t", "a@example.com", "b@x.example"], SendmailArguments(("a@example.com", "b@x.example"), True)),
        (["a@example.com", "-t"], SendmailArguments(("a@example.com",), read_recipients=True)),  # flags after
        (["-t", "--", "-odd@example.com"], SendmailArguments(("-odd@example.com",), read_recipients=True)),
        (["-v", "-t"], SendmailArguments(read_recipients=True, verbose=True)),
        (["--help"], SendmailArguments(show_help=True)),
    ],
)  # fmt: skip
def test_flags(args: list[str], expected: SendmailArguments) -> None:
    assert parse_arguments(args) == expected


def test_cron_command_line() -> None:
    """What cronie runs: every flag accepted, the harmless ones kept aside."""
    parsed = parse_arguments(["-FCronDaemon", "-i", "-B8BITMIME", "-odi", "-oem", "-oi", "-t", "-f", "root"])
    assert parsed.read_recipients and parsed.ignore_dots
    assert (parsed.full_name, parsed.envelope_from, parsed.recipients) == ("CronDaemon", "root", ())
    assert parsed.ignored == ("-B8BITMIME", "-odi", "-oem")


@pytest.mark.parametrize(
    "flags",
    [["-bm"], ["-odb"], ["-odq"], ["-oep"], ["-om"], ["-m"], ["-n"], ["-G"], ["-U"], ["-N", "never"],
     ["-R", "hdrs"], ["-V", "envid"], ["-L", "tag"], ["-h", "5"], ["-B", "7BIT"]],
)  # fmt: skip
def test_harmless_flags_are_accepted_and_change_nothing(flags: list[str]) -> None:
    parsed = parse_arguments([*flags, "a@example.com"])
    assert parsed.recipients == ("a@example.com",)
    assert parsed.ignored == ("".join(flags),)
    assert not (parsed.read_recipients or parsed.ignore_dots or parsed.envelope_from or parsed.full_name)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["-x", "a@example.com"], "unknown option -x"),
        (["-q"], "unknown option -q"),
        (["-C", "/etc/mail.cf"], "unknown option -C"),
        (["-X", "/tmp/log"], "unknown option -X"),
        (["--verbose"], "unknown option --verbose"),
        (["-t", "-f"], "-f needs a value"),
        (["-F"], "-F needs a value"),
        (["-bs"], "-bs is not supported"),
        (["-bp"], "-bp is not supported"),
        (["-oQ/var/spool"], "-oQ/var/spool is not supported"),
    ],
)
def test_unknown_or_unsupported_flags_are_refused_by_name(args: list[str], problem: str) -> None:
    with pytest.raises(SendmailUsageError, match=problem):
        parse_arguments(args)


# --- the message on stdin -----------------------------------------------------------------------

MESSAGE = b"Subject: s\n\nline one\n.\nline after the dot\n"


def test_a_lone_dot_ends_the_message() -> None:
    assert read_message(io.BytesIO(MESSAGE), ignore_dots=False, max_bytes=1000) == b"Subject: s\n\nline one\n"


def test_a_lone_dot_with_crlf_ends_the_message() -> None:
    data = MESSAGE.replace(b"\n", b"\r\n")
    assert (
        read_message(io.BytesIO(data), ignore_dots=False, max_bytes=1000) == b"Subject: s\r\n\r\nline one\r\n"
    )


def test_with_i_a_lone_dot_is_just_a_line() -> None:
    assert read_message(io.BytesIO(MESSAGE), ignore_dots=True, max_bytes=1000) == MESSAGE


@pytest.mark.parametrize("line", [b"..\n", b". \n", b".x\n", b" .\n", b"..."])
def test_other_dotted_lines_are_kept_as_they_are(line: bytes) -> None:
    data = b"Subject: s\n\n" + line + b"end\n"
    assert read_message(io.BytesIO(data), ignore_dots=False, max_bytes=1000) == data


def test_a_final_dot_without_newline_ends_the_message() -> None:
    assert read_message(io.BytesIO(b"Subject: s\n\nbody\n."), ignore_dots=False, max_bytes=1000) == (
        b"Subject: s\n\nbody\n"
    )


def test_reading_stops_at_the_dot_and_leaves_the_rest_unread() -> None:
    """Someone typing a message ends it with a dot: nothing after it is waited for."""
    stream = io.BytesIO(MESSAGE)
    read_message(stream, ignore_dots=False, max_bytes=1000)
    assert stream.read() == b"line after the dot\n"


def test_a_message_over_the_limit_is_refused() -> None:
    with pytest.raises(MessageTooLargeError, match="limit of 20 bytes"):
        read_message(io.BytesIO(b"Subject: s\n\n" + b"x" * 30 + b"\n"), ignore_dots=True, max_bytes=20)


def test_a_message_at_the_limit_is_read() -> None:
    data = b"Subject: s\n\nabc\n"
    assert read_message(io.BytesIO(data), ignore_dots=True, max_bytes=len(data)) == data


def test_one_long_line_over_the_limit_is_refused_without_reading_it_all() -> None:
    stream = io.BytesIO(b"x" * 10_000)
    with pytest.raises(MessageTooLargeError):
        read_message(stream, ignore_dots=True, max_bytes=100)
    assert stream.tell() <= 101
