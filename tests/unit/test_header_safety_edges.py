"""Encoded words at the edges (#20): unknown charsets, RFC 2231 language suffixes, broken words."""

from __future__ import annotations

from email import message_from_string

from alertmail.domain.header_safety import decoded_text, unsafe_header


def test_an_unknown_charset_is_read_as_latin1_and_a_language_suffix_is_ignored() -> None:
    assert decoded_text("a =?x-unknown?q?caf=E9?= b") == "a café b"
    assert decoded_text("=?utf-8*en?q?caf=C3=A9?=") == "café"


def test_a_broken_word_stays_as_written_and_does_not_stop_the_words_after_it() -> None:
    # RFC 2047 section 6.3: a word that cannot be decoded is shown as it is, not dropped.
    assert decoded_text("=?utf-8?b?abcde?= =?utf-8?q?hi?=") == "=?utf-8?b?abcde?= hi"
    assert decoded_text("ops =?utf-8?b?abcde?=") == "ops =?utf-8?b?abcde?="
    message = message_from_string("Subject: =?utf-8?b?abcde?= =?utf-8?q?a=0AX-Injected:_1?=\n\nbody\n")
    assert unsafe_header(message) == ("Subject", "'\\n'")


def test_a_valid_word_that_stands_for_nothing_decodes_to_nothing() -> None:
    assert decoded_text("a=?utf-8?q??=b") == "ab"
