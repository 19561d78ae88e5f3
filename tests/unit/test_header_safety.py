"""Header injection through local submissions (#13 item 2): every header value is checked for
CR, LF and NUL after its encoded words are decoded, and what goes to the relay never holds a header
line alertmail did not mean to write, whatever a stored message holds."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email import message_from_string
from email.policy import default

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.header_safety import BREAKING_CHARACTERS, unsafe_header
from alertmail.domain.submission import InvalidMessageError, prepare_for_relay, prepare_submission

FROM_ADDRESS = "alerts@appliance.example.com"
INJECTED = "\r\nFrom: ceo@victim.example\r\nX-Injected: 1"


def submit(raw: bytes) -> str:
    return prepare_submission(
        raw,
        recipients=["ops@example.com"],
        recipients_from_headers=False,
        envelope_from=None,
        from_address=FROM_ADDRESS,
        now=datetime(2026, 12, 4, tzinfo=UTC),
    ).raw


def encoded(text: str, encoding: str = "q") -> str:
    """One RFC 2047 encoded word of `text`, line breaks included (email.header would split them)."""
    data = text.encode()
    if encoding == "b":
        return f"=?utf-8?b?{base64.b64encode(data).decode()}?="
    return (
        "=?utf-8?q?" + "".join(chr(b) if b < 128 and chr(b).isalnum() else f"={b:02X}" for b in data) + "?="
    )


def message(**headers: str) -> bytes:
    fields = {"From": "root@localhost", "To": "ops@example.com", "Subject": "disk"} | headers
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"{head}\r\nbody\r\n".encode()


@pytest.mark.parametrize("encoding", ["q", "b"])
@pytest.mark.parametrize(
    ("header", "template"),
    [
        ("From", "root@localhost ({word})"),  # a comment, as cron writes the sender's name
        ("From", "{word} <root@localhost>"),  # a display name
        ("From", '"{word}" <root@localhost>'),
        ("To", "{word} <ops@example.com>"),
        ("Cc", "lead@example.com ({word})"),
        ("Subject", "disk {word}"),
        ("X-Job", "{word}"),
    ],
)
def test_an_encoded_word_decoding_to_a_line_break_is_refused(
    header: str, template: str, encoding: str
) -> None:
    raw = message(**{header: template.format(word=encoded("Cron" + INJECTED, encoding))})
    with pytest.raises(InvalidMessageError) as caught:
        submit(raw)
    assert repr(header) in str(caught.value)


@pytest.mark.parametrize("character", sorted(BREAKING_CHARACTERS))
def test_every_breaking_character_is_refused_once_decoded(character: str) -> None:
    raw = message(From=f"{encoded('Cron' + character + 'X-Injected: 1')} <root@localhost>")
    with pytest.raises(InvalidMessageError):
        submit(raw)


def test_folding_is_how_long_headers_continue_and_stays_allowed() -> None:
    raw = message(
        Subject="a long subject\r\n that continues", From=f"{encoded('Crön Daemon')} <root@localhost>"
    )
    stored = message_from_string(submit(raw), policy=default)
    assert stored["Subject"] == "a long subject that continues"
    assert stored["From"].addresses[0].display_name == "Crön Daemon"


def test_an_invalid_encoded_word_is_harmless_text() -> None:
    assert "=?utf-8?q?" in submit(message(Subject="=?utf-8?q?broken=ZZ?= x"))


def header_lines(data: bytes) -> list[str]:
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return [line.split(b":", 1)[0].decode() for line in head.splitlines() if line[:1] not in (b" ", b"\t")]


@given(st.text(max_size=40), st.sampled_from(["display", "comment"]))
def test_a_stored_message_never_gains_a_header_line_on_its_way_to_the_relay(name: str, form: str) -> None:
    # Messages queued before the check (or by any other way) are made safe when they are sent.
    word = encoded(name or "x")
    sender = f"{word} <root@host.example>" if form == "display" else f"root@host.example ({word})"
    raw = f"From: {sender}\r\nTo: ops@example.com\r\nSubject: disk\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n"
    sent = prepare_for_relay(raw, FROM_ADDRESS).as_bytes()
    lines = header_lines(sent)
    assert lines[:4] == ["From", "To", "Subject", "Message-ID"] and lines[4:] in ([], ["Reply-To"])
    assert unsafe_header(prepare_for_relay(raw, FROM_ADDRESS)) is None
