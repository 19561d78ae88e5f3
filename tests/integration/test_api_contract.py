"""Answers the API gives where a client could not know better, each one documented (#13 item 11)."""

from __future__ import annotations

from tests.support.app import Api


async def test_refresh_before_any_sign_in_is_a_conflict_that_says_what_to_do(api: Api) -> None:
    answer = await api.client.post("/api/v1/oauth/refresh")
    assert answer.status_code == 409, answer.text
    assert "sign in" in answer.json()["message"].lower()
    documented = (await api.client.get("/openapi.json")).json()
    assert "409" in documented["paths"]["/api/v1/oauth/refresh"]["post"]["responses"]
