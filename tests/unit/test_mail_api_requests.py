"""The requests the mail API transport builds, and its last guard before a token leaves."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from alertmail.adapters.mail_api_transport import MailApiTransport, gmail_request, graph_request
from alertmail.domain.mail_api import connection_limit
from alertmail.domain.message import build_message
from alertmail.domain.settings_model import MailSettings
from alertmail.errors import TransportError

MIME = b"From: a@contoso.com\r\nTo: b@example.com\r\nSubject: x\r\n\r\nbody\r\n"


def settings(**values: object) -> MailSettings:
    base = {"username": "relay+alerts@contoso.com", "graph_endpoint": "https://graph.microsoft.us"}
    return MailSettings.model_construct(**(base | values))


def test_graph_request_is_the_base64_mime_as_text_plain_to_the_mailbox() -> None:
    request = graph_request(MIME, settings())
    assert request.url == "https://graph.microsoft.us/v1.0/users/relay%2Balerts@contoso.com/sendMail"
    assert request.content_type == "text/plain"
    assert base64.b64decode(request.body, validate=True) == MIME


def test_gmail_request_is_raw_base64url_json_to_me() -> None:
    request = gmail_request(MIME * 3, settings(gmail_endpoint="https://gmail.googleapis.com"))
    assert request.url == "https://gmail.googleapis.com/gmail/v1/users/me/messages/send"
    assert request.content_type == "application/json"
    raw = json.loads(request.body)["raw"]
    assert "+" not in raw and "/" not in raw
    assert base64.urlsafe_b64decode(raw) == MIME * 3


class CountingTokens:
    def __init__(self) -> None:
        self.asked = 0

    async def access_token(self, settings: MailSettings, *, force_refresh: bool = False) -> str:
        self.asked += 1
        return "never-sent"

    async def token_accepted(self, settings: MailSettings) -> None:
        raise AssertionError("nothing was sent")


async def test_no_token_goes_to_an_endpoint_saved_before_the_https_rule() -> None:
    tokens = CountingTokens()
    transport = MailApiTransport("graph", graph_request, tokens=tokens)
    old = settings(graph_endpoint="http://graph.example.com", tls_trusted_ca="", connect_timeout=5.0)
    message = build_message(
        from_address="a@contoso.com",
        to=["b@example.com"],
        subject="x",
        text="t",
        html="<p>t</p>",
        sent_at=datetime.now(UTC),
    )
    with pytest.raises(TransportError, match=r"graph_endpoint must be an https:// URL"):
        await transport.send(message, ["b@example.com"], old)
    assert tokens.asked == 0


@pytest.mark.parametrize(
    ("email_type", "allowed", "limit"),
    [("graph", 8, 4), ("graph", 2, 2), ("gmail_api", 20, 4), ("smtp", 8, 8), ("native", 1, 1)],
)
def test_a_mail_api_never_gets_more_than_four_connections_for_the_cluster(
    email_type: str, allowed: int, limit: int
) -> None:
    assert connection_limit(email_type, allowed) == limit
