"""API tokens with a scope, an expiry and revocation (#13 item 5): the API, the CLI, the web page,
and tokens made before scopes existed, which stay valid as administrator tokens."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, text

from alertmail.adapters.storage.database import Database, upgrade_database
from alertmail.adapters.storage.repositories import SqlAdministratorRepository, SqlApiTokenRepository
from alertmail.services.administrators import AdministratorService
from tests.integration.test_web_sessions import Web, admin, log_in, page_token, web
from tests.support.app import ADMIN, Api, Cli
from tests.support.database import upgrade_to

__all__ = ["admin", "web"]  # fixtures shared with the sign-in tests

EVENT = {"type": "test", "details": {"note": "from an appliance component"}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def events_token(api: Api, name: str = "component") -> str:
    created = await api.client.post("/api/v1/tokens", json={"name": name, "scope": "events"})
    assert created.status_code == 201, created.text
    token: str = created.json()["token"]
    return token


# --- scope ----------------------------------------------------------------------------------------


async def test_an_events_token_raises_and_reads_events(api: Api) -> None:
    token = await events_token(api)
    raised = await api.client.post("/api/v1/events", json=EVENT, headers=bearer(token))
    assert raised.status_code == 202, raised.text
    listed = await api.client.get("/api/v1/events", headers=bearer(token))
    assert listed.status_code == 200 and listed.json()[0]["type"] == "test"
    assert (await api.client.get("/api/v1/event-types", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/mail-settings", None),
        ("PATCH", "/api/v1/mail-settings", {"hostname": "relay.attacker.example"}),
        ("POST", "/api/v1/mail-settings/test-email", {}),
        ("GET", "/api/v1/mail-server-logs", None),
        ("GET", "/api/v1/messages", None),
        ("GET", "/api/v1/tokens", None),
        ("POST", "/api/v1/tokens", {"name": "escalated", "scope": "admin"}),
        ("DELETE", "/api/v1/tokens/tests", None),
        ("POST", "/api/v1/oauth/authorize", None),
        ("POST", "/api/v1/event-types/test/preview", {}),
    ],
)
async def test_an_events_token_is_forbidden_everything_else(
    api: Api, method: str, path: str, body: object
) -> None:
    token = await events_token(api)
    answer = await api.client.request(method, path, json=body, headers=bearer(token))
    assert answer.status_code == 403, answer.text
    assert "events" in answer.json()["message"]
    assert [t.name for t in await api.container.administrators.list_tokens()] == ["component", "tests"]


# --- expiry and revocation ------------------------------------------------------------------------


async def test_a_revoked_token_is_refused(api: Api) -> None:
    token = await events_token(api, "to-revoke")
    assert (await api.client.delete("/api/v1/tokens/to-revoke")).status_code == 204
    answer = await api.client.post("/api/v1/events", json=EVENT, headers=bearer(token))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert (await api.client.delete("/api/v1/tokens/to-revoke")).status_code == 404


async def test_an_expired_token_is_refused_saying_so(api: Api) -> None:
    sessions = api.container.database.sessionmaker
    hundred_days_ago = datetime.now(UTC) - timedelta(days=100)
    back_then = AdministratorService(
        SqlAdministratorRepository(sessions), SqlApiTokenRepository(sessions), clock=lambda: hundred_days_ago
    )
    _, token = await back_then.create_token("old", administrator=ADMIN, expires_in=timedelta(days=90))
    answer = await api.client.get("/api/v1/mail-settings", headers=bearer(token))
    assert answer.status_code == 401
    assert "expired" in answer.json()["message"]


async def test_the_list_shows_scope_expiry_and_last_use_never_the_token(api: Api) -> None:
    created = await api.client.post(
        "/api/v1/tokens", json={"name": "monitoring", "scope": "events", "expires_in": "30d"}
    )
    assert created.status_code == 201
    token = created.json()["token"]
    await api.client.get("/api/v1/events", headers=bearer(token))
    listed = await api.client.get("/api/v1/tokens")
    assert listed.status_code == 200
    assert token not in listed.text and hashlib.sha256(token.encode()).hexdigest() not in listed.text
    (found,) = [t for t in listed.json() if t["name"] == "monitoring"]
    assert found["scope"] == "events" and found["administrator"] == ADMIN and found["expired"] is False
    expires = datetime.fromisoformat(found["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert found["last_used_at"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scope": "root"}, "scope"),
        ({"name": "x", "expires_in": "soon"}, "expires_in"),
        ({"name": "x", "expires_in": "0d"}, "expires_in"),
        ({"name": "", "scope": "events"}, "name"),
        ({"name": "tests"}, "name"),  # the fixture's token has that name already
    ],
)
async def test_a_bad_token_request_names_the_field_and_creates_nothing(
    api: Api, body: dict[str, str], field: str
) -> None:
    answer = await api.client.post("/api/v1/tokens", json=body)
    assert answer.status_code in (409, 422), answer.text
    assert field in answer.text
    assert [t.name for t in await api.container.administrators.list_tokens()] == ["tests"]


# --- command line ---------------------------------------------------------------------------------


def test_token_create_list_revoke_on_the_command_line(cli: Cli) -> None:
    assert cli("admin", "create", "root", "--password-stdin", stdin="long-enough-pw\n").returncode == 0
    created = cli("token", "create", "component", "--scope", "events", "--expires-in", "90d")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("am_")
    listed = cli("token", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (entry["name"], entry["scope"], entry["administrator"]) == ("component", "events", "root")
    assert token not in listed.stdout + cli("token", "list").stdout
    assert cli("token", "revoke", "component").returncode == 0
    assert cli("token", "list", "--json").stdout == ""
    again = cli("token", "revoke", "component")
    assert again.returncode == 1 and "component" in again.stderr


@pytest.mark.parametrize(
    ("args", "named"), [(["--scope", "root"], "scope"), (["--expires-in", "ninety days"], "expires_in")]
)
def test_token_create_refuses_a_bad_option_naming_it(cli: Cli, args: list[str], named: str) -> None:
    assert cli("admin", "create", "root", "--password-stdin", stdin="long-enough-pw\n").returncode == 0
    refused = cli("token", "create", "x", *args)
    assert refused.returncode != 0
    assert named.replace("_", "-") in refused.stderr or named in refused.stderr
    assert cli("token", "list", "--json").stdout == ""


# --- tokens made before scopes --------------------------------------------------------------------


async def test_tokens_made_before_scopes_stay_valid_as_administrator_tokens(database_url: str) -> None:
    await upgrade_to(database_url, "0006")
    old_token = "am_made-before-scopes"
    async with Database.from_url(database_url) as database:
        async with database.engine.begin() as connection:
            await connection.run_sync(_insert_old_tokens, old_token)
        await upgrade_database(database.engine)
        sessions = database.sessionmaker
        service = AdministratorService(SqlAdministratorRepository(sessions), SqlApiTokenRepository(sessions))
        caller = await service.authenticate_token(old_token)
        names = sorted(t.name for t in await service.list_tokens())
    assert (caller.administrator.username, caller.scope) == ("old-admin", "admin")
    assert names == ["script", "script #2"], "duplicate names are told apart so each can be revoked"


def _insert_old_tokens(connection: Connection, token: str) -> None:
    now = datetime.now(UTC)
    connection.execute(
        text("INSERT INTO administrators (id, username, password_hash, created_at) VALUES (1, :u, 'x', :t)"),
        {"u": "old-admin", "t": now},
    )
    for token_id, value in ((1, token), (2, "am_another-old-one")):
        connection.execute(
            text(
                "INSERT INTO api_tokens (id, name, administrator_id, token_hash, created_at) "
                "VALUES (:id, 'script', 1, :hash, :t)"
            ),
            {"id": token_id, "hash": hashlib.sha256(value.encode()).hexdigest(), "t": now},
        )


# --- web page -------------------------------------------------------------------------------------


async def test_the_administrators_page_creates_shows_once_and_revokes_tokens(web: Web, admin: None) -> None:
    async with web.client() as http:
        assert (await log_in(http)).status_code == 303
        csrf = await page_token(http, "/administrators")
        form = {"csrf_token": csrf, "name": "ups-monitor", "scope": "events", "expires_in": "365d"}
        created = await http.post("/administrators/tokens", data=form)
        assert created.status_code == 201, created.text
        shown = re.findall(r"am_[A-Za-z0-9_-]{20,}", created.text)
        assert len(set(shown)) == 1, "the new token is shown once"
        token = shown[0]
        later = await http.get("/administrators")
        assert "ups-monitor" in later.text and "events" in later.text and token not in later.text
        raised = await http.post("/api/v1/events", json=EVENT, headers=bearer(token))
        assert raised.status_code == 202
        revoked = await http.post("/administrators/tokens/ups-monitor/revoke", data={"csrf_token": csrf})
        assert revoked.status_code == 303
    async with web.client() as anonymous:
        refused = await anonymous.post("/api/v1/events", json=EVENT, headers=bearer(token))
    assert refused.status_code == 401
