"""The e-mails alertmail builds: headers, the two parts, and header injection refused per field."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

import pytest

from alertmail.domain.message import build_message, new_message_id
from alertmail.errors import SettingsValidationError

SENT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def build(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "from_address": "alerts@example.com",
        "to": ["ops@example.com", "noc@example.com"],
        "subject": "Disk full",
        "text": "The disk is full.",
        "html": "<p>The disk is full.</p>",
        "sent_at": SENT,
    }
    return build_message(**{**fields, **changes}).as_bytes()  # type: ignore[arg-type]


def test_a_message_has_every_header_and_two_utf8_parts() -> None:
    parsed = message_from_bytes(build(message_id="<m1@example.com>"), policy=default)
    assert (parsed["From"], parsed["To"], parsed["Subject"]) == (
        "alerts@example.com",
        "ops@example.com, noc@example.com",
        "Disk full",
    )
    assert (parsed["Date"], parsed["Message-ID"]) == ("Tue, 01 Dec 2026 12:00:00 +0000", "<m1@example.com>")
    assert (parsed["Auto-Submitted"], parsed["MIME-Version"]) == ("auto-generated", "1.0")
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_boundary().startswith("=_alertmail_")
    plain, html = parsed.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert (plain.get_content_charset(), plain["Content-Transfer-Encoding"]) == ("utf-8", "quoted-printable")
    assert (plain.get_content().strip(), html.get_content().strip()) == (
        "The disk is full.",
        "<p>The disk is full.</p>",
    )
    assert plain["MIME-Version"] is None


def test_non_ascii_headers_are_encoded_and_read_back() -> None:
    raw = build(subject="Disque plein à 95 %", text="Disque plein à 95 %")
    assert raw.isascii()
    parsed = message_from_bytes(raw, policy=default)
    assert str(parsed["Subject"]) == "Disque plein à 95 %"
    assert next(parsed.iter_parts()).get_content().strip() == "Disque plein à 95 %"


def test_without_a_message_id_one_is_made_in_the_senders_domain() -> None:
    parsed = message_from_bytes(build(), policy=default)
    assert parsed["Message-ID"].endswith("@example.com>")
    assert new_message_id("alerts@example.com") != new_message_id("alerts@example.com")
    assert new_message_id("").endswith("@alertmail.invalid>")
    assert new_message_id("alerts@").endswith("@alertmail.invalid>")


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("subject", {"subject": "a\r\nBcc: x@example.com"}),
        ("subject", {"subject": "a\nb"}),
        ("from_address", {"from_address": "a@example.com\rb"}),
        ("to", {"to": ["ops@example.com", "x@example.com\nBcc: y@example.com"]}),
        ("subject", {"subject": "a\x00b"}),
    ],
)
def test_a_line_break_in_a_header_value_is_refused_by_field(field: str, changes: dict[str, object]) -> None:
    with pytest.raises(SettingsValidationError) as caught:
        build(**changes)
    assert [(e.field, e.message) for e in caught.value.errors] == [
        (field, "must not contain a line break (CR or LF) or NUL")
    ]
