"""One case per row of the classification table (category, retryable, scope), and a check that no
row goes untested."""

from __future__ import annotations

import errno
import socket

import pytest

from alertmail.domain.api_classification import API_RULES
from alertmail.domain.classification import RULES, Scope, classify
from alertmail.domain.oauth_classification import DEVICE_CODES, DEVICE_ERRORS, OAUTH_CODES
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
RELAY = {"host": "mail.example.net", "port": 587}  # neither Microsoft's nor Google's
R, M, P = Scope.RECIPIENT, Scope.MESSAGE, Scope.RELAY


def reply(code: int, text: str, stage: str = "data") -> SmtpReplyError:
    return SmtpReplyError(code, text, stage=stage, **RELAY)


def tls(detail: str, verify_code: int | None = None) -> TlsHandshakeError:
    return TlsHandshakeError(
        detail, certificate_invalid=verify_code is not None, verify_code=verify_code, **RELAY
    )


# (rule, error, category, retryable, scope): one case per row of the table, in its order.
CASES: list[tuple[str, TransportError, str, bool, Scope]] = [
    ("dns_resolver_failing", DnsError("x", resolver_code=socket.EAI_AGAIN, **HOST), "dns", True, P),
    ("dns_resolver_words", DnsError("Temporary failure in name resolution", **HOST), "dns", True, P),
    ("dns_no_such_name", DnsError("x", resolver_code=socket.EAI_NONAME, **HOST), "dns", False, P),
    ("dns_no_such_name_words", DnsError("getaddrinfo ENOTFOUND smtp.x", **HOST), "dns", False, P),
    ("dns", DnsError("gaierror", **HOST), "dns", True, P),
    (
        "implicit_tls_port_no_greeting",
        ConnectTimeoutError("x", host="smtp.example.net", port=465, timeout=30, stage="greeting"),
        "tls_handshake",
        False,
        P,
    ),
    (
        "no_greeting",
        ConnectTimeoutError("x", timeout=30, stage="greeting", **HOST),
        "connect_timeout",
        True,
        P,
    ),
    ("connect_timeout", ConnectTimeoutError("timed out", timeout=30, **HOST), "connect_timeout", True, P),
    (
        "connect_timeout_errno",
        TransportError("[Errno 110] Connection timed out", os_errno=110, **HOST),
        "connect_timeout",
        True,
        P,
    ),
    ("unreachable", TransportError("x", os_errno=errno.ENETUNREACH, **HOST), "connect_refused", True, P),
    ("unreachable_words", TransportError("No route to host", **HOST), "connect_refused", True, P),
    ("connect_refused", ConnectRefusedError("refused", **HOST), "connect_refused", True, P),
    ("certificate_expired", tls("verify failed", 10), "tls_handshake", False, P),
    ("certificate_expired_words", tls("certificate has expired"), "tls_handshake", False, P),
    ("certificate_name_mismatch", tls("verify failed", 62), "tls_handshake", False, P),
    (
        "certificate_name_words",
        tls("Hostname mismatch, certificate is not valid for 'x'"),
        "tls_handshake",
        False,
        P,
    ),
    ("certificate_untrusted", tls("verify failed", 19), "tls_handshake", False, P),
    ("certificate_untrusted_words", tls("unable to get local issuer certificate"), "tls_handshake", False, P),
    ("certificate_invalid", tls("verify failed", 0), "tls_handshake", False, P),
    ("tls_mode_mismatch", tls("[SSL: WRONG_VERSION_NUMBER] wrong version number"), "tls_handshake", False, P),
    ("tls_version", tls("[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol"), "tls_handshake", False, P),
    ("tls_handshake", tls("sslv3 alert handshake failure"), "tls_handshake", False, P),
    ("starttls_not_offered", TlsUnavailableError("no STARTTLS", **HOST), "tls_unavailable", False, P),
    (
        "daily_quota",
        reply(554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"),
        "smtp_throttled",
        True,
        P,
    ),
    (
        "greylisted",
        reply(450, "4.2.0 <a@b.c>: Recipient address rejected: Greylisted", "rcpt"),
        "smtp_policy",
        True,
        R,
    ),
    (
        "tls_not_available",
        reply(454, "4.7.0 TLS not available due to local problem", "ehlo"),
        "tls_unavailable",
        True,
        P,
    ),
    ("starttls_refused", reply(500, "5.3.3 Unrecognized command", "starttls"), "tls_unavailable", False, P),
    (
        "tls_version_refused",
        reply(421, "4.7.66 TLS 1.0 and 1.1 are not supported.", "ehlo"),
        "tls_handshake",
        False,
        P,
    ),
    (
        "starttls_required",
        reply(530, "5.7.0 Must issue a STARTTLS command first", "auth"),
        "tls_unavailable",
        False,
        P,
    ),
    (
        "send_as_denied",
        reply(554, "5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.Mapi"),
        "smtp_policy",
        False,
        P,
    ),
    ("basic_auth_unsupported", reply(550, "5.7.30 Basic auth is off", "auth"), "smtp_policy", False, P),
    (
        "basic_auth_unsupported_words",
        reply(550, "Basic authentication is not supported for Client Submission.", "auth"),
        "smtp_policy",
        False,
        P,
    ),
    (
        "basic_auth_disabled_exchange",
        reply(535, "5.7.139 Authentication unsuccessful, basic authentication is disabled.", "auth"),
        "smtp_auth",
        False,
        P,
    ),
    ("smtp_auth_disabled", reply(535, "5.7.139 Authentication unsuccessful", "auth"), "smtp_auth", False, P),
    (
        "smtp_auth_disabled_words",
        reply(535, "Authentication unsuccessful, basic authentication is disabled.", "auth"),
        "smtp_auth",
        False,
        P,
    ),
    ("xoauth2_rejected", reply(535, "5.7.3 Authentication unsuccessful", "xoauth2"), "oauth", False, P),
    (
        "auth_type_unsupported",
        TransportError("The SMTP AUTH extension is not supported by this server.", **RELAY),
        "smtp_auth",
        False,
        P,
    ),
    (
        "auth_throttled",
        reply(454, "4.7.0 Too many login attempts, please try again later.", "auth"),
        "smtp_throttled",
        True,
        P,
    ),
    ("auth_temporary", reply(454, "4.7.0 Temporary authentication failure", "auth"), "smtp_auth", True, P),
    (
        "app_password_required",
        reply(534, "5.7.14 Please log in via your web browser", "auth"),
        "smtp_auth",
        False,
        P,
    ),
    (
        "app_password_words",
        reply(535, "Application-specific password required", "mail"),
        "smtp_auth",
        False,
        P,
    ),
    (
        "credentials_refused",
        reply(535, "5.7.8 Username and Password not accepted.", "auth"),
        "smtp_auth",
        False,
        P,
    ),
    ("credentials_enhanced", reply(550, "5.7.8 Error: authentication failed", "auth"), "smtp_auth", False, P),
    (
        "domain_authentication",
        reply(
            550, "5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy"
        ),
        "smtp_policy",
        False,
        M,
    ),
    (
        "authentication_required_530",
        reply(530, "5.7.57 Client not authenticated to send mail.", "mail"),
        "smtp_auth",
        False,
        P,
    ),
    ("authentication_required_words", reply(550, "Authentication required", "mail"), "smtp_auth", False, P),
    ("auth_refused", reply(501, "5.5.2 Cannot decode response", "auth"), "smtp_auth", False, P),
    (
        "client_host_rejected",
        reply(450, "4.7.1 Client host rejected: cannot find your reverse hostname, [1.2.3.4]", "rcpt"),
        "smtp_policy",
        True,
        P,
    ),
    ("relay_denied", reply(554, "5.7.1 <a@b.c>: Relay access denied", "rcpt"), "smtp_policy", False, R),
    ("sender_refused", reply(553, "5.1.7 The sender address is invalid", "mail"), "smtp_policy", False, P),
    (
        "sender_refused_words",
        reply(450, "4.1.8 <a@b.c>: Sender address rejected: Domain not found", "rcpt"),
        "smtp_policy",
        True,
        P,
    ),
    ("message_too_big", reply(552, "5.3.4 Message size exceeds fixed limit"), "smtp_other", False, M),
    ("message_too_big_words", reply(552, "Message size exceeds maximum permitted"), "smtp_other", False, M),
    ("too_many_recipients", reply(452, "4.5.3 Too many recipients", "rcpt"), "smtp_other", True, M),
    (
        "mailbox_full",
        reply(452, "4.2.2 The email account that you tried to reach is over quota.", "rcpt"),
        "smtp_recipient",
        True,
        R,
    ),
    ("mailbox_full_words", reply(552, "Mailbox is full", "rcpt"), "smtp_recipient", False, R),
    (
        "recipient_receiving_too_fast",
        reply(450, "4.2.1 The user you are trying to contact is receiving mail too quickly.", "rcpt"),
        "smtp_recipient",
        True,
        R,
    ),
    (
        "recipient_address",
        reply(550, "5.1.1 <nobody@example.com>: User unknown", "rcpt"),
        "smtp_recipient",
        False,
        R,
    ),
    (
        "recipient_words",
        reply(450, "<a@b.c>: Recipient address rejected: unverified address", "rcpt"),
        "smtp_recipient",
        True,
        R,
    ),
    ("refused_by_policy_words", reply(550, "Message rejected as spam", "data"), "smtp_policy", False, M),
    (
        "throttled_words",
        reply(450, "4.2.1 Peak SMTP relay limit exceeded for customer.", "mail"),
        "smtp_throttled",
        True,
        P,
    ),
    (
        "closing_by_policy_421",
        reply(421, "Domain x.mailgun.org is not allowed to send: Please activate your account.", "data"),
        "smtp_policy",
        False,
        M,
    ),
    (
        "closing_network_421",
        reply(421, "4.4.2 Connection dropped due to SocketError", "data"),
        "smtp_other",
        True,
        P,
    ),
    (
        "deferred_by_reputation_421",
        reply(
            421,
            "4.7.0 This message is suspicious due to the very low reputation of the sending IP address.",
            "data",
        ),
        "smtp_policy",
        True,
        M,
    ),
    ("closing_421", reply(421, "4.3.0 Temporary System Problem.", "connect"), "smtp_throttled", True, P),
    ("policy_enhanced", reply(554, "5.7.1 Message content not accepted"), "smtp_policy", False, M),
    ("deferred_by_policy", reply(451, "4.7.1 Try again later", "data"), "smtp_policy", True, M),
    (
        "refused_by_policy_4xx",
        reply(450, "Message temporarily rejected by policy", "data"),
        "smtp_policy",
        True,
        M,
    ),
    (
        "congestion",
        reply(451, "4.3.2 System not accepting network messages", "mail"),
        "smtp_throttled",
        True,
        P,
    ),
    ("recipient_refused", reply(550, "Requested action not taken", "rcpt"), "smtp_recipient", False, R),
    ("content", reply(554, "5.6.0 Corrupt message content"), "smtp_other", False, M),
    (
        "permanent_not_policy",
        reply(554, "5.4.14 Hop count exceeded - possible mail loop"),
        "smtp_other",
        False,
        M,
    ),
    ("refused_554", reply(554, "Transaction failed"), "smtp_policy", False, M),
    (
        "transient_reply",
        reply(451, "4.7.0 Temporary server error. Please try again later", "mail"),
        "smtp_other",
        True,
        P,
    ),
    ("permanent_reply", reply(500, "Command unrecognized", "mail"), "smtp_other", False, P),
    (
        "native_temporary",
        NativeTransportError("exit 75", program="/usr/sbin/sendmail", exit_code=75),
        "native",
        True,
        P,
    ),
    ("native", NativeTransportError("exit 1", program="/usr/sbin/sendmail", exit_code=1), "native", False, P),
    ("connection_lost", TransportError("Connection lost", **HOST), "smtp_other", True, P),
    ("unexpected", TransportError("the server offers neither", **HOST), "smtp_other", True, P),
    # Sign in with a code: Microsoft's codes, then the RFC 8628 errors, at the device stage only.
    *(
        (
            f"device_{code.lower()}",
            OAuthError("invalid_grant", "", stage="device", provider_code=code),
            "oauth",
            False,
            P,
        )
        for code in DEVICE_CODES
    ),
    *(
        (f"device_{error}", OAuthError(error, "", stage="device"), "oauth", False, P)
        for error in DEVICE_ERRORS
    ),
    # OAuth2: each known provider code is its own row; these are what the error and stage say.
    *(
        (
            f"oauth_{code.lower()}",
            OAuthError("x", f"{code}: text", stage="refresh", provider_code=code),
            known.category,
            known.retryable,
            P,
        )
        for code, known in OAUTH_CODES.items()
    ),
    (
        "oauth_stored_dead",
        OAuthError("reauthorization_required", "dead", stage="stored"),
        "oauth_reauth",
        False,
        P,
    ),
    (
        "oauth_not_authorized",
        OAuthError("not_authorized", "nobody signed in", stage="stored"),
        "oauth",
        False,
        P,
    ),
    ("oauth_code_refused", OAuthError("invalid_grant", "Bad Request", stage="token"), "oauth", False, P),
    (
        "oauth_invalid_grant",
        OAuthError("invalid_grant", "Token has been expired or revoked.", stage="refresh"),
        "oauth_reauth",
        False,
        P,
    ),
    (
        "oauth_unavailable",
        OAuthError("network_error", "could not reach", stage="refresh", host="login.microsoftonline.com"),
        "oauth",
        True,
        P,
    ),
    ("oauth_other", OAuthError("invalid_request", "Bad request", stage="token"), "oauth", False, P),
]


@pytest.mark.parametrize(
    ("rule", "error", "category", "retryable", "scope"), CASES, ids=[c[0] for c in CASES]
)
def test_each_rule(rule: str, error: TransportError, category: str, retryable: bool, scope: Scope) -> None:
    found = classify(error)
    assert (found.rule, found.category, found.retryable, found.scope) == (rule, category, retryable, scope)
    assert found.hint and "{" not in found.hint


def test_every_rule_has_a_case() -> None:
    # The mail APIs' rows have their cases in test_api_classification.py.
    assert {rule.name for rule in RULES if rule not in API_RULES} == {case[0] for case in CASES}
