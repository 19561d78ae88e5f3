"""The mail settings over the REST API: authentication, validation, secrets write-only, audit."""

from __future__ import annotations

from typing import Any

import pytest

from alertmail.domain import messages
from tests.support.app import Api

GOOD: dict[str, Any] = {
    "from_address": "alerts@example.com",
    "hostname": "smtp.example.com",
    "port": 587,
    "encryption": "starttls",
    "auth_type": "basic",
    "username": "alerts@example.com",
    "password": "Pa55-relay-secret",
    "admin_contacts": "ops@example.com noc@example.com",
}


async def test_requires_a_token(api: Api) -> None:
    for token in (None, "am_not-a-real-token"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        api.client.headers.pop("Authorization", None)
        response = await api.client.get("/api/v1/mail-settings", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_save_then_read_without_secrets(api: Api) -> None:
    saved = await api.client.patch("/api/v1/mail-settings", json=GOOD)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["message"] == messages.CHANGES_SAVED
    assert body["settings"]["version"] == 1
    read = await api.client.get("/api/v1/mail-settings")
    settings = read.json()["settings"]
    assert settings["hostname"] == "smtp.example.com"
    assert settings["admin_contacts"] == ["ops@example.com", "noc@example.com"]
    assert settings["password_set"] is True and "password" not in settings
    assert GOOD["password"] not in saved.text + read.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("port", 70000), ("hostname", "bad host"), ("from_address", "nobody"), ("encryption", "ssl"),
     ("username", "a\r\nRCPT TO:<x@example.com>"), ("daily_notice_time", "7 o'clock"), ("port", "x"),
     ("encryption", "none")],
)  # fmt: skip
async def test_bad_input_names_the_field_and_saves_nothing(api: Api, field: str, value: Any) -> None:
    await api.client.patch("/api/v1/mail-settings", json=GOOD)
    before = (await api.client.get("/api/v1/mail-settings")).json()
    response = await api.client.patch(
        "/api/v1/mail-settings", json={"hostname": "other.example.com", field: value}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == messages.SAVE_FAILED
    assert field in {error["field"] for error in body["errors"]}
    assert "Traceback" not in response.text
    assert (await api.client.get("/api/v1/mail-settings")).json() == before


async def test_clear_text_oauth_token_endpoint_refused_and_nothing_saved(api: Api) -> None:
    # #13 item 1: the client secret travels in the Basic header to the token endpoint.
    before = (await api.client.get("/api/v1/mail-settings")).json()
    oauth = {
        **GOOD,
        "auth_type": "oauth2",
        "oauth_provider": "custom",
        "client_id": "id",
        "client_secret": "s",
    }
    oauth |= {"scopes": "smtp", "authorization_endpoint": "https://idp.example.com/authorize"}
    response = await api.client.patch(
        "/api/v1/mail-settings", json={**oauth, "token_endpoint": "http://idp.example.com/token"}
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["token_endpoint"]
    assert (await api.client.get("/api/v1/mail-settings")).json() == before


async def test_plaintext_auth_needs_the_explicit_setting(api: Api) -> None:
    clear = {**GOOD, "encryption": "none", "port": 25}
    assert (await api.client.patch("/api/v1/mail-settings", json=clear)).status_code == 422
    consent = await api.client.patch("/api/v1/mail-settings", json={**clear, "allow_plaintext_auth": True})
    assert consent.status_code == 200, consent.text
    assert consent.json()["settings"]["settings"]["allow_plaintext_auth"] is True


async def test_unknown_field_refused(api: Api) -> None:
    response = await api.client.patch("/api/v1/mail-settings", json={"hostnme": "x"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "hostnme"


async def test_empty_secret_keeps_the_stored_one(api: Api) -> None:
    await api.client.patch("/api/v1/mail-settings", json=GOOD)
    response = await api.client.patch("/api/v1/mail-settings", json={"password": "", "port": 2525})
    assert response.status_code == 200
    stored = await api.container.settings.current()
    assert stored.settings.password is not None
    assert stored.settings.password.get_secret_value() == GOOD["password"]
    assert response.json()["changed"] == ["port"]


async def test_put_replaces_every_field_but_keeps_secrets(api: Api) -> None:
    await api.client.patch("/api/v1/mail-settings", json={**GOOD, "daily_notice": True})
    replacement = {k: v for k, v in GOOD.items() if k != "password"}
    response = await api.client.put("/api/v1/mail-settings", json=replacement)
    assert response.status_code == 200, response.text
    settings = response.json()["settings"]["settings"]
    assert settings["daily_notice"] is False and settings["password_set"] is True


async def test_each_save_is_versioned_and_audited_without_secret_values(api: Api) -> None:
    from alertmail.adapters.storage.repositories import SqlAuditRepository

    await api.client.patch("/api/v1/mail-settings", json=GOOD)
    await api.client.patch(
        "/api/v1/mail-settings", json={"port": 465, "encryption": "tls", "password": "N3w-secret"}
    )
    audit = await SqlAuditRepository(api.container.database.sessionmaker).list(limit=10)
    latest = audit[0]
    assert latest.actor == "admin"
    assert latest.details["changed"]["port"] == {"from": 587, "to": 465}
    assert latest.details["changed"]["password"] == {"changed": True}
    assert "N3w-secret" not in repr(audit) and GOOD["password"] not in repr(audit)
    assert (await api.client.get("/api/v1/mail-settings")).json()["version"] == 2


async def test_openapi_lists_the_contract(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert {"/api/v1/mail-settings", "/api/v1/mail-settings/test-email", "/api/v1/mail-server-logs"} <= set(
        paths
    )


async def test_health(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {
        "status": "ok",
        "delivery": "ok",
        "recipients": "administrators",  # no contacts yet: the administrator's own address
        "transport": "primary",
    }
