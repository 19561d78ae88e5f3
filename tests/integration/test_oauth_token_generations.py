"""Token rows only move forward, and refreshes are one at a time across processes (SQLite too).

- A sign-in that lands while a refresh is in flight (the provider stand-in holds the refresh's
  token request) is not overwritten by the refresh when it finishes, nor marked dead by it.
- Writes based on an old read (an acceptance, a refresh's result) change nothing.
- Three processes on one database (as `serve`, `worker` and the CLI) need a token at the same
  moment after it expired: the real authorization server (oidc-provider, which revokes the whole
  grant when a rotated refresh token is used twice) sees one refresh, and all three use its token.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from alertmail.composition import Container, open_container
from alertmail.config import AppConfig
from alertmail.domain.oauth import OAuthTokens, TokenGrant
from alertmail.errors import OAuthError
from alertmail.services.clock import utc_now
from tests.support.delivery import alertmail_env
from tests.support.oauth_server import LOGIN, OAuthServer
from tests.support.oauth_settings import ADMIN_SIGNING_IN, microsoft_settings, signed_in, token_repository
from tests.support.provider_fakes import ProviderFake

REDIRECT_URI = "http://alertmail.test/login/smtp-verification"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def container(database_url: str, tmp_path: Path) -> AsyncIterator[Container]:
    config = AppConfig(data_dir=tmp_path / "data", database_url=database_url, node_name="n1")
    async with open_container(config) as opened:
        yield opened


@asynccontextmanager
async def refresh_in_flight(
    container: Container, fake: ProviderFake
) -> AsyncIterator[asyncio.Task[OAuthTokens]]:
    """A refresh whose token request the provider stand-in holds until the block ends."""
    settings = (await container.settings.current()).settings
    gate = fake.token_gate = asyncio.Event()
    requests = len(fake.token_requests)
    refreshing = asyncio.create_task(container.oauth_tokens.refresh(settings))
    try:
        while len(fake.token_requests) == requests:
            await asyncio.sleep(0.01)
        yield refreshing
    finally:
        gate.set()  # even when the block failed: a held request would hang the server's shutdown
        fake.token_gate = None
        await asyncio.wait([refreshing])


async def test_a_sign_in_during_a_refresh_is_kept(container: Container, provider_fake: ProviderFake) -> None:
    settings = await signed_in(container, microsoft_settings(provider_fake))
    grant = TokenGrant(SecretStr("new-sign-in-access"), SecretStr("new-sign-in-refresh"), expires_in=3600)
    async with refresh_in_flight(container, provider_fake) as refreshing:
        await container.oauth_tokens.store_sign_in(settings, grant, account="second@contoso.com")

    stored = await token_repository(container).load()
    assert stored is not None and stored.account == "second@contoso.com"
    assert (
        stored.refresh_token is not None and stored.refresh_token.get_secret_value() == "new-sign-in-refresh"
    )
    assert refreshing.result().access_token.get_secret_value() == "new-sign-in-access"  # the newest


async def test_a_failed_refresh_does_not_mark_a_newer_sign_in_dead(
    container: Container, provider_fake: ProviderFake
) -> None:
    settings = await signed_in(container, microsoft_settings(provider_fake))
    provider_fake.token_error("AADSTS70008")  # the refresh token has expired: oauth_reauth
    grant = TokenGrant(SecretStr("fresh-access"), SecretStr("fresh-refresh"), expires_in=3600)
    async with refresh_in_flight(container, provider_fake) as refreshing:
        await container.oauth_tokens.store_sign_in(settings, grant, account=LOGIN)
    assert isinstance(refreshing.exception(), OAuthError)
    assert (await container.oauth_tokens.status(settings)).health.state == "valid"


async def test_writes_based_on_an_old_read_change_nothing(
    container: Container, provider_fake: ProviderFake
) -> None:
    settings = await signed_in(container, microsoft_settings(provider_fake))
    repository = token_repository(container)
    before = await repository.load()
    assert before is not None
    after = await container.oauth_tokens.refresh(settings)
    assert after.generation == before.generation + 1

    await repository.mark_accepted(before.generation, utc_now())
    assert await repository.save_if_current(replace(before, account="stale")) is None
    stored = await repository.load()
    assert stored == after  # neither the stale acceptance nor the stale tokens landed


async def test_three_processes_needing_a_token_at_once_share_one_refresh(
    tmp_path: Path, oauth_server: OAuthServer, sqlite_url: str
) -> None:
    config = AppConfig(data_dir=tmp_path / "data", database_url=sqlite_url, node_name="n1")
    client = await oauth_server.register_client([REDIRECT_URI])
    async with open_container(config) as container:
        await container.settings.save(
            _settings(oauth_server, client.client_id, client.client_secret), actor="t"
        )
        request = await container.oauth_sign_in.begin(ADMIN_SIGNING_IN)
        location = await oauth_server.sign_in(request.authorization_url, login=LOGIN)
        outcome = await container.oauth_sign_in.complete_from_url(location, administrator=ADMIN_SIGNING_IN)
        assert outcome.succeeded, outcome.reason
        repository = token_repository(container)
        signed = await repository.load()
        assert signed is not None
        await repository.save(replace(signed, access_expires_at=utc_now() - timedelta(minutes=1)))

    results = await _ask_at_once(config, processes=3)

    assert len({digest for digest, _ in results}) == 1  # one token, from one refresh
    assert sum(refreshes for _, refreshes in results) == 1
    async with open_container(config) as container:
        stored = await token_repository(container).load()
    assert stored is not None and not stored.reauthorization_required
    token = stored.access_token.get_secret_value()
    assert hashlib.sha256(token.encode()).hexdigest() == results[0][0]
    assert (await oauth_server.introspect(token))["active"] is True  # the grant was not revoked


async def _ask_at_once(config: AppConfig, *, processes: int) -> list[tuple[str, int]]:
    env = alertmail_env(config.data_dir, database_url=config.resolved_database_url, node_name="n1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    start_at = str(time.time() + 4)  # after every process has opened its database
    running = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.token_process",
            start_at,
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    results = []
    for process in running:
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, err.decode()
        digest, refreshes = out.decode().split()
        results.append((digest, int(refreshes)))
    return results


def _settings(server: OAuthServer, client_id: str, client_secret: str) -> dict[str, object]:
    return {
        "from_address": LOGIN,
        "hostname": "127.0.0.1",
        "port": 2525,
        "encryption": "starttls",
        "auth_type": "oauth2",
        "oauth_provider": "custom",
        "client_id": client_id,
        "client_secret": client_secret,
        "authorization_endpoint": server.authorization_endpoint,
        "token_endpoint": server.token_endpoint,
        "scopes": "openid offline_access email smtp.send",
        "redirect_uri": REDIRECT_URI,
        "username": LOGIN,
    }
