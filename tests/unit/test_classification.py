"""One case per row of the classification table, and a check that no row goes untested."""

from __future__ import annotations

import pytest

from alertmail.domain.classification import RULES, classify, enhanced_code
from alertmail.domain.oauth_classification import OAUTH_CODES
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

HOST = {"host": "smtp.office365.com", "port": 587}


def reply(code: int, text: str, stage: str = "data") -> SmtpReplyError:
    return SmtpReplyError(code, text, stage=stage, **HOST)


CASES: list[tuple[str, TransportError, str, bool]] = [
    ("dns", DnsError("gaierror", **HOST), "dns", True),
    ("connect_timeout", ConnectTimeoutError("timed out", timeout=30, **HOST), "connect_timeout", True),
    ("connect_refused", ConnectRefusedError("refused", **HOST), "connect_refused", True),
    (
        "certificate_invalid",
        TlsHandshakeError("verify failed", certificate_invalid=True, **HOST),
        "tls_handshake",
        False,
    ),
    ("tls_handshake", TlsHandshakeError("wrong version number", **HOST), "tls_handshake", False),
    ("starttls_not_offered", TlsUnavailableError("no STARTTLS", **HOST), "tls_unavailable", False),
    (
        "exchange_quota",
        reply(554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"),
        "smtp_throttled",
        True,
    ),
    ("google_daily_limit", reply(550, "5.4.5 Daily user sending limit exceeded."), "smtp_throttled", True),
    (
        "send_as_denied",
        reply(554, "5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.Mapi"),
        "smtp_policy",
        False,
    ),
    (
        "basic_auth_unsupported",
        reply(550, "5.7.30 Basic authentication is not supported for Client Submission."),
        "smtp_policy",
        False,
    ),
    (
        "smtp_auth_disabled",
        reply(
            535,
            "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
            "auth",
        ),
        "smtp_auth",
        False,
    ),
    (
        "app_password_required",
        reply(534, "5.7.9 Application-specific password required.", "auth"),
        "smtp_auth",
        False,
    ),
    (
        "google_credentials",
        reply(535, "5.7.8 Username and Password not accepted.", "auth"),
        "smtp_auth",
        False,
    ),
    (
        "authentication_required",
        reply(530, "5.7.57 Client not authenticated to send mail.", "mail"),
        "smtp_auth",
        False,
    ),
    ("authentication_failed", reply(535, "5.7.3 Authentication unsuccessful", "auth"), "smtp_auth", False),
    ("auth_stage", reply(504, "5.5.4 Unrecognized authentication type", "auth"), "smtp_auth", False),
    (
        "recipient_unknown",
        reply(550, "5.1.1 <nobody@example.com>: Recipient address rejected", "rcpt"),
        "smtp_recipient",
        False,
    ),
    ("recipient_refused", reply(550, "Mailbox unavailable", "rcpt"), "smtp_recipient", False),
    (
        "throttled",
        reply(421, "4.7.0 Try again later, closing connection.", "connect"),
        "smtp_throttled",
        True,
    ),
    (
        "throttled_enhanced",
        reply(451, "4.7.0 Temporary server error. Please try again later", "mail"),
        "smtp_throttled",
        True,
    ),
    ("policy", reply(554, "5.7.1 Message rejected due to content policy"), "smtp_policy", False),
    ("policy_554", reply(554, "Transaction failed"), "smtp_policy", False),
    ("transient_reply", reply(451, "Local error in processing", "mail"), "smtp_other", True),
    ("permanent_reply", reply(552, "Message size exceeds fixed limit"), "smtp_other", False),
    (
        "native_temporary",
        NativeTransportError("exit 75", program="/usr/sbin/sendmail", exit_code=75),
        "native",
        True,
    ),
    ("native", NativeTransportError("exit 1", program="/usr/sbin/sendmail", exit_code=1), "native", False),
    ("connection_lost", TransportError("Connection lost", **HOST), "smtp_other", True),
    (
        "xoauth2_rejected",
        reply(535, "5.7.3 Authentication unsuccessful", "xoauth2"),
        "oauth",
        False,
    ),
    # OAuth2: each known provider code is its own row; these are what the error and stage say.
    *(
        (
            f"oauth_{code.lower()}",
            OAuthError("x", f"{code}: text", stage="refresh", provider_code=code),
            known.category,
            known.retryable,
        )
        for code, known in OAUTH_CODES.items()
    ),
    (
        "oauth_stored_dead",
        OAuthError("reauthorization_required", "dead", stage="stored"),
        "oauth_reauth",
        False,
    ),
    (
        "oauth_not_authorized",
        OAuthError("not_authorized", "nobody signed in", stage="stored"),
        "oauth",
        False,
    ),
    ("oauth_code_refused", OAuthError("invalid_grant", "Bad Request", stage="token"), "oauth", False),
    (
        "oauth_invalid_grant",
        OAuthError("invalid_grant", "Token has been expired or revoked.", stage="refresh"),
        "oauth_reauth",
        False,
    ),
    (
        "oauth_unavailable",
        OAuthError("network_error", "could not reach", stage="refresh", host="login.microsoftonline.com"),
        "oauth",
        True,
    ),
    ("oauth_other", OAuthError("invalid_request", "Bad request", stage="token"), "oauth", False),
]


@pytest.mark.parametrize(("rule", "error", "category", "retryable"), CASES, ids=[c[0] for c in CASES])
def test_each_rule(rule: str, error: TransportError, category: str, retryable: bool) -> None:
    found = classify(error)
    assert (found.rule, found.category, found.retryable) == (rule, category, retryable)
    assert found.hint and "{" not in found.hint


def test_every_rule_has_a_case() -> None:
    assert {rule.name for rule in RULES} == {case[0] for case in CASES}


def test_seed_wording_of_log_messages() -> None:
    assert classify(DnsError("x", **HOST)).message == "Could not resolve hostname smtp.office365.com"
    assert classify(ConnectTimeoutError("x", timeout=30, **HOST)).message == (
        "Connection timed out after 30 seconds while connecting to smtp.office365.com:587"
    )
    assert classify(TlsHandshakeError("x", certificate_invalid=True, **HOST)).message == (
        "TLS handshake failed - peer certificate validation error"
    )


def test_smtp_reply_keeps_codes_and_first_line() -> None:
    found = classify(reply(535, "5.7.3 Authentication unsuccessful\n[AM0PR01CA0001.eurprd01]", "auth"))
    assert (found.smtp_code, found.enhanced_code) == (535, "5.7.3")
    assert found.message == "535 5.7.3 Authentication unsuccessful"


def test_hint_names_host_and_port() -> None:
    assert (
        "smtp.office365.com refused the connection on port 587"
        in classify(ConnectRefusedError("x", **HOST)).hint
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("5.7.3 Authentication unsuccessful", "5.7.3"),
        ("4.3.2 x", "4.3.2"),
        ("Mailbox busy", None),
        ("  2.0.0 Ok", "2.0.0"),
        ("5.7.1234 nope", None),
    ],
)
def test_enhanced_code(text: str, code: str | None) -> None:
    assert enhanced_code(text) == code


def test_a_dead_refresh_token_is_oauth_reauth_and_keeps_the_provider_code() -> None:
    error = OAuthError(
        "invalid_grant",
        "AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: 1",
        stage="refresh",
        provider_code="AADSTS700082",
    )
    found = classify(error)
    assert (found.category, found.retryable, found.provider_code) == ("oauth_reauth", False, "AADSTS700082")
    assert found.message == "AADSTS700082: The refresh token has expired due to inactivity."


def test_a_throttled_token_endpoint_is_retried() -> None:
    error = OAuthError("temporarily_unavailable", "busy", stage="refresh", http_status=503)
    assert classify(error).retryable
