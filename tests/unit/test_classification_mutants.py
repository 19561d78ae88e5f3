"""Classification edges that one case per rule (test_classification_rules.py) leaves open: every
value of every rule condition that lists several (codes, enhanced codes, stages, errnos, resolver and
certificate codes, ports), the value just outside each list, the 400-499 transient band at both ends,
and the log message of each kind of failure. Without these a mutant that drops or changes one
value of a tuple in `classification_rules.py` survives.
"""

from __future__ import annotations

import errno
import socket

import pytest

from alertmail.domain.classification import RULES, classify, log_message
from alertmail.errors import (
    ConnectRefusedError,
    ConnectTimeoutError,
    DnsError,
    NativeTransportError,
    OAuthError,
    SmtpReplyError,
    TlsHandshakeError,
    TlsUnavailableError,
    TransportError,
)

HOST = {"host": "smtp.example.com", "port": 587}


def reply(code: int, text: str = "Refused", stage: str = "data") -> SmtpReplyError:
    return SmtpReplyError(code, text, stage=stage, **HOST)  # type: ignore[arg-type]


REPLIES = [
    # credentials_refused: codes (535, 538)
    (535, "Nope", "auth", "credentials_refused"),
    (538, "Nope", "auth", "credentials_refused"),
    (536, "Nope", "auth", "auth_refused"),
    # credentials_enhanced: 5.7.8 or 5.7.3, at AUTH only
    (554, "5.7.8 Nope", "auth", "credentials_enhanced"),
    (554, "5.7.3 Nope", "auth", "credentials_enhanced"),
    (554, "5.7.8 Nope", "mail", "policy_enhanced"),
    (554, "5.7.9 Nope", "auth", "auth_refused"),
    # auth_throttled and auth_temporary: a 4xx at AUTH, split on words
    (454, "4.7.0 Too many attempts", "auth", "auth_throttled"),
    (454, "4.7.0 Nope", "auth", "auth_temporary"),
    # starttls_refused: a 5xx to STARTTLS only
    (554, "Nope", "starttls", "starttls_refused"),
    (454, "Nope", "starttls", "transient_reply"),
    # sender_refused: x.1. at MAIL, of either class
    (550, "5.1.8 Nope", "mail", "sender_refused"),
    (450, "4.1.8 Nope", "mail", "sender_refused"),
    # message_too_big: x.3.4 and x.2.3
    (552, "5.3.4 Nope", "data", "message_too_big"),
    (452, "4.3.4 Nope", "data", "message_too_big"),
    (552, "5.2.3 Nope", "rcpt", "message_too_big"),
    # too_many_recipients: x.5.3
    (452, "4.5.3 Nope", "rcpt", "too_many_recipients"),
    (552, "5.5.3 Nope", "rcpt", "too_many_recipients"),
    # mailbox_full: x.2.2, and its words at RCPT or DATA only
    (552, "5.2.2 Nope", "rcpt", "mailbox_full"),
    (452, "4.2.2 Nope", "rcpt", "mailbox_full"),
    (552, "Mailbox full", "rcpt", "mailbox_full_words"),
    (552, "Mailbox full", "data", "mailbox_full_words"),
    (552, "Mailbox full", "mail", "permanent_reply"),
    # recipient_address: each of x.1.0 to x.1.6 and x.2., at RCPT or DATA
    *((550, f"5.1.{detail} Nope", "rcpt", "recipient_address") for detail in range(7)),
    (450, "4.1.1 Nope", "rcpt", "recipient_address"),
    (550, "5.2.1 Nope", "rcpt", "recipient_address"),
    (550, "5.1.1 Nope", "data", "recipient_address"),
    (554, "5.1.7 Nope", "rcpt", "permanent_not_policy"),
    (554, "5.1.1 Nope", "ehlo", "permanent_not_policy"),
    # recipient_words: at RCPT only
    (554, "No such user", "rcpt", "recipient_words"),
    (554, "No such user", "data", "refused_554"),
    # content: x.6.
    (554, "5.6.0 Nope", "data", "content"),
    (454, "4.6.0 Nope", "data", "content"),
    # closing_network_421: 421 with 4.4.1 or 4.4.2
    (421, "4.4.1 Nope", "data", "closing_network_421"),
    (421, "4.4.2 Nope", "data", "closing_network_421"),
    (421, "4.4.3 Nope", "data", "closing_421"),
    (451, "4.4.1 Nope", "data", "transient_reply"),
    # policy_enhanced: 5.7.; deferred_by_policy: exactly 4.7.1
    (550, "5.7.0 Nope", "data", "policy_enhanced"),
    (450, "4.7.1 Nope", "data", "deferred_by_policy"),
    (450, "4.7.10 Nope", "data", "transient_reply"),
    (450, "4.7.0 Nope", "data", "transient_reply"),
    # refused_by_policy_4xx: a 4xx naming a policy; the same words in a 5xx are refused_by_policy_words
    (450, "Blocked", "data", "refused_by_policy_4xx"),
    (550, "Blocked", "data", "refused_by_policy_words"),
    # congestion: 4.4.5 and 4.3.2
    (452, "4.4.5 Nope", "mail", "congestion"),
    (451, "4.3.2 Nope", "mail", "congestion"),
    # recipient_refused: 550, 551 or 553 at RCPT only
    (550, "Nope", "rcpt", "recipient_refused"),
    (551, "Nope", "rcpt", "recipient_refused"),
    (553, "Nope", "rcpt", "recipient_refused"),
    (552, "Nope", "rcpt", "permanent_reply"),
    (550, "Nope", "data", "permanent_reply"),
    # permanent_not_policy: each of 5.0. to 5.5.
    *((550, f"5.{subject}.0 Nope", "ehlo", "permanent_not_policy") for subject in range(6)),
    (550, "5.9.0 Nope", "ehlo", "permanent_reply"),
    # refused_554: 554 only
    (554, "Nope", "data", "refused_554"),
    (553, "Nope", "data", "permanent_reply"),
    # authentication_required_530 and app_password_required: one code each
    (530, "Nope", "mail", "authentication_required_530"),
    (534, "Nope", "auth", "app_password_required"),
]


@pytest.mark.parametrize(("code", "text", "stage", "rule"), REPLIES)
def test_every_value_of_each_reply_condition(code: int, text: str, stage: str, rule: str) -> None:
    assert classify(reply(code, text, stage)).rule == rule


@pytest.mark.parametrize(
    ("code", "text", "rule", "retryable"),
    [
        (400, "Whatever", "transient_reply", True),
        (499, "Whatever", "transient_reply", True),
        (500, "Whatever", "permanent_reply", False),
        (399, "Whatever", "permanent_reply", False),
        (600, "Whatever", "permanent_reply", False),
        # Without a basic code in 400-599 the enhanced code gives the class.
        (399, "4.0.0 Whatever", "transient_reply", True),
        (600, "4.0.0 Whatever", "transient_reply", True),
        (599, "4.0.0 Whatever", "permanent_reply", False),
    ],
)
def test_the_transient_band_is_400_to_499(code: int, text: str, rule: str, retryable: bool) -> None:
    found = classify(reply(code, text, "mail"))
    assert (found.rule, found.retryable, found.smtp_code) == (rule, retryable, code)


def _dns(code: int) -> DnsError:
    return DnsError("lookup failed", resolver_code=code, **HOST)  # type: ignore[arg-type]


def _lost(number: int) -> TransportError:
    return TransportError("socket error", os_errno=number, **HOST)  # type: ignore[arg-type]


def _tls(number: int) -> TlsHandshakeError:
    return TlsHandshakeError("handshake", verify_code=number, **HOST)  # type: ignore[arg-type]


NO_SUCH_NAME = sorted({getattr(socket, name, -2) for name in ("EAI_NONAME", "EAI_NODATA", "EAI_FAIL")} - {-2})
NUMBERED = [
    *((_dns(socket.EAI_AGAIN), "dns_resolver_failing"), (_dns(11002), "dns_resolver_failing")),
    *((_dns(code), "dns_no_such_name") for code in (*NO_SUCH_NAME, 11001, 11004)),
    (_dns(99999), "dns"),
    *(
        (_lost(number), "unreachable")
        for number in (errno.ENETUNREACH, errno.EHOSTUNREACH, 101, 113, 51, 65, 10051, 10065)
    ),
    *((_lost(number), "connect_timeout_errno") for number in (errno.ETIMEDOUT, 110, 60, 10060)),
    (_lost(errno.ECONNRESET), "unexpected"),
    *((_tls(number), "certificate_expired") for number in (9, 10)),
    *((_tls(number), "certificate_name_mismatch") for number in (62, 64)),
    *((_tls(number), "certificate_untrusted") for number in (2, 18, 19, 20, 21, 27)),
    (_tls(63), "tls_handshake"),
]


@pytest.mark.parametrize(("error", "rule"), NUMBERED)
def test_every_number_of_each_numbered_condition(error: TransportError, rule: str) -> None:
    assert classify(error).rule == rule


@pytest.mark.parametrize(("port", "rule"), [(465, "implicit_tls_port_no_greeting"), (587, "no_greeting")])
def test_silence_on_the_implicit_tls_port_is_a_tls_mismatch(port: int, rule: str) -> None:
    error = ConnectTimeoutError(
        "timed out", timeout=5.0, host="smtp.example.com", port=port, stage="greeting"
    )
    assert classify(error).rule == rule


def test_every_rule_named_here_exists() -> None:
    named = {case[3] for case in REPLIES} | {case[1] for case in NUMBERED}
    assert named <= {rule.name for rule in RULES}


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (DnsError("no such host", **HOST), "Could not resolve hostname smtp.example.com"),  # type: ignore[arg-type]
        (
            ConnectTimeoutError("timed out", timeout=30.0, **HOST),  # type: ignore[arg-type]
            "Connection timed out after 30 seconds while connecting to smtp.example.com:587",
        ),
        (
            ConnectTimeoutError("timed out", timeout=2.5, **HOST),  # type: ignore[arg-type]
            "Connection timed out after 2.5 seconds while connecting to smtp.example.com:587",
        ),
        (
            ConnectTimeoutError("timed out", timeout=5.0, stage="greeting", **HOST),  # type: ignore[arg-type]
            "Connection timed out after 5 seconds while connecting to smtp.example.com:587"
            " (connected, but the server sent no greeting)",
        ),
        (ConnectRefusedError("refused", **HOST), "Connection refused by smtp.example.com:587"),  # type: ignore[arg-type]
        (
            TlsHandshakeError("bad", certificate_invalid=True, **HOST),  # type: ignore[arg-type]
            "TLS handshake failed - peer certificate validation error",
        ),
        (TlsHandshakeError("wrong version number", **HOST), "TLS handshake failed - wrong version number"),  # type: ignore[arg-type]
        (
            TlsUnavailableError("no STARTTLS", **HOST),  # type: ignore[arg-type]
            "STARTTLS is required but smtp.example.com:587 does not offer it; nothing was sent",
        ),
        (reply(550, "5.1.1 User unknown\r\nmore"), "550 5.1.1 User unknown"),
        (reply(421, ""), "421"),
        (TransportError("connection lost"), "connection lost"),
    ],
)
def test_each_kind_of_failure_has_its_log_message(error: TransportError, message: str) -> None:
    assert log_message(error) == message
    assert classify(error).message == message


def test_hints_name_the_host_and_port_and_fall_back_when_unknown() -> None:
    refused = classify(ConnectRefusedError("refused", **HOST))  # type: ignore[arg-type]
    assert "smtp.example.com" in refused.hint and "587" in refused.hint
    anonymous = classify(ConnectRefusedError("refused"))
    assert "the server" in anonymous.hint and "port ?" in anonymous.hint


def test_a_native_program_failure_names_the_program() -> None:
    temporary = classify(NativeTransportError("deferred", program="/usr/sbin/sendmail", exit_code=75))
    assert (temporary.rule, temporary.retryable) == ("native_temporary", True)
    failed = classify(NativeTransportError("failed", program="/usr/sbin/sendmail", exit_code=1))
    assert (failed.rule, failed.retryable) == ("native", False)
    assert "/usr/sbin/sendmail" in failed.hint


@pytest.mark.parametrize(
    ("error", "details"),
    [
        (
            OAuthError("invalid_grant", "  Token has been expired or revoked. ", stage="refresh"),
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
        ),
        # Microsoft's description repeats the log message; its IDs are what support asks for.
        (
            OAuthError("invalid_grant", "AADSTS70008: expired", stage="refresh", provider_code="AADSTS70008"),
            {"error": "invalid_grant"},
        ),
        (OAuthError("access_denied", "", stage="authorize"), {"error": "access_denied"}),
        (reply(550, "5.7.1 Refused"), {}),
        (TransportError("connection lost"), {}),
    ],
)
def test_support_details_keep_a_description_only_where_it_is_the_only_account(
    error: TransportError, details: dict[str, str]
) -> None:
    assert classify(error).support_details == details
