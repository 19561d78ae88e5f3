"""Messages from local programs: accepted (recipients, Bcc, Date, Message-ID) and made ready for the relay."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from email import message_from_bytes, message_from_string, policy
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.submission import (
    InvalidMessageError,
    InvalidRecipientError,
    NoRecipientsError,
    Submission,
    prepare_for_relay,
    prepare_submission,
    valid_recipient,
)

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
FROM_ADDRESS = "alerts@appliance.example.com"


def submit(raw: bytes, recipients: tuple[str, ...] = (), **options: Any) -> Submission:
    arguments: dict[str, Any] = {
        "recipients": recipients,
        "recipients_from_headers": False,
        "envelope_from": None,
        "from_address": FROM_ADDRESS,
        "now": NOW,
    }
    return prepare_submission(raw, **(arguments | options))


def parsed(submission: Submission) -> EmailMessage:
    """As a receiver reads it (from bytes: a text-parsed message cannot decode an 8-bit body)."""
    return message_from_bytes(submission.raw.encode(), policy=policy.default)


HEADERS = b"""\
From: Backup job <backup@host.example.net>
To: Ops <ops@example.com>, dev@example.com
Cc: lead@example.com
Bcc: Secret Auditor <audit@example.com>
Subject: Backup finished: 3 warnings

The nightly backup finished.
"""


# --- recipients -----------------------------------------------------------------------------------


def test_envelope_recipients_only_by_default() -> None:
    assert submit(HEADERS, ("admin@example.com",)).recipients == ("admin@example.com",)


def test_t_reads_to_cc_and_bcc_and_adds_the_arguments() -> None:
    submission = submit(HEADERS, ("admin@example.com",), recipients_from_headers=True)
    assert submission.recipients == (
        "admin@example.com",
        "ops@example.com",
        "dev@example.com",
        "lead@example.com",
        "audit@example.com",
    )


def test_recipients_named_twice_are_sent_to_once() -> None:
    submission = submit(HEADERS, ("OPS@Example.com", "<dev@example.com>"), recipients_from_headers=True)
    assert submission.recipients == (
        "OPS@example.com",
        "dev@example.com",
        "lead@example.com",
        "audit@example.com",
    )


def test_undisclosed_recipients_group_names_nobody() -> None:
    raw = b"To: undisclosed-recipients:;\nSubject: s\n\nbody\n"
    assert submit(raw, ("a@example.com",), recipients_from_headers=True).recipients == ("a@example.com",)


def test_no_recipients_at_all_is_refused() -> None:
    with pytest.raises(NoRecipientsError, match="no recipients"):
        submit(b"Subject: s\n\nbody\n", recipients_from_headers=True)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("root", "no @domain"),
        ("", "empty"),
        ("<>", "empty"),
        ("ops@@example.com", "not a valid recipient"),
        ("ops@example..com", "not a valid recipient"),
        ("two words@example.com", "not a valid recipient"),
    ],
)
def test_a_bad_recipient_is_named(address: str, reason: str) -> None:
    with pytest.raises(InvalidRecipientError, match=reason) as caught:
        submit(HEADERS, ("good@example.com", address))
    assert caught.value.address == address


def test_a_bad_header_recipient_is_named() -> None:
    raw = b"To: ops@example.com, root\nSubject: s\n\nbody\n"
    problem = "'root' is not a valid recipient (in the header 'To: ops@example.com, root'): it has no @domain"
    with pytest.raises(InvalidRecipientError, match=re.escape(problem)):
        submit(raw, recipients_from_headers=True)


def test_a_malformed_header_recipient_is_named_as_written() -> None:
    raw = b"To: ops@example.com\nCc: lead@@example.com\nSubject: s\n\nbody\n"
    with pytest.raises(InvalidRecipientError, match=re.escape("(in the header 'Cc: lead@@example.com')")):
        submit(raw, recipients_from_headers=True)


def test_valid_recipient_normalizes_the_domain() -> None:
    assert valid_recipient(" <Ops@EXAMPLE.com> ") == "Ops@example.com"


# --- headers --------------------------------------------------------------------------------------


def test_bcc_is_removed_from_what_is_stored() -> None:
    raw = HEADERS.replace(b"Subject:", b"Resent-Bcc: r@example.com\nSubject:")
    submission = submit(raw, recipients_from_headers=True)
    assert "Bcc" not in parsed(submission) and "Resent-Bcc" not in parsed(submission)
    assert "audit@example.com" not in submission.raw


def test_message_id_and_date_are_added_when_missing() -> None:
    submission = submit(HEADERS, ("a@example.com",))
    message = parsed(submission)
    assert message["Message-ID"].strip() == submission.message_id  # a long one may be folded
    assert submission.message_id.startswith("<") and submission.message_id.endswith("@appliance.example.com>")
    assert message["Date"] == "Sun, 01 Mar 2026 12:30:00 +0000"


def test_the_programs_own_message_id_and_date_are_kept() -> None:
    raw = b"Message-ID: <own.1@host.example.net>\nDate: Mon, 02 Mar 2026 08:00:00 +0100\n" + HEADERS
    submission = submit(raw, ("a@example.com",))
    assert submission.message_id == "<own.1@host.example.net>"
    assert parsed(submission)["Date"] == "Mon, 02 Mar 2026 08:00:00 +0100"


def test_subject_and_body_are_kept() -> None:
    submission = submit(HEADERS, ("a@example.com",))
    assert submission.subject == "Backup finished: 3 warnings"
    assert parsed(submission).get_content() == "The nightly backup finished.\n"
    assert parsed(submission)["From"] == "Backup job <backup@host.example.net>"


def test_utf8_headers_and_body_survive() -> None:
    raw = (
        "From: Jörg <j@example.com>\nSubject: Sauvegarde terminée ✓\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "Tout va bien, ça marche.\n"
    ).encode()
    submission = submit(raw, ("a@example.com",))
    assert submission.subject == "Sauvegarde terminée ✓"
    assert parsed(submission).get_content() == "Tout va bien, ça marche.\n"


def test_8bit_utf8_goes_to_the_relay_byte_for_byte() -> None:
    raw = (
        "From: Jörg <j@example.com>\nSubject: Sauvegarde terminée ✓\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "Tout va bien, ça marche.\n"
    ).encode()
    message = prepare_for_relay(submit(raw, ("a@example.com",)).raw, "relay@contoso.example")
    data = message.as_bytes(policy=policy.SMTP)  # as aiosmtplib writes it
    assert "Tout va bien, ça marche.".encode() in data
    received = message_from_bytes(data, policy=policy.default)
    assert received["From"].addresses[0].display_name == "Jörg"
    assert received["Reply-To"].addresses[0].display_name == "Jörg"
    assert received["Subject"] == "Sauvegarde terminée ✓"
    assert received.get_content().rstrip() == "Tout va bien, ça marche."
    assert data.split(b"\r\n\r\n")[0].isascii(), "8-bit headers are sent as encoded words"


def test_a_latin1_body_that_says_so_survives() -> None:
    raw = b"Subject: s\nContent-Type: text/plain; charset=iso-8859-1\n\ncaf\xe9\n"
    assert parsed(submit(raw, ("a@example.com",))).get_content() == "caf\xe9\n"


def test_a_body_without_headers_is_accepted() -> None:
    submission = submit(b"disk /data is 95% full\n", ("a@example.com",))
    message = parsed(submission)
    assert message.get_content() == "disk /data is 95% full\n" and message["Message-ID"]


@pytest.mark.parametrize("raw", [b"", b"\n\n", b"   \r\n"])
def test_an_empty_message_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidMessageError, match="the message is empty"):
        submit(raw, ("a@example.com",))


def test_a_nul_byte_is_refused() -> None:
    with pytest.raises(InvalidMessageError, match="NUL byte"):
        submit(b"Subject: s\n\nbinary\x00data\n", ("a@example.com",))


def test_f_and_F_make_the_from_header_when_there_is_none() -> None:
    submission = submit(
        b"Subject: s\n\nbody\n",
        ("a@example.com",),
        envelope_from="<job@host.example.net>",
        full_name="Nightly job",
    )
    assert parsed(submission)["From"] == "Nightly job <job@host.example.net>"


def test_a_local_name_in_f_gives_the_configured_address() -> None:
    """cron runs `sendmail -f root`: root is no mailbox, so the From is the configured one."""
    submission = submit(
        b"Subject: s\n\nbody\n", ("a@example.com",), envelope_from="root", full_name="CronDaemon"
    )
    assert parsed(submission)["From"] == f"CronDaemon <{FROM_ADDRESS}>"


def test_f_leaves_an_existing_from_alone() -> None:
    submission = submit(HEADERS, ("a@example.com",), envelope_from="other@example.org", full_name="X")
    assert parsed(submission)["From"] == "Backup job <backup@host.example.net>"


def test_a_full_name_with_a_line_break_is_refused() -> None:
    with pytest.raises(InvalidMessageError, match="From header"):
        submit(
            b"Subject: s\n\nbody\n", ("a@example.com",), envelope_from="j@example.com", full_name="a\nBcc: x"
        )


def test_without_settings_the_message_id_takes_the_senders_domain() -> None:
    submission = submit(HEADERS, ("a@example.com",), from_address="")
    assert submission.message_id.endswith("@host.example.net>")


# --- prepare_for_relay ----------------------------------------------------------------------------

RELAY_FROM = "relay@contoso.example"


def relay(raw: str) -> EmailMessage:
    return prepare_for_relay(raw, RELAY_FROM)


STORED = """\
From: cron <root@host.example.net>
To: ops@example.com
Subject: Cron <root@host> /usr/local/bin/check
Date: Sun, 01 Mar 2026 12:30:00 +0000
Message-ID: <1.alertmail@contoso.example>

output
"""


def test_another_sender_becomes_the_configured_one_with_its_name_kept() -> None:
    message = relay(STORED)
    assert message["From"] == f"cron <{RELAY_FROM}>"
    assert message["Reply-To"] == "cron <root@host.example.net>"


def test_message_id_and_the_rest_are_kept() -> None:
    message = relay(STORED)
    original = message_from_string(STORED, policy=policy.default)
    for name in ("To", "Subject", "Date", "Message-ID"):
        assert message[name] == original[name]
    assert message.get_content() == "output\n"
    assert message.keys()[0] == "From", "From keeps its place"


def test_an_existing_reply_to_is_kept() -> None:
    message = relay(STORED.replace("To:", "Reply-To: team@example.com\nTo:"))
    assert message["Reply-To"] == "team@example.com"
    assert message["From"] == f"cron <{RELAY_FROM}>"


def test_the_configured_sender_is_left_as_it_is() -> None:
    raw = STORED.replace("cron <root@host.example.net>", f"Appliance <{RELAY_FROM.upper()}>")
    message = relay(raw)
    assert message["From"] == f"Appliance <{RELAY_FROM.upper()}>"
    assert "Reply-To" not in message


def test_a_missing_from_is_added() -> None:
    message = relay(STORED.replace("From: cron <root@host.example.net>\n", ""))
    assert message["From"] == RELAY_FROM
    assert "Reply-To" not in message


def test_the_comment_form_names_the_sender_and_a_local_name_is_no_reply_to() -> None:
    message = relay(STORED.replace("cron <root@host.example.net>", "root (Cron Daemon)"))
    assert message["From"] == f"Cron Daemon <{RELAY_FROM}>"
    assert "Reply-To" not in message


def test_two_from_headers_become_one() -> None:
    message = relay("From: a@example.net\nFrom: b@example.net\n" + STORED.split("\n", 1)[1])
    assert message.get_all("From") == [RELAY_FROM]
    assert message["Reply-To"] == "a@example.net"


def test_preparing_twice_changes_nothing_more() -> None:
    once = relay(STORED)
    assert relay(once.as_string()).as_string() == once.as_string()


def test_from_address_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="from_address"):
        prepare_for_relay(STORED, "")


def test_a_submitted_message_goes_out_from_the_configured_address() -> None:
    """The two halves together: what was accepted is what the relay gets, but for From."""
    submission = submit(HEADERS, recipients_from_headers=True)
    message = relay(submission.raw)
    assert message["From"] == f"Backup job <{RELAY_FROM}>"
    assert message["Reply-To"] == "Backup job <backup@host.example.net>"
    assert message["Message-ID"].strip() == submission.message_id
    assert "Bcc" not in message


# --- header shapes --------------------------------------------------------------------------------

_atoms = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=10)
addresses = st.builds(lambda local, host: f"{local}@{host}.example", _atoms, _atoms)
display_names = st.one_of(
    st.just(""),
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\r\n"),
        min_size=1,
        max_size=30,
    ).filter(lambda name: name.strip() == name and name),
)


@given(display_name=display_names, address=addresses, reply_to=st.one_of(st.none(), addresses))
def test_any_sender_goes_out_as_the_configured_one(
    display_name: str, address: str, reply_to: str | None
) -> None:
    message = EmailMessage()
    message["From"] = Address(display_name=display_name, addr_spec=address)
    message["To"] = "ops@example.com"
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Message-ID"] = "<fixed.1@contoso.example>"
    message["Subject"] = "Disk almost full"
    message.set_content("body\n")

    stored = message.as_string()
    [original] = message_from_string(stored, policy=policy.default)["From"].addresses
    prepared = relay(stored)

    [sender] = prepared["From"].addresses
    assert sender.addr_spec == RELAY_FROM
    assert sender.display_name == original.display_name
    [replies_to] = prepared["Reply-To"].addresses
    assert replies_to.addr_spec == (reply_to or address)
    assert prepared["Message-ID"] == "<fixed.1@contoso.example>"
    assert prepared.get_content() == "body\n"
