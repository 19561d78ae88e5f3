"""`provider_error` and `classify` against the exact bodies and pages Microsoft and Google send.

The bodies come from the provider fake's own catalogue and builders, so what the fake answers in
integration tests and what is parsed here are one and the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import pytest

from alertmail.domain.classification import classify
from alertmail.domain.oauth import provider_error
from alertmail.errors import OAuthError
from tests.support.provider_fakes import (
    GOOGLE_ERRORS,
    MICROSOFT_ERRORS,
    ErrorContext,
    error_redirect_params,
    google_error_body,
    google_error_page,
    microsoft_error_body,
    microsoft_error_page,
)

MICROSOFT_HOST = "login.microsoftonline.com"
GOOGLE_HOST = "oauth2.googleapis.com"
CONTEXT = ErrorContext(
    client_id="6731de76-14a6-49ae-97bc-6eba6914391e",
    redirect_uri="http://127.0.0.1:8080/oauth/callback",
    now=datetime(2026, 3, 2, 9, 15, 4, 123456, tzinfo=UTC),
    trace_id="4e7e9611-79bb-4525-a2f8-47212bf25300",
    correlation_id="fc3fb0fc-fccc-4422-9905-9c8b4d639f89",
)
Surface = Literal["token", "page", "redirect"]


def parsed(key: str, surface: Surface, stage: str) -> OAuthError:
    """The `OAuthError` for a catalogue entry, as it reaches alertmail on `surface`."""
    microsoft = key in MICROSOFT_ERRORS
    spec = MICROSOFT_ERRORS[key] if microsoft else GOOGLE_ERRORS[key]
    host = MICROSOFT_HOST if microsoft else GOOGLE_HOST
    if surface == "redirect":
        return provider_error(error_redirect_params(key, "state-1", CONTEXT), stage=stage)
    if surface == "page":
        page = microsoft_error_page(key, CONTEXT) if microsoft else google_error_page(key, CONTEXT)
        return provider_error(page, stage=stage, http_status=200 if microsoft else spec.status, host=host)
    body = microsoft_error_body(key, CONTEXT) if microsoft else google_error_body(key, CONTEXT)
    return provider_error(body, stage=stage, http_status=spec.status, host=host)


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", MICROSOFT_ERRORS)
def test_microsoft_token_body(code: str) -> None:
    spec = MICROSOFT_ERRORS[code]
    body = microsoft_error_body(code, CONTEXT)
    error = parsed(code, "token", "token")
    assert (error.error, error.provider_code, error.http_status) == (spec.error, code, spec.status)
    assert error.description == body["error_description"]
    assert error.description.startswith(f"{code}: {CONTEXT.text(spec)}\r\nTrace ID: ")
    assert error.error_codes == (int(code.removeprefix("AADSTS")),)
    assert (error.trace_id, error.correlation_id, error.timestamp) == (
        "4e7e9611-79bb-4525-a2f8-47212bf25300", "fc3fb0fc-fccc-4422-9905-9c8b4d639f89", "2026-03-02 09:15:04Z"
    )  # fmt: skip
    assert error.error_uri == body["error_uri"]
    assert str(error) == f"{spec.error}: {code}: {CONTEXT.text(spec)}"


def test_microsoft_support_details() -> None:
    details = parsed("AADSTS700082", "token", "refresh").support_details()
    assert details == {
        "error": "invalid_grant",
        "error_codes": "700082",
        "http_status": "400",
        "trace_id": CONTEXT.trace_id,
        "correlation_id": CONTEXT.correlation_id,
        "timestamp": "2026-03-02 09:15:04Z",
        "error_uri": "https://login.microsoftonline.com/error?code=700082",
    }


@pytest.mark.parametrize("code", MICROSOFT_ERRORS)
def test_microsoft_sign_in_page(code: str) -> None:
    error = parsed(code, "page", "authorize")
    assert error.provider_code == code
    assert error.description == f"{code}: {CONTEXT.text(MICROSOFT_ERRORS[code])}"
    assert error.http_status == 200


def test_microsoft_redirect_uri_mismatch_page_wording() -> None:
    error = parsed("AADSTS50011", "page", "authorize")
    assert error.description == (
        "AADSTS50011: The redirect URI 'http://127.0.0.1:8080/oauth/callback' specified in the request does "
        "not match the redirect URIs configured for the application '6731de76-14a6-49ae-97bc-6eba6914391e'. "
        "Make sure the redirect URI sent in the request matches one added to your application in the Azure "
        "portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
    )


@pytest.mark.parametrize(
    "code", [c for c, spec in MICROSOFT_ERRORS.items() if spec.at_authorize == "redirect"]
)
def test_microsoft_error_sent_to_the_redirect_uri(code: str) -> None:
    error = parsed(code, "redirect", "authorize")
    assert (error.error, error.provider_code) == (MICROSOFT_ERRORS[code].error, code)
    assert error.description.startswith(f"{code}: {CONTEXT.text(MICROSOFT_ERRORS[code])}\r\n")


@pytest.mark.parametrize("key", GOOGLE_ERRORS)
def test_google_token_body(key: str) -> None:
    spec = GOOGLE_ERRORS[key]
    error = parsed(key, "token", "token")
    assert (error.error, error.provider_code, error.description) == (
        spec.error,
        spec.error,
        CONTEXT.text(spec),
    )
    assert (error.http_status, error.error_codes, error.trace_id) == (spec.status, (), "")


@pytest.mark.parametrize("key", [k for k, spec in GOOGLE_ERRORS.items() if spec.at_authorize == "page"])
def test_google_sign_in_page(key: str) -> None:
    error = parsed(key, "page", "authorize")
    assert (error.error, error.provider_code) == (GOOGLE_ERRORS[key].error, GOOGLE_ERRORS[key].error)
    assert error.http_status == GOOGLE_ERRORS[key].status


def test_google_redirect_uri_mismatch_page() -> None:
    page = google_error_page("redirect_uri_mismatch", CONTEXT)
    assert "<p>Error 400: redirect_uri_mismatch</p>" in page
    assert provider_error(page, stage="authorize", http_status=400).provider_code == "redirect_uri_mismatch"


def test_google_access_denied_sent_to_the_redirect_uri() -> None:
    assert error_redirect_params("access_denied", "state-1") == {"error": "access_denied", "state": "state-1"}
    error = parsed("access_denied", "redirect", "authorize")
    assert (error.error, error.provider_code, error.description) == ("access_denied", "access_denied", "")


# --- classification ---------------------------------------------------------------------------

# (catalogue key, how it reaches alertmail, the OAuth stage it happens at, the expected category)
CASES: list[tuple[str, Surface, str, str]] = [
    # Microsoft: the refresh token is dead, only a new sign-in helps
    ("AADSTS700082", "token", "refresh", "oauth_reauth"),
    ("AADSTS70008", "token", "refresh", "oauth_reauth"),
    ("AADSTS50173", "token", "refresh", "oauth_reauth"),
    ("AADSTS70043", "token", "refresh", "oauth_reauth"),
    # Microsoft: configuration, consent or a failed sign-in
    ("AADSTS50011", "page", "authorize", "oauth"),
    ("AADSTS50194", "page", "authorize", "oauth"),
    ("AADSTS700016", "page", "authorize", "oauth"),
    ("AADSTS65004", "redirect", "authorize", "oauth"),
    ("AADSTS50076", "redirect", "authorize", "oauth"),
    ("AADSTS900144", "redirect", "authorize", "oauth"),
    ("AADSTS7000215", "token", "token", "oauth"),
    ("AADSTS7000222", "token", "refresh", "oauth"),
    ("AADSTS65001", "token", "refresh", "oauth"),
    ("AADSTS54005", "token", "token", "oauth"),
    ("AADSTS501481", "token", "token", "oauth"),
    ("AADSTS70000", "token", "token", "oauth"),
    ("AADSTS9002313", "token", "refresh", "oauth"),
    ("AADSTS70003", "token", "token", "oauth"),
    # Microsoft: sign in with a code (device code flow)
    ("AADSTS70016", "token", "device", "oauth"),
    ("AADSTS53003", "token", "device", "oauth"),
    # Google
    ("invalid_grant", "token", "refresh", "oauth_reauth"),
    ("invalid_grant_bad_request", "token", "token", "oauth"),
    ("invalid_grant_malformed_code", "token", "token", "oauth"),
    ("invalid_grant_missing_verifier", "token", "token", "oauth"),
    ("invalid_grant_invalid_verifier", "token", "token", "oauth"),
    ("invalid_client", "token", "refresh", "oauth"),
    ("invalid_client_unauthorized", "token", "token", "oauth"),
    ("unauthorized_client", "token", "refresh", "oauth"),
    ("unsupported_grant_type", "token", "token", "oauth"),
    ("redirect_uri_mismatch", "page", "authorize", "oauth"),
    ("deleted_client", "page", "authorize", "oauth"),
    ("org_internal", "page", "authorize", "oauth"),
    ("admin_policy_enforced", "page", "authorize", "oauth"),
    ("access_denied", "redirect", "authorize", "oauth"),
    ("invalid_request", "page", "authorize", "oauth"),
]


@pytest.mark.parametrize(("key", "surface", "stage", "category"), CASES, ids=[case[0] for case in CASES])
def test_classification(key: str, surface: Surface, stage: str, category: str) -> None:
    error = parsed(key, surface, stage)
    found = classify(error)
    assert found.category == category
    assert found.provider_code == error.provider_code == (key if key in MICROSOFT_ERRORS else error.error)


def test_google_redirect_uri_mismatch_at_the_token_endpoint() -> None:
    error = parsed("redirect_uri_mismatch", "token", "token")
    assert (error.provider_code, error.description) == ("redirect_uri_mismatch", "Bad Request")
    assert classify(error).category == "oauth"


def test_every_catalogue_entry_has_a_case() -> None:
    keys = [case[0] for case in CASES]
    assert sorted(keys) == sorted({*MICROSOFT_ERRORS, *GOOGLE_ERRORS})


def test_an_rfc6749_error_page_with_inline_markup_is_read() -> None:
    page = (
        "<h1>oops! something went wrong</h1><pre><strong>error</strong>: invalid_redirect_uri</pre>"
        "<pre><strong>error_description</strong>: redirect_uri did not match any of the client&#39;s "
        "registered redirect_uris</pre>"
    )
    error = provider_error(page, stage="authorize", http_status=400)
    assert (error.error, error.provider_code) == ("invalid_redirect_uri", "invalid_redirect_uri")
    assert error.description == "redirect_uri did not match any of the client's registered redirect_uris"
