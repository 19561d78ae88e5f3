"""Sign in with a code (RFC 8628), the parts without a network: what a poll's answer means, what the
device authorization response must hold, who may start one, where Microsoft's endpoint is, and
what each refusal is classified as."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from alertmail.domain.classification import classify
from alertmail.domain.device_flow import (
    DeviceSignIn,
    device_flow_refusal,
    held_until,
    parse_device_authorization,
    poll_answer,
)
from alertmail.domain.oauth_classification import DEVICE_CODES, DEVICE_ERRORS
from alertmail.domain.settings import MailSettings, apply_update, device_endpoint, validate_settings
from alertmail.errors import OAuthError, SettingsValidationError

NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MICROSOFT: dict[str, Any] = {
    "from_address": "relay@contoso.com",
    "auth_type": "oauth2",
    "oauth_provider": "microsoft",
    "tenant_id": TENANT,
    "client_id": "6731de76-14a6-49ae-97bc-6eba6914391e",
    "username": "relay@contoso.com",
}
RESPONSE = {
    "device_code": "GAQABAAEAAAAm",
    "user_code": "GSTH9CDMR",
    "verification_uri": "https://microsoft.com/devicelogin",
    "expires_in": 900,
    "interval": 5,
}


# --- polling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "answer"),
    [
        ("authorization_pending", 400, "wait"),
        ("slow_down", 400, "slow_down"),
        ("network_error", None, "wait"),
        ("temporarily_unavailable", 503, "wait"),
        ("invalid_grant", 500, "wait"),
        ("expired_token", 400, "give_up"),
        ("access_denied", 400, "give_up"),
        ("authorization_declined", 400, "give_up"),
        ("invalid_grant", 400, "give_up"),  # AADSTS53003 comes as this
        ("invalid_client", 401, "give_up"),
    ],
)
def test_what_a_refused_poll_means(error: str, status: int | None, answer: str) -> None:
    assert poll_answer(OAuthError(error, stage="device", http_status=status)) == answer


def sign_in(**changes: Any) -> DeviceSignIn:
    fields: dict[str, Any] = {
        "attempt": "a1",
        "administrator": "admin",
        "device_code": SecretStr("code"),
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://example.com/device",
        "verification_uri_complete": "",
        "interval": 5.0,
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=15),
        "held_until": held_until(NOW, 5.0),
    }
    return DeviceSignIn(**(fields | changes))


def test_slow_down_adds_five_seconds_each_time() -> None:
    assert sign_in().slowed_down().slowed_down().interval == 15


@pytest.mark.parametrize(
    ("changes", "at", "in_progress"),
    [
        ({}, NOW + timedelta(seconds=29), True),
        ({}, NOW + timedelta(seconds=30), False),  # its poller has not been heard of: abandoned
        ({"interval": 20.0, "held_until": held_until(NOW, 20.0)}, NOW + timedelta(seconds=59), True),
        ({"expires_at": NOW + timedelta(seconds=10)}, NOW + timedelta(seconds=10), False),
        ({"status": "claimed"}, NOW, True),
        ({"status": "cancelled"}, NOW, False),
        ({"status": "succeeded"}, NOW, False),
    ],
)
def test_a_sign_in_blocks_another_while_pending_unexpired_and_polled(
    changes: dict[str, Any], at: datetime, in_progress: bool
) -> None:
    assert sign_in(**changes).in_progress(at) is in_progress


@pytest.mark.parametrize(
    ("complete", "link"),
    [
        ("https://example.com/device?user_code=ABCD", "https://example.com/device?user_code=ABCD"),
        ("", "https://example.com/device"),
        ("javascript:alert(1)", "https://example.com/device"),
        ("http://evil.example/device", "https://example.com/device"),  # http only on loopback
    ],
)
def test_the_link_is_the_complete_address_only_when_it_is_safe(complete: str, link: str) -> None:
    assert sign_in(verification_uri_complete=complete).link == link


# --- the device authorization response ---------------------------------------------------------


def test_microsofts_response_is_read() -> None:
    found = parse_device_authorization(RESPONSE | {"message": "To sign in, use a web browser..."})
    assert (found.user_code, found.verification_uri, found.expires_in, found.interval) == (
        "GSTH9CDMR", "https://microsoft.com/devicelogin", 900, 5
    )  # fmt: skip
    assert found.device_code.get_secret_value() == "GAQABAAEAAAAm"
    assert found.verification_uri_complete == ""


def test_the_interval_defaults_to_five_seconds_and_verification_url_is_understood() -> None:
    body = {k: v for k, v in RESPONSE.items() if k not in ("interval", "verification_uri")}
    found = parse_device_authorization(body | {"verification_url": "https://www.google.com/device"})
    assert (found.interval, found.verification_uri) == (5, "https://www.google.com/device")


@pytest.mark.parametrize(
    "changes",
    [
        {"user_code": "ABCD\x1b[2J"},  # a terminal escape
        {"user_code": "AB CD"},
        {"user_code": ""},
        {"device_code": None},
        {"verification_uri": "javascript:alert(1)"},
        {"verification_uri": "https://example.com/\r\nX-Injected: 1"},
        {"expires_in": 0},
        {"expires_in": "soon"},
        {"interval": -1},
    ],
)
def test_a_hostile_or_broken_response_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no usable"):
        parse_device_authorization(RESPONSE | changes)


def test_an_unsafe_complete_address_is_dropped_not_shown() -> None:
    found = parse_device_authorization(RESPONSE | {"verification_uri_complete": "javascript:alert(1)"})
    assert found.verification_uri_complete == ""


# --- who may sign in with a code, and where -------------------------------------------------


def test_microsoft_derives_the_endpoint_from_the_tenant() -> None:
    settings = apply_update(MailSettings.unconfigured(), MICROSOFT)
    expected = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/devicecode"
    assert settings.device_authorization_endpoint == expected == device_endpoint(settings)
    assert device_flow_refusal(settings) is None


def test_a_sovereign_cloud_login_host_is_followed_and_kept() -> None:
    token = f"https://login.microsoftonline.us/{TENANT}/oauth2/v2.0/token"
    settings = apply_update(MailSettings.unconfigured(), MICROSOFT | {"token_endpoint": token})
    assert settings.device_authorization_endpoint == token.removesuffix("token") + "devicecode"
    # A later change of tenant keeps the US Government cloud's login host for every endpoint.
    moved = apply_update(settings, {"tenant_id": "contoso.onmicrosoft.us"})
    assert moved.token_endpoint == "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token"
    assert moved.device_authorization_endpoint == (
        "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/devicecode"
    )


def test_settings_saved_before_the_field_existed_still_find_microsofts_endpoint() -> None:
    settings = apply_update(MailSettings.unconfigured(), MICROSOFT).model_copy(
        update={"device_authorization_endpoint": ""}
    )
    assert device_endpoint(settings).endswith(f"/{TENANT}/oauth2/v2.0/devicecode")


def test_switching_to_custom_clears_microsofts_device_endpoint() -> None:
    settings = apply_update(MailSettings.unconfigured(), MICROSOFT)
    custom = apply_update(
        settings,
        {
            "oauth_provider": "custom",
            "authorization_endpoint": "https://idp.example.com/auth",
            "token_endpoint": "https://idp.example.com/token",
            "scopes": "smtp",
            "hostname": "smtp.example.com",
        },
    )
    assert custom.device_authorization_endpoint == ""
    [problem] = [device_flow_refusal(custom)]
    assert problem is not None and problem.field == "device_authorization_endpoint"


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://idp.example.com/device", True),
        ("http://127.0.0.1:8080/device/auth", True),
        ("http://idp.example.com/device", False),  # the client secret would cross in clear
        ("ftp://idp.example.com/device", False),
    ],
)
def test_the_device_endpoint_is_https_except_on_loopback(url: str, accepted: bool) -> None:
    data = MICROSOFT | {"oauth_provider": "custom", "hostname": "smtp.example.com", "scopes": "smtp"}
    data |= {
        "authorization_endpoint": "https://idp.example.com/auth",
        "token_endpoint": "https://idp.example.com/t",
    }
    if accepted:
        assert (
            validate_settings(data | {"device_authorization_endpoint": url}).device_authorization_endpoint
            == url
        )
        return
    with pytest.raises(SettingsValidationError) as refused:
        validate_settings(data | {"device_authorization_endpoint": url})
    assert [e.field for e in refused.value.errors] == ["device_authorization_endpoint"]


def test_google_is_refused_with_the_reason() -> None:
    google = MICROSOFT | {"oauth_provider": "google", "tenant_id": ""}
    problem = device_flow_refusal(apply_update(MailSettings.unconfigured(), google))
    assert problem is not None and problem.field == "oauth_provider"
    assert "invalid_scope: Invalid device flow scope" in problem.message and "Sign In" in problem.message


def test_app_only_sending_has_no_sign_in() -> None:
    app_only = MICROSOFT | {"oauth_grant": "client_credentials", "client_secret": "s3cret"}
    problem = device_flow_refusal(apply_update(MailSettings.unconfigured(), app_only))
    assert problem is not None and problem.field == "oauth_grant"


# --- classification ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(DEVICE_CODES))
def test_microsofts_device_codes_have_their_own_rows(code: str) -> None:
    found = classify(OAuthError("invalid_grant", f"{code}: x", stage="device", provider_code=code))
    assert (found.rule, found.hint) == (f"device_{code.lower()}", DEVICE_CODES[code].hint)
    assert not found.retryable


@pytest.mark.parametrize("error", sorted(DEVICE_ERRORS))
def test_the_rfc_errors_have_their_own_rows_even_beside_a_microsoft_code(error: str) -> None:
    found = classify(OAuthError(error, "AADSTS70019: x", stage="device", provider_code="AADSTS70019"))
    assert (found.rule, found.hint) == (f"device_{error}", DEVICE_ERRORS[error].hint)


def test_conditional_access_says_the_device_code_flow_is_blocked_and_points_at_sign_in() -> None:
    hint = DEVICE_CODES["AADSTS53003"].hint
    assert "device code flow" in hint and "Use Sign In (the browser sign-in) instead" in hint
    # Elsewhere (a browser sign-in) the general Conditional Access row still applies.
    found = classify(
        OAuthError("invalid_grant", "AADSTS53003: x", stage="token", provider_code="AADSTS53003")
    )
    assert found.rule == "oauth_aadsts53003"
