"""Issue #15 item 5: Exchange Online's 535 5.7.139 (SMTP AUTH off, or password logins off) gets a
hint that offers the E-mail Type Microsoft Graph (sendMail) and points at the guide."""

from __future__ import annotations

import pytest

from alertmail.domain.classification import classify
from alertmail.errors import SmtpReplyError


@pytest.mark.parametrize(
    "reply",
    [
        # simonrob/email-oauth2-proxy#193, nodemailer#1484 (tests/data/diagnostics_corpus.json)
        "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
        "Visit https://aka.ms/smtp_auth_disabled for more information.",
        "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. "
        "Visit https://aka.ms/smtp_auth_disabled for more information.",
        "5.7.139 Authentication unsuccessful",  # a relay in front of Exchange that keeps only the code
    ],
)
def test_smtp_auth_off_offers_graph_with_the_guide(reply: str) -> None:
    found = classify(SmtpReplyError(535, reply, stage="auth", host="127.0.0.1"), purpose="test")

    assert (found.category, found.rule) == ("smtp_auth", "smtp_auth_disabled")
    assert "OAuth2 included" in found.hint and "E-mail Type to Microsoft Graph (sendMail)" in found.hint
    assert "Application permission Mail.Send with admin consent" in found.hint
    assert (
        "RBAC for Applications" in found.hint and "Tenant ID, Client ID and Client Secret Value" in found.hint
    )


def test_basic_auth_off_offers_oauth2_or_graph() -> None:
    # rpremraj/mailR#107, nodemailer#1714 (tests/data/diagnostics_corpus.json)
    reply = (
        "5.7.139 Authentication unsuccessful, basic authentication is disabled. "
        "[BM1P287CA0015.INDP287.PROD.OUTLOOK.COM]"
    )
    found = classify(SmtpReplyError(535, reply, stage="auth", host="smtp.office365.com"))

    assert found.rule == "basic_auth_disabled_exchange"
    assert "Authentication Type to OAuth2" in found.hint and "Microsoft Graph (sendMail)" in found.hint
