"""Answers the API gives where a client could not know better, each one documented (#13 item 11)."""

from __future__ import annotations

from tests.support.app import Api


async def test_refresh_before_any_sign_in_is_a_conflict_that_says_what_to_do(api: Api) -> None:
    answer = await api.client.post("/api/v1/oauth/refresh")
    assert answer.status_code == 409, answer.text
    assert "sign in" in answer.json()["message"].lower()
    documented = (await api.client.get("/openapi.json")).json()
    assert "409" in documented["paths"]["/api/v1/oauth/refresh"]["post"]["responses"]


async def test_every_api_operation_documents_the_refusals_of_authentication(api: Api) -> None:
    documented = (await api.client.get("/openapi.json")).json()
    for path, operations in documented["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            answers = operation["responses"]
            assert {"401", "403", "422"} <= answers.keys(), f"{method.upper()} {path}"
            shape = answers["422"]["content"]["application/json"]["schema"]["$ref"]
            assert shape.endswith("/ErrorPublic"), f"{method.upper()} {path} documents another 422 shape"
            if "{" in path:
                assert "404" in answers, f"{method.upper()} {path}"


async def test_a_body_that_is_not_even_text_is_refused_naming_the_body(api: Api) -> None:
    answer = await api.client.post(
        "/api/v1/events", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "body", "message": "is not valid JSON"}]


async def test_a_wrong_method_names_every_method_the_path_has(api: Api) -> None:
    answer = await api.client.delete("/api/v1/mail-settings")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, PUT, PATCH"
    assert answer.json()["message"] == "Method Not Allowed"


async def test_since_is_a_date_and_time_not_a_number(api: Api) -> None:
    answer = await api.client.get("/api/v1/mail-server-logs", params={"since": "0.5"})
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == ["since"]


async def test_a_boolean_is_true_or_false_not_a_number(api: Api) -> None:
    answer = await api.client.patch("/api/v1/mail-settings", json={"daily_notice": 1})
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == ["daily_notice"]
