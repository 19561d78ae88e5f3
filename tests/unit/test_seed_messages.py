"""The seeds' sentences that take a value; and the helper named `test_…` is not taken for a test."""

from __future__ import annotations

from alertmail.domain.messages import test_email_sent  # collected as a test unless marked otherwise


def test_the_test_email_sentence_names_the_address() -> None:
    assert test_email_sent("alice@example.com") == "A test e-mail was sent to alice@example.com"
