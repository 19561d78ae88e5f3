"""While the access token is valid, nothing asks the provider for another: not the test e-mail, not
the delivery worker, not the CLI in another process. `/metrics` counts every token request.

The real OAuth2 server (tests/oauth_server, oidc-provider) and a relay that checks each XOAUTH2
token with it; the relay records every token presented, so a refresh anywhere, in this process or
the CLI's, would show as a second token.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from alertmail.config import AppConfig
from tests.integration.test_oauth_end_to_end import (
    REDIRECT_URI,
    oauth_settings,
    send_test_email,
    sign_in_through_the_browser,
    stored_tokens,
)
from tests.support.app import Api
from tests.support.delivery import alertmail_env
from tests.support.oauth_server import OAuthServer, relay_for
from tests.support.smtp import SmtpServerFactory

_REFRESHES = re.compile(r'^alertmail_oauth_token_refreshes_total\{reason="(\w+)"\} (\S+)$', re.MULTILINE)


@pytest.fixture
def app_config(tmp_path: Path) -> AppConfig:
    return AppConfig(data_dir=tmp_path / "data", node_name="test-node")


async def refreshes_in_metrics(api: Api) -> dict[str, float]:
    text = (await api.client.get("/metrics")).text
    return {reason: float(count) for reason, count in _REFRESHES.findall(text)}


@pytest.mark.timeout(180)
async def test_no_refresh_while_the_access_token_is_valid_on_any_path(
    api: Api,
    app_config: AppConfig,
    oauth_server: OAuthServer,
    smtp_server_factory: SmtpServerFactory,
    tls_ca_pem: str,
) -> None:
    client = await oauth_server.register_client([REDIRECT_URI], access_token_ttl=3600)
    sink, validator = await relay_for(smtp_server_factory, oauth_server)
    settings = oauth_settings(oauth_server, client, sink, tls_ca_pem, REDIRECT_URI)
    settings["admin_contacts"] = ["ops@example.com"]
    assert (await api.client.patch("/api/v1/mail-settings", json=settings)).status_code == 200
    await sign_in_through_the_browser(api, oauth_server)
    signed_in = await stored_tokens(app_config, api)()
    assert signed_in is not None

    for _ in range(3):  # the test e-mail, from the API
        assert (await send_test_email(api))["sent"] is True
    await api.container.notifications.raise_event("test", {"note": "worker path"})
    while await api.container.delivery_worker.run_once():  # the delivery worker
        pass
    # The CLI: another process with its own token service (asynchronously: the relay runs here).
    cli = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "alertmail", "test-email", "--to", "ops@example.com"),
        env=alertmail_env(app_config.data_dir, node_name="test-node"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(cli.communicate(), timeout=60)
    assert cli.returncode == 0, output.decode()

    assert len(sink.messages) == 5
    assert set(validator.presented) == {signed_in.access_token.get_secret_value()}
    after = await stored_tokens(app_config, api)()
    assert after is not None and after.refreshed_at is None
    assert api.container.oauth_tokens.refreshes == 0
    assert await refreshes_in_metrics(api) == {"expiring": 0, "rejected": 0, "requested": 0, "app_only": 0}

    await api.client.post("/api/v1/oauth/refresh")  # one asked for by hand is counted as such
    assert (await refreshes_in_metrics(api))["requested"] == 1
