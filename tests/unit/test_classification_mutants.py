"""Classification edges that the row-by-row tests leave open: every code of the multi-code rows, the
400-499 transient band at both ends, and the log message of each kind of failure.

Kept apart from test_classification.py on purpose: the rule table is being reworked (#14), and these
cases name rows by their current names; adapt or drop them with the table.
"""

from __future__ import annotations

import pytest

from alertmail.domain.classification import classify, log_message
from alertmail.errors import (
    ConnectRefusedError,
    ConnectTimeoutError,
    DnsError,
    NativeTransportError,
    SmtpReplyError,
    TlsHandshakeError,
    TlsUnavailableError,
    TransportError,
)

HOST = {"host": "smtp.example.com", "port": 587}


def reply(code: int, text: str = "Refused", stage: str = "data") -> SmtpReplyError:
    return SmtpReplyError(code, text, stage=stage, **HOST)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "text", "stage", "rule"),
    [
        (550, "5.1.1 User unknown", "rcpt", "recipient_unknown"),
        (551, "5.1.6 Moved", "rcpt", "recipient_unknown"),
        (553, "5.1.3 Bad address", "rcpt", "recipient_unknown"),
        (550, "No such user", "rcpt", "recipient_refused"),
        (551, "Not local", "rcpt", "recipient_refused"),
        (553, "Not allowed", "rcpt", "recipient_refused"),
        (421, "Try later", "data", "throttled"),
        (432, "Try later", "data", "throttled"),
        (450, "Try later", "data", "throttled"),
        (454, "Try later", "data", "throttled"),
        (451, "4.7.0 Slow down", "data", "throttled_enhanced"),
        (451, "4.2.1 Slow down", "data", "throttled_enhanced"),
        (451, "4.3.2 Slow down", "data", "throttled_enhanced"),
        (554, "5.7.1 Relay denied", "data", "policy"),
        (550, "5.7.1 Relay denied", "data", "policy"),
        (553, "5.7.1 Relay denied", "data", "policy"),
        (535, "5.7.3 Bad credentials", "auth", "authentication_failed"),
        (538, "Encryption required", "auth", "authentication_failed"),
    ],
)
def test_every_code_of_each_multi_code_row(code: int, text: str, stage: str, rule: str) -> None:
    assert classify(reply(code, text, stage)).rule == rule


@pytest.mark.parametrize(
    ("code", "rule", "retryable"),
    [
        (400, "transient_reply", True),
        (499, "transient_reply", True),
        (500, "permanent_reply", False),
        (399, "permanent_reply", False),
    ],
)
def test_the_transient_band_is_400_to_499(code: int, rule: str, retryable: bool) -> None:
    found = classify(reply(code, "Whatever"))
    assert (found.rule, found.retryable, found.smtp_code) == (rule, retryable, code)


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
    assert refused.hint.startswith("smtp.example.com refused the connection on port 587.")
    anonymous = classify(ConnectRefusedError("refused"))
    assert anonymous.hint.startswith("the server refused the connection on port ?.")


def test_a_native_program_failure_names_the_program() -> None:
    temporary = classify(NativeTransportError("deferred", program="/usr/sbin/sendmail", exit_code=75))
    assert (temporary.rule, temporary.retryable) == ("native_temporary", True)
    failed = classify(NativeTransportError("failed", program="/usr/sbin/sendmail", exit_code=1))
    assert (failed.rule, failed.retryable) == ("native", False)
    assert "(/usr/sbin/sendmail)" in failed.hint
