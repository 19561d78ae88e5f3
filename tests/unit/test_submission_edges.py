"""Edges of local submission that each change of the code would move: brackets, header-name case,
blank Message-IDs, Resent-Bcc, the configured sender in another case, and a From that cannot be made."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_string, policy
from typing import Any

import pytest

from alertmail.domain.submission import (
    InvalidRecipientError,
    MessageTooLargeError,
    Submission,
    prepare_for_relay,
    prepare_submission,
    valid_recipient,
)

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
FROM_ADDRESS = "alerts@appliance.example.com"


def submit(raw: bytes, recipients: tuple[str, ...] = ("ops@example.com",), **options: Any) -> Submission:
    arguments: dict[str, Any] = {
        "recipients": recipients,
        "recipients_from_headers": False,
        "envelope_from": None,
        "from_address": FROM_ADDRESS,
        "now": NOW,
    }
    return prepare_submission(raw, **(arguments | options))


def headers(submission: Submission) -> Any:
    return message_from_string(submission.raw, policy=policy.default)


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("<ops@Example.COM>", "ops@example.com"),
        ("  < ops@example.com >  ", "ops@example.com"),
        ("ops@example.com", "ops@example.com"),
    ],
)
def test_angle_brackets_around_a_recipient_are_taken_off(written: str, kept: str) -> None:
    assert valid_recipient(written) == kept


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("<ops@example.com", "An open angle bracket at the start"),
        ("ops@example.com>", "The part after the @-sign is not a valid domain"),
        ("<>", "it is empty"),
        ("   ", "it is empty"),
        ("root", "it has no @domain"),
    ],
)
def test_a_half_bracketed_or_empty_recipient_is_refused(written: str, reason: str) -> None:
    with pytest.raises(InvalidRecipientError) as caught:
        valid_recipient(written)
    assert caught.value.address == written
    assert caught.value.reason.startswith(reason)
    assert str(caught.value).startswith(f"{written!r} is not a valid recipient: ")


def test_header_names_are_read_whatever_their_case() -> None:
    raw = b"TO: one@example.com\ncc: two@example.com\nBCC: three@example.com\nSubject: x\n\nbody\n"
    found = submit(raw, (), recipients_from_headers=True)
    assert found.recipients == ("one@example.com", "two@example.com", "three@example.com")
    assert "three@example.com" not in found.raw


def test_resent_bcc_is_removed_too() -> None:
    raw = b"To: one@example.com\nResent-Bcc: hidden@example.com\nSubject: x\n\nbody\n"
    assert "hidden@example.com" not in submit(raw).raw


def test_a_blank_message_id_is_replaced_by_one_alone() -> None:
    raw = b"To: one@example.com\nMessage-ID:   \nSubject: x\n\nbody\n"
    found = submit(raw)
    assert [value.strip() for value in headers(found).get_all("Message-ID")] == [found.message_id]
    assert found.message_id.endswith("@appliance.example.com>")


def test_an_envelope_sender_in_brackets_makes_the_from_header() -> None:
    found = submit(b"Subject: x\n\nbody\n", envelope_from=" <backup@host.example.net> ", full_name="Backup")
    assert headers(found)["From"] == "Backup <backup@host.example.net>"


def test_without_any_sender_no_from_header_is_made() -> None:
    found = submit(b"Subject: x\n\nbody\n", envelope_from=None, from_address="")
    assert "From" not in headers(found)
    assert found.message_id.endswith("@alertmail.invalid>")


def test_the_subject_is_read_and_a_missing_one_is_empty() -> None:
    assert submit(b"Subject: Disk 95%\n\nbody\n").subject == "Disk 95%"
    assert submit(b"To: a@example.com\n\nbody\n").subject == ""


@pytest.mark.parametrize("bad", ["", "root", "relay.example.com"])
def test_the_relay_sender_must_be_an_address(bad: str) -> None:
    with pytest.raises(ValueError, match="from_address must be an e-mail address"):
        prepare_for_relay("From: a@example.com\n\nbody\n", bad)


def test_the_configured_sender_in_another_case_is_left_alone() -> None:
    message = prepare_for_relay(
        "From: Ops <Relay@Contoso.Example>\nTo: a@example.com\n\nbody\n", "relay@contoso.example"
    )
    assert message["From"] == "Ops <Relay@Contoso.Example>"
    assert "Reply-To" not in message


def test_a_from_without_a_name_or_comment_gives_a_bare_sender() -> None:
    message = prepare_for_relay(
        "From: cron@host.example.net\nTo: a@example.com\n\nbody\n", "relay@contoso.example"
    )
    assert message["From"] == "relay@contoso.example"
    assert message["Reply-To"] == "cron@host.example.net"


def test_the_size_limit_is_named_in_its_error() -> None:
    error = MessageTooLargeError(10_000_001, 10_000_000)
    assert (error.size, error.limit) == (10_000_001, 10_000_000)
    assert str(error) == "the message is larger than the limit of 10000000 bytes"
