"""The bytes a message goes out as: `smtp_envelope.flatten` (each header parsed once) writes exactly
what aiosmtplib's `flatten_message` writes, for built messages and for stored raw ones, with and
without SMTPUTF8, in 8 and 7 bits (issue #18: the parses were half of a message's CPU)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage, Message

import pytest
from aiosmtplib.email import flatten_message
from hypothesis import given
from hypothesis import strategies as st

from alertmail.adapters.smtp_envelope import flatten
from alertmail.domain.message import build_message
from alertmail.domain.submission import prepare_for_relay

SENT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FORMS = [(utf8, cte) for utf8 in (False, True) for cte in ("8bit", "7bit")]

# Header text with no line breaks (build_message refuses those), long enough to need folding.
header_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n\x00\x85\u2028\u2029"),
    max_size=120,
)
body_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=300)


def assert_same_bytes(message: Message) -> None:
    """The same bytes in every form, or the same error (8-bit text cannot be written in 7 bits)."""
    for utf8, cte in FORMS:
        assert outcome(flatten, message, utf8, cte) == outcome(flatten_message, message, utf8, cte)


def outcome(writer: Callable[..., bytes], message: Message, utf8: bool, cte: str) -> bytes | str:
    try:
        return writer(message, utf8=utf8, cte_type=cte)
    except UnicodeEncodeError as error:
        return repr(error)


@given(subject=header_text, text=body_text, html=body_text)
def test_a_built_message_goes_out_as_aiosmtplib_writes_it(subject: str, text: str, html: str) -> None:
    built = build_message(
        from_address="alerts@example.com",
        to=["ops@example.com", "oncall@example.com"],
        subject=subject,
        text=text,
        html=html,
        sent_at=SENT,
        message_id="<m1@example.com>",
    )
    assert_same_bytes(built)


@pytest.mark.parametrize(
    "raw",
    [
        "From: cron <root@host>\nTo: ops@example.com\nBcc: hidden@example.com\nSubject: plain\n\nbody\n",
        "From: Jörg <root@host>\nTo: ops@bücher.example\nSubject: Grüße\n\nÜberlauf\n",
        "To: ops@example.com\nResent-Bcc: x@example.com\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n\nx\n",
        "From: root@host\nTo: ops@example.com\nSubject: " + "word " * 40 + "\n\n" + "y" * 2000 + "\n",
        (
            "From: root@host\nTo: ops@example.com\nMIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhi\n'
            "--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
            "aGk=\n--b--\n"
        ),
    ],
)
def test_a_stored_raw_message_goes_out_as_aiosmtplib_writes_it(raw: str) -> None:
    assert_same_bytes(prepare_for_relay(raw, "alerts@example.com"))


def test_the_bcc_headers_go_from_the_bytes_and_stay_in_the_message() -> None:
    message = EmailMessage()
    message["To"], message["Bcc"], message["Resent-Bcc"] = "ops@example.com", "a@example.com", "b@x.org"
    message.set_content("body")
    data = flatten(message, utf8=False, cte_type="8bit")
    assert b"Bcc" not in data
    assert (message["Bcc"], message["Resent-Bcc"]) == ("a@example.com", "b@x.org")


def test_a_compat32_message_goes_out_as_aiosmtplib_writes_it() -> None:
    message = Message()
    message["To"], message["Bcc"], message["Subject"] = "ops@example.com", "a@example.com", "compat32"
    message.set_payload("body")
    assert_same_bytes(message)
