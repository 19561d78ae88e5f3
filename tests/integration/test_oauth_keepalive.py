"""The daily keep-alive refresh, against the Microsoft stand-in: inactivity alone never kills a sign-in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alertmail.composition import Container
from tests.support.oauth_settings import microsoft_settings, signed_in, token_repository
from tests.support.provider_fakes import ProviderFake


async def age_the_last_refresh(container: Container, by: timedelta) -> None:
    repository = token_repository(container)
    tokens = await repository.load()
    assert tokens is not None
    then = datetime.now(UTC) - by
    await repository.save(replace(tokens, obtained_at=then, refreshed_at=then))


async def test_a_day_without_a_refresh_gets_one(container: Container, provider_fake: ProviderFake) -> None:
    await signed_in(container, microsoft_settings(provider_fake))
    await age_the_last_refresh(container, timedelta(hours=25))
    before = len(provider_fake.token_requests)

    assert await container.oauth_keepalive.run_once() is True

    assert len(provider_fake.token_requests) == before + 1
    assert provider_fake.token_requests[-1].form["grant_type"] == "refresh_token"
    tokens = await token_repository(container).load()
    assert tokens is not None and tokens.refreshed_at is not None
    assert datetime.now(UTC) - tokens.refreshed_at < timedelta(minutes=1)


async def test_a_recent_refresh_is_left_alone(container: Container, provider_fake: ProviderFake) -> None:
    await signed_in(container, microsoft_settings(provider_fake))
    await age_the_last_refresh(container, timedelta(hours=2))
    before = len(provider_fake.token_requests)

    assert await container.oauth_keepalive.run_once() is False
    assert len(provider_fake.token_requests) == before


async def test_a_failed_keepalive_is_logged_and_asks_for_a_new_sign_in(
    container: Container, provider_fake: ProviderFake
) -> None:
    await signed_in(container, microsoft_settings(provider_fake))
    await age_the_last_refresh(container, timedelta(days=2))
    provider_fake.token_error("AADSTS700082")

    assert await container.oauth_keepalive.run_once() is False

    [entry] = await container.mail_logs.list(category="oauth_reauth")
    assert (entry.context, entry.provider_code) == ("OAuth2 keep-alive", "AADSTS700082")
    settings = (await container.settings.current()).settings
    assert (await container.oauth_tokens.status(settings)).health.state == "reauthorization_required"
    # Once the sign-in is known dead, the keep-alive stops asking the provider.
    before = len(provider_fake.token_requests)
    assert await container.oauth_keepalive.run_once() is False
    assert len(provider_fake.token_requests) == before


async def test_nothing_to_keep_alive_without_oauth(container: Container) -> None:
    assert await container.oauth_keepalive.run_once() is False
