"""The OAuth2 rows of the classification table, read on their own: which row takes which provider
error first, and what it says. Every known code has its row; the general rows split on error,
stage and whether the provider was only briefly unavailable (HTTP 429 or 5xx)."""

from __future__ import annotations

import pytest

from alertmail.domain.evidence import gather
from alertmail.domain.oauth_classification import (
    DEVICE_CODES,
    DEVICE_ERRORS,
    OAUTH_CODES,
    OAUTH_RULES,
    oauth_log_message,
)
from alertmail.errors import OAuthError, TransportError


def first_row(error: TransportError) -> tuple[str, str, bool]:
    found = gather(error)
    rule = next(rule for rule in OAUTH_RULES if rule.when.holds(found))
    return rule.name, rule.category, rule.retry(found)


def hint_of(name: str) -> str:
    return next(rule.hint for rule in OAUTH_RULES if rule.name == name)


@pytest.mark.parametrize("code", sorted(OAUTH_CODES))
def test_every_known_code_has_the_first_row_for_it(code: str) -> None:
    known = OAUTH_CODES[code]
    error = OAuthError("invalid_grant", "", stage="refresh", provider_code=code, http_status=500)
    assert first_row(error) == (f"oauth_{code.lower()}", known.category, known.retryable)
    hint = hint_of(f"oauth_{code.lower()}")
    # A retryable code ends in the "{retry}" sentence that hints.py fills in for the purpose.
    assert hint == known.hint and hint.endswith((".", ".'", "{retry}"))


def test_the_known_codes_come_first_and_each_row_is_named_once() -> None:
    names = [rule.name for rule in OAUTH_RULES]
    device = len(DEVICE_CODES) + len(DEVICE_ERRORS)  # the device sign-in's rows, before all
    assert len(names) == len(set(names)) == device + len(OAUTH_CODES) + 6
    assert all(name.startswith("device_") for name in names[:device])
    assert names[-6:] == [
        "oauth_stored_dead",
        "oauth_not_authorized",
        "oauth_code_refused",
        "oauth_invalid_grant",
        "oauth_unavailable",
        "oauth_other",
    ]


@pytest.mark.parametrize(
    ("error", "stage", "row"),
    [
        ("reauthorization_required", "stored", ("oauth_stored_dead", "oauth_reauth", False)),
        ("reauthorization_required", "refresh", ("oauth_other", "oauth", False)),
        ("not_authorized", "stored", ("oauth_not_authorized", "oauth", False)),
        ("not_authorized", "token", ("oauth_other", "oauth", False)),
        ("invalid_grant", "token", ("oauth_code_refused", "oauth", False)),
        ("invalid_grant", "refresh", ("oauth_invalid_grant", "oauth_reauth", False)),
        ("invalid_grant", "client_credentials", ("oauth_invalid_grant", "oauth_reauth", False)),
        ("temporarily_unavailable", "refresh", ("oauth_unavailable", "oauth", True)),
        ("network_error", "token", ("oauth_unavailable", "oauth", True)),
        ("server_error", "refresh", ("oauth_unavailable", "oauth", True)),
        ("invalid_request", "refresh", ("oauth_other", "oauth", False)),
    ],
)
def test_the_general_rows_split_on_error_and_stage(
    error: str, stage: str, row: tuple[str, str, bool]
) -> None:
    assert first_row(OAuthError(error, stage=stage)) == row


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(429, True), (500, True), (503, True), (None, False), (428, False), (430, False), (499, False)],
)
def test_only_throttling_and_server_errors_are_retried(status: int | None, retryable: bool) -> None:
    found = first_row(OAuthError("invalid_request", stage="refresh", http_status=status))
    assert found == (("oauth_unavailable", "oauth", True) if retryable else ("oauth_other", "oauth", False))


def test_an_error_that_is_not_oauth_has_no_oauth_row() -> None:
    found = gather(TransportError("Connection refused"))
    assert not any(rule.when.holds(found) for rule in OAUTH_RULES)


def test_the_unavailable_hint_names_the_host_to_reach() -> None:
    hint = hint_of("oauth_unavailable")
    assert "{host}" in hint


@pytest.mark.parametrize(
    ("code", "description", "logged"),
    [
        (
            "AADSTS700082",
            "AADSTS700082: The refresh token has expired.\r\nTrace ID: x",
            "AADSTS700082: The refresh token has expired.",
        ),
        (
            "invalid_grant",
            "  Token has been expired or revoked.  \nmore",
            "invalid_grant: Token has been expired or revoked.",
        ),
        ("invalid_client", "", "invalid_client"),
    ],
)
def test_the_log_message_starts_with_the_code_once(code: str, description: str, logged: str) -> None:
    error = OAuthError("invalid_grant", description, stage="refresh", provider_code=code)
    assert oauth_log_message(error) == logged


def test_only_throttling_is_retried_and_only_dead_refresh_tokens_ask_for_a_new_sign_in() -> None:
    assert {code for code, known in OAUTH_CODES.items() if known.retryable} == {"AADSTS90055"}
    assert {code for code, known in OAUTH_CODES.items() if known.category == "oauth_reauth"} == {
        "AADSTS700082",
        "AADSTS70008",
        "AADSTS50173",
        "AADSTS70043",
    }
    assert {known.category for known in OAUTH_CODES.values()} == {"oauth", "oauth_reauth"}
    general = {rule.name: rule.retryable for rule in OAUTH_RULES[len(OAUTH_CODES) :]}
    assert [name for name, retryable in general.items() if retryable] == ["oauth_unavailable"]
