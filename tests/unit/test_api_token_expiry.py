"""A stored API token's expiry at its edge (#20): expired from the instant it names, never when None."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alertmail.domain.records import ApiToken

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def token(expires_at: datetime | None) -> ApiToken:
    return ApiToken("ci", "admin", NOW - timedelta(days=1), expires_at=expires_at)


def test_a_token_expires_at_the_instant_it_names() -> None:
    assert token(NOW).expired(NOW) is True
    assert token(NOW - timedelta(seconds=1)).expired(NOW) is True
    assert token(NOW + timedelta(seconds=1)).expired(NOW) is False


def test_a_token_without_expiry_never_expires() -> None:
    assert token(None).expired(NOW) is False
