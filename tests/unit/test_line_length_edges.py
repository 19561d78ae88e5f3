"""The 998-octet line limit at its edge (#20): which parts are re-encoded, how, and what is added."""

from __future__ import annotations

import base64
from email import message_from_string
from email.message import Message

from alertmail.domain.line_length import MAX_LINE_OCTETS, longest_line, shorten_body_lines


def parsed(headers: str, body: str) -> Message:
    return message_from_string(f"{headers}\n\n{body}")


def test_longest_line_counts_octets_and_an_empty_text_is_zero() -> None:
    assert longest_line("") == 0
    assert longest_line("a\nbbb\ncc") == 3
    assert longest_line("é") == 2


def test_a_line_of_exactly_998_octets_is_left_alone() -> None:
    message = parsed("Subject: x", "a" * MAX_LINE_OCTETS)
    assert shorten_body_lines(message) is False
    assert message.get_payload() == "a" * MAX_LINE_OCTETS
    assert "MIME-Version" not in message and "Content-Transfer-Encoding" not in message


def test_one_octet_more_is_quoted_printable_text_under_mime() -> None:
    message = parsed("Subject: x\nContent-Transfer-Encoding: 7bit", "a" * (MAX_LINE_OCTETS + 1))
    assert shorten_body_lines(message) is True
    assert message.get_all("Content-Transfer-Encoding") == ["quoted-printable"]
    assert message["MIME-Version"] == "1.0"
    assert longest_line(message.get_payload()) <= 76
    assert message.get_payload(decode=True) == b"a" * (MAX_LINE_OCTETS + 1)


def test_utf8_text_without_a_charset_is_labelled_utf8() -> None:
    message = parsed("Subject: x", "é" * 600)
    assert shorten_body_lines(message) is True
    assert message.get_param("charset") == "utf-8"
    assert message.get_payload(decode=True) == ("é" * 600).encode()


def test_ascii_text_keeps_no_charset_and_mime_version_is_not_doubled() -> None:
    message = parsed("Subject: x\nMIME-Version: 1.0", "a" * 1200)
    assert shorten_body_lines(message) is True
    assert message.get_param("charset") is None
    assert message.get_all("MIME-Version") == ["1.0"]


def test_an_encoded_part_is_decoded_before_it_is_encoded_again() -> None:
    data = bytes(range(256)) * 4
    one_line = base64.b64encode(data).decode()
    message = parsed("Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64", one_line)
    assert shorten_body_lines(message) is True
    assert message["Content-Transfer-Encoding"] == "base64"
    assert longest_line(message.get_payload()) <= 76
    assert message.get_payload(decode=True) == data


def test_each_long_part_of_a_multipart_message_is_re_encoded_and_the_others_kept() -> None:
    body = (
        "--b\nContent-Type: text/plain\n\n" + "t" * 1000 + "\n"
        "--b\nContent-Type: text/plain\n\nshort\n"
        "--b\nContent-Type: application/x-log\n\n" + "z" * 1000 + "\n--b--\n"
    )
    message = parsed('Content-Type: multipart/mixed; boundary="b"', body)
    assert shorten_body_lines(message) is True
    long_text, short, log = message.get_payload()
    assert long_text["Content-Transfer-Encoding"] == "quoted-printable"
    assert short["Content-Transfer-Encoding"] is None and short.get_payload() == "short"
    assert log["Content-Transfer-Encoding"] == "base64"
    assert log.get_payload(decode=True) == b"z" * 1000
