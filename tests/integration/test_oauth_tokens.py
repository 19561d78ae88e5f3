"""OAuthTokenService on the real SQLite database and the provider fake: one refresh at a time,
rotated refresh tokens stored, tokens encrypted at rest, and token health over time."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import text

from alertmail.composition import Container
from alertmail.services.clock import utc_now
from tests.support.oauth_settings import (
    ADMIN_SIGNING_IN,
    google_settings,
    microsoft_settings,
    signed_in,
    token_repository,
)
from tests.support.provider_fakes import ProviderFake


def refresh_token_sent(fake: ProviderFake) -> str:
    request = fake.token_requests[-1]
    assert request.form["grant_type"] == "refresh_token"
    return request.form["refresh_token"]


def encodings(secret: str) -> set[str]:
    """The token as stored in clear could appear: as is, or base64 in either alphabet."""
    raw = secret.encode()
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return {secret} | encoded | {value.rstrip("=") for value in encoded}


# --- one refresh at a time ----------------------------------------------------------------------


async def test_concurrent_callers_share_one_refresh_then_reuse_the_token(
    container: Container, provider_fake: ProviderFake
) -> None:
    provider_fake.expires_in = 1  # the signed-in access token is already inside the refresh margin
    settings = await signed_in(container, microsoft_settings(provider_fake))
    provider_fake.expires_in = 3599
    requests_before = len(provider_fake.token_requests)

    tokens = await asyncio.gather(*(container.oauth_tokens.access_token(settings) for _ in range(20)))

    assert len(provider_fake.token_requests) == requests_before + 1
    refresh_token_sent(provider_fake)
    assert len(set(tokens)) == 1
    for _ in range(1000):
        assert await container.oauth_tokens.access_token(settings) == tokens[0]
    assert len(provider_fake.token_requests) == requests_before + 1


# --- rotation -----------------------------------------------------------------------------------


async def test_the_rotated_refresh_token_is_stored_and_used_next(
    container: Container, provider_fake: ProviderFake
) -> None:
    settings = await signed_in(container, microsoft_settings(provider_fake))
    repository = token_repository(container)
    first = await repository.load()
    assert first is not None and first.refresh_token is not None

    await container.oauth_tokens.refresh(settings)
    rotated = await repository.load()

    assert refresh_token_sent(provider_fake) == first.refresh_token.get_secret_value()
    assert rotated is not None and rotated.refresh_token is not None
    assert rotated.refresh_token.get_secret_value() != first.refresh_token.get_secret_value()

    await container.oauth_tokens.refresh(settings)  # the fake accepts only tokens it issued

    assert refresh_token_sent(provider_fake) == rotated.refresh_token.get_secret_value()


# --- at rest ------------------------------------------------------------------------------------


async def test_tokens_are_encrypted_in_the_database_row(
    container: Container, provider_fake: ProviderFake
) -> None:
    await signed_in(container, microsoft_settings(provider_fake))
    stored = await token_repository(container).load()
    assert stored is not None and stored.refresh_token is not None
    secrets = [stored.access_token.get_secret_value(), stored.refresh_token.get_secret_value()]

    async with container.database.engine.connect() as connection:
        row = (await connection.execute(text("SELECT access_token, refresh_token FROM oauth_tokens"))).one()

    raw = " ".join(str(column) for column in row)
    assert all(row)
    for secret in secrets:
        assert not any(form in raw for form in encodings(secret))


# --- health -------------------------------------------------------------------------------------


async def test_microsoft_tokens_unused_for_80_days_are_expiring(
    container: Container, provider_fake: ProviderFake
) -> None:
    settings = await signed_in(container, microsoft_settings(provider_fake))
    assert (await container.oauth_tokens.status(settings)).health.state == "valid"
    repository = token_repository(container)
    stored = await repository.load()
    assert stored is not None
    long_ago = utc_now() - timedelta(days=80)

    await repository.save(replace(stored, obtained_at=long_ago, refreshed_at=long_ago))

    health = (await container.oauth_tokens.status(settings)).health
    assert health.state == "expiring"
    assert health.refresh_risk_at == long_ago + timedelta(days=90)


async def test_google_testing_app_tokens_are_expiring_6_days_after_sign_in(
    container: Container, provider_fake: ProviderFake
) -> None:
    settings = await signed_in(container, google_settings(provider_fake, oauth_app_testing=True))
    assert (await container.oauth_tokens.status(settings)).health.state == "valid"
    repository = token_repository(container)
    stored = await repository.load()
    assert stored is not None
    now = utc_now()

    # A refresh an hour ago does not help: a Testing app's refresh tokens die 7 days after sign-in.
    await repository.save(replace(stored, obtained_at=now - timedelta(days=6), refreshed_at=now))

    assert (await container.oauth_tokens.status(settings)).health.state == "expiring"


async def test_a_new_client_id_requires_a_new_sign_in(
    container: Container, provider_fake: ProviderFake
) -> None:
    changes = microsoft_settings(provider_fake)
    await signed_in(container, changes)
    endpoints = {name: changes[name] for name in ("authorization_endpoint", "token_endpoint")}

    await container.settings.save(
        {"client_id": "0b8f7c2e-1d3a-4e5f-9a6b-7c8d9e0f1a2b", **endpoints}, actor=ADMIN_SIGNING_IN
    )

    settings = (await container.settings.current()).settings
    assert (await container.oauth_tokens.status(settings)).health.state == "reauthorization_required"
