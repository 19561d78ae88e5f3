"""Lines over 998 octets (#12 item 10): a local submission's long body lines are re-encoded so every
line fits RFC 5322's limit and the content reads the same; a header that cannot be folded is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_string, policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertmail.domain.line_length import MAX_LINE_OCTETS, longest_line
from alertmail.domain.submission import InvalidMessageError, prepare_submission


def submit(raw: bytes) -> str:
    return prepare_submission(
        raw, recipients=["ops@example.com"], recipients_from_headers=False, envelope_from=None,
        from_address="alerts@example.com", now=datetime(2026, 12, 4, tzinfo=UTC),
    ).raw  # fmt: skip


line_text = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=1500)


@settings(max_examples=60)
@given(st.lists(line_text, min_size=1, max_size=4), st.booleans())
def test_every_line_fits_and_the_text_reads_the_same(lines: list[str], declared: bool) -> None:
    body = "\n".join(lines) + "\n"
    content_type = (
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n" if declared else ""
    )
    raw = f"From: root@localhost\nTo: ops@example.com\nSubject: log\n{content_type}\n{body}".encode()
    stored = submit(raw)
    assert longest_line(stored) <= MAX_LINE_OCTETS
    if longest_line(body) > MAX_LINE_OCTETS:
        assert message_from_string(stored, policy=policy.default).get_content() == body


def test_an_attachment_with_long_lines_becomes_base64() -> None:
    raw = (
        "From: root@localhost\nTo: ops@example.com\nSubject: dump\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nsee attached\n'
        "--b\nContent-Type: application/json\nContent-Disposition: attachment; filename=dump.json\n\n"
        + '{"k": "'
        + "v" * 3000
        + '"}\n--b--\n'
    ).encode()
    stored = message_from_string(submit(raw), policy=policy.default)
    attachment = next(stored.iter_attachments())
    assert attachment["Content-Transfer-Encoding"] == "base64" and attachment.get_filename() == "dump.json"
    assert (
        attachment.get_content() == ('{"k": "' + "v" * 3000 + '"}').encode()
    )  # the CRLF before --b is the boundary's


def test_a_header_that_cannot_be_folded_is_refused() -> None:
    raw = f"From: root@localhost\nTo: ops@example.com\nMessage-ID: <{'c' * 1200}@x>\n\nbody\n".encode()
    with pytest.raises(InvalidMessageError, match="998 octets"):
        submit(raw)
