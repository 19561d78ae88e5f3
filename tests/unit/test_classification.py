"""Classification beyond the table: log wording, enhanced codes on any line, provider-fitted hints,
no retry promise where nothing retries, support details, and invariants over any reply."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.classification import Scope, classify, enhanced_code
from alertmail.domain.evidence import provider_of
from alertmail.errors import (
    ConnectRefusedError,
    ConnectTimeoutError,
    DnsError,
    OAuthError,
    SmtpReplyError,
    TlsHandshakeError,
)
from tests.unit.test_classification_rules import HOST, reply, tls


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


@pytest.mark.parametrize(
    ("text", "code", "found"),
    [
        ("Requested action aborted\n5.3.4 Message too big", 552, "5.3.4"),
        ("Too many recipients #4.5.3", 452, "4.5.3"),
        ("from 10.5.1.2 not accepted", 550, None),
        ("5.0.0 first 4.7.1 second", 451, "4.7.1"),
    ],
)
def test_enhanced_code_on_any_line_and_in_any_spelling(text: str, code: int, found: str | None) -> None:
    assert enhanced_code(text, code) == found


def test_a_late_enhanced_code_decides() -> None:
    found = classify(
        reply(550, "Requested action not taken:\nmailbox unavailable\n#5.1.1 user unknown", "rcpt")
    )
    assert (found.enhanced_code, found.category, found.scope) == ("5.1.1", "smtp_recipient", Scope.RECIPIENT)


def test_provider_texts_only_for_their_hosts() -> None:
    google = SmtpReplyError(
        535, "5.7.8 Username and Password not accepted.", stage="auth", host="smtp.gmail.com"
    )
    other = SmtpReplyError(
        535, "5.7.8 Username and Password not accepted.", stage="auth", host="mail.example.net"
    )
    assert "app password" in classify(google).hint
    assert "Google" not in classify(other).hint and "Exchange" not in classify(other).hint
    busy = SmtpReplyError(421, "4.7.0 Too many connections", stage="connect", host="smtp.office365.com")
    assert "Exchange Online accepts 30 messages a minute" in classify(busy).hint
    assert "Exchange" not in classify(reply(421, "4.7.0 Too many connections", "connect")).hint


def test_certificate_hints_fit_the_cause() -> None:
    assert "renew" in classify(tls("x", 10)).hint and "Trusted CA" not in classify(tls("x", 10)).hint
    assert "name on the certificate" in classify(tls("x", 62)).hint
    assert "Trusted CA" in classify(tls("x", 19)).hint


@pytest.mark.parametrize("purpose", ["test", "sign_in"])
def test_no_retry_promise_for_what_nobody_retries(purpose: str) -> None:
    error = ConnectTimeoutError("timed out", timeout=30, **HOST)
    assert "alertmail tries again" in classify(error).hint
    assert "alertmail tries again" not in classify(error, purpose=purpose).hint
    assert "not retried" in classify(error, purpose=purpose).hint


def test_no_retry_promise_for_a_permanent_failure() -> None:
    assert "tries again" not in classify(reply(552, "5.2.3 Message length exceeds administrative limit")).hint


def test_microsoft_trace_and_oauth_ids_are_kept_for_support() -> None:
    text = (
        "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
        "[MN2PR05CA0004.namprd05.prod.outlook.com 2023-09-12T20:59:57.214Z 08DBB276B7E699C4]"
    )
    found = classify(SmtpReplyError(535, text, stage="auth", host="smtp.office365.com"))
    assert found.support_details == {
        "server": "MN2PR05CA0004.namprd05.prod.outlook.com",
        "timestamp": "2023-09-12T20:59:57.214Z",
        "trace_id": "08DBB276B7E699C4",
    }
    oauth = OAuthError(
        "invalid_grant", "AADSTS70008: expired", stage="refresh", trace_id="t-1", correlation_id="c-1"
    )
    assert classify(oauth).support_details["correlation_id"] == "c-1"


CATEGORIES = {
    "dns", "connect_timeout", "connect_refused", "tls_handshake", "tls_unavailable", "smtp_auth",
    "smtp_recipient", "smtp_throttled", "smtp_policy", "smtp_other", "oauth", "oauth_reauth", "native",
}  # fmt: skip
STAGES = ("connect", "ehlo", "starttls", "auth", "xoauth2", "mail", "rcpt", "data")


@given(
    code=st.integers(min_value=400, max_value=599),
    text=st.text(max_size=200),
    stage=st.sampled_from(STAGES),
    purpose=st.sampled_from(("delivery", "test", "sign_in")),
)
def test_any_reply_gets_a_known_category_and_a_filled_hint(
    code: int, text: str, stage: str, purpose: str
) -> None:
    found = classify(
        SmtpReplyError(code, text, stage=stage, host="mail.example.net", port=25), purpose=purpose
    )
    assert found.category in CATEGORIES and found.hint and "{" not in found.hint
    assert purpose == "delivery" or "alertmail tries again" not in found.hint
    if not found.retryable:
        assert "tries again" not in found.hint


@given(detail=st.integers(min_value=0, max_value=999), subject=st.integers(min_value=0, max_value=9))
def test_an_enhanced_code_agreeing_with_the_basic_code_wins(detail: int, subject: int) -> None:
    text = f"5.{subject}.{detail} first line\n4.{subject}.{detail} second line"
    assert enhanced_code(text, 451) == f"4.{subject}.{detail}"
    assert enhanced_code(text, 550) == f"5.{subject}.{detail}"


@pytest.mark.parametrize(
    ("host", "text", "provider"),
    [
        ("smtp.office365.com", "", "microsoft"),
        ("SMTP-MAIL.OUTLOOK.COM.", "", "microsoft"),
        ("smtp.gmail.com", "", "google"),
        ("oauth2.googleapis.com", "", "google"),
        (
            "relay.example.net",
            "5.7.3 Authentication unsuccessful [AM0PR01CA0001.eurprd01.prod.outlook.com]",
            "microsoft",
        ),
        ("relay.example.net", "5.7.8 Username and Password not accepted. x.1 - gsmtp", "google"),
        ("notgmail.com", "", ""),
        ("relay.example.net", "535 Authentication failed", ""),
    ],
)
def test_the_provider_comes_from_the_host_or_marks_only_its_servers_write(
    host: str, text: str, provider: str
) -> None:
    assert provider_of(host, text) == provider
