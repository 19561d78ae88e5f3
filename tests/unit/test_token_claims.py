"""Reading an access token's claims (domain/token_claims.py): what is taken, and what is not."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from alertmail.domain.token_claims import decode_access_token


def part(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def jwt(payload: dict[str, Any], *, header: str | None = None, signature: str = "c2ln") -> str:
    return f"{part({'alg': 'RS256', 'typ': 'JWT'}) if header is None else header}.{part(payload)}.{signature}"


@pytest.mark.parametrize(
    ("payload", "subject"),
    [
        (
            {"upn": "a@contoso.com", "preferred_username": "b@contoso.com", "email": "c@contoso.com"},
            "a@contoso.com",
        ),
        ({"preferred_username": "b@contoso.com", "email": "c@contoso.com"}, "b@contoso.com"),
        ({"email": "c@contoso.com"}, "c@contoso.com"),
        ({}, ""),
    ],
)
def test_the_account_is_the_first_of_upn_preferred_username_and_email(
    payload: dict[str, Any], subject: str
) -> None:
    claims = decode_access_token(jwt(payload))
    assert claims is not None and claims.subject == subject


def test_only_the_payload_is_read_whatever_the_header_and_signature() -> None:
    payload = {"aud": "https://graph.microsoft.com", "roles": ["Mail.Send"]}
    for token in (jwt(payload, signature=""), jwt(payload, header="")):
        claims = decode_access_token(token)
        assert claims is not None and claims.roles == ("Mail.Send",)


@pytest.mark.parametrize("token", ["a.b", "a.b.c.d.e", "h..s", "ya29.opaque-google-token", "EwB-personal"])
def test_what_is_not_a_three_part_token_with_a_json_payload_is_not_read(token: str) -> None:
    assert decode_access_token(token) is None


def test_only_non_empty_strings_count_as_permissions_and_audiences() -> None:
    claims = decode_access_token(
        jwt({"aud": ["https://graph.microsoft.com", 3, ""], "roles": ["Mail.Send", 7, ""]})
    )
    assert claims is not None
    assert claims.roles == ("Mail.Send",)
    assert claims.audiences == ("https://graph.microsoft.com",)


@pytest.mark.parametrize(
    ("exp", "expires_at"),
    [
        (-5, None),
        (0, None),  # no expiry at all, not 1970
        (1, datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
        (1764849600, datetime(2025, 12, 4, 12, 0, tzinfo=UTC)),
        ("1764849600", datetime(2025, 12, 4, 12, 0, tzinfo=UTC)),  # Google's token-info writes a string
        (253402300799, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (253402300800, None),  # year 10000: absurd, read as no expiry
        ("soon", None),
    ],
)
def test_the_expiry_is_a_unix_time_within_the_calendar(exp: Any, expires_at: datetime | None) -> None:
    claims = decode_access_token(jwt({"exp": exp}))
    assert claims is not None and claims.expires_at == expires_at
