"""Every field's bad values are refused with the field named; presets and secrets behave."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.settings import (
    FIELD_NAMES,
    MailSettings,
    apply_update,
    public_view,
    settings_snapshot,
    validate_settings,
)
from alertmail.errors import SettingsValidationError

GOOD: dict[str, Any] = {
    "from_address": "alerts@example.com",
    "hostname": "smtp.example.com",
    "port": 587,
    "encryption": "starttls",
    "auth_type": "basic",
    "username": "alerts@example.com",
    "password": "correct horse",
    "admin_contacts": "ops@example.com noc@example.com",
}

BAD_VALUES: list[tuple[str, Any]] = [
    ("from_address", ""),
    ("from_address", "not-an-address"),
    ("from_address", "a@b@c"),
    ("email_type", "postfix"),
    ("hostname", "bad host"),
    ("hostname", "-leading.example.com"),
    ("hostname", "a" * 64 + ".example.com"),
    ("hostname", "256.1.1.1"),
    ("port", 0),
    ("port", 70000),
    ("port", -1),
    ("port", "seventy"),
    ("encryption", "ssl"),
    ("auth_type", "kerberos"),
    ("oauth_provider", "yahoo"),
    ("tenant_id", "not a tenant"),
    ("authorization_endpoint", "ftp://example.com/auth"),
    ("token_endpoint", "example.com/token"),
    ("redirect_uri", "javascript:alert(1)"),
    ("admin_contacts", "ops@example.com nope"),
    ("daily_notice", "perhaps"),
    ("daily_notice_time", "25:00"),
    ("daily_notice_time", "8am"),
    ("send_test_on_save", "sometimes"),
    ("tls_trusted_ca", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"),
    ("connect_timeout", 0),
    ("connect_timeout", 3600),
]

STRING_FIELDS = [
    "from_address", "hostname", "username", "password", "tenant_id", "client_id", "client_secret",
    "scopes", "authorization_endpoint", "token_endpoint", "device_authorization_endpoint", "redirect_uri",
    "admin_contacts", "daily_notice_time", "graph_endpoint", "gmail_endpoint", "fallback_hostname",
    "fallback_username", "fallback_password", "fallback_graph_endpoint", "fallback_tenant_id",
    "fallback_client_id", "fallback_client_secret",
]  # fmt: skip


def field_names(exc: SettingsValidationError) -> set[str]:
    return {error.field.split("[")[0] for error in exc.errors}


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}={v!r}"[:40] for f, v in BAD_VALUES])
def test_bad_value_names_its_field(field: str, value: Any) -> None:
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings({**GOOD, field: value})
    assert field in field_names(caught.value)
    assert all(error.message for error in caught.value.errors)


@pytest.mark.parametrize("field", STRING_FIELDS)
@pytest.mark.parametrize("line_break", ["\r", "\n", "\r\n"])
def test_line_breaks_refused_in_every_string_field(field: str, line_break: str) -> None:
    value: Any = f"x{line_break}Bcc: victim@example.com"
    if field == "admin_contacts":
        # A space- or line-separated string is split into addresses; one list item may not break.
        value = [f"ops@example.com{line_break}Bcc: victim@example.com"]
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings({**GOOD, field: value})
    assert any(e.field.startswith(field) and "line break" in e.message for e in caught.value.errors)


def test_every_string_field_is_covered_by_the_line_break_test() -> None:
    text_fields = {
        name
        for name, info in MailSettings.model_fields.items()
        if "str" in repr(info.annotation) or "SecretStr" in repr(info.annotation)
    }
    assert text_fields - {"tls_trusted_ca", "email_type", "encryption", "auth_type", "oauth_provider"} <= set(
        STRING_FIELDS
    )


def test_a_pem_ca_is_accepted_although_it_has_lines() -> None:
    # Regression: the CR/LF guard once refused every CA, so none could be saved.
    import trustme

    pem = trustme.CA().cert_pem.bytes().decode()
    assert validate_settings({**GOOD, "tls_trusted_ca": pem}).tls_trusted_ca == pem


def test_unknown_field_refused() -> None:
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings({**GOOD, "hostnme": "x"})
    assert field_names(caught.value) == {"hostnme"}


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings({**GOOD, "port": 70000, "hostname": "bad host", "daily_notice_time": "x"})
    assert field_names(caught.value) == {"port", "hostname", "daily_notice_time"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"auth_type": "oauth2", "email_type": "native", "oauth_provider": "custom"}, "email_type"),
        ({"auth_type": "oauth2", "oauth_provider": "microsoft", "client_id": "id"}, "tenant_id"),
        ({"auth_type": "oauth2", "oauth_provider": "custom", "client_id": "id"}, "token_endpoint"),
        ({"auth_type": "oauth2"}, "oauth_provider"),
        ({"auth_type": "basic", "username": ""}, "username"),
        ({"hostname": ""}, "hostname"),
    ],
)
def test_combinations_that_make_no_sense(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings({**GOOD, **changes})
    assert field in field_names(caught.value)


def test_basic_needs_a_password() -> None:
    data = {**GOOD}
    del data["password"]
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings(data)
    assert field_names(caught.value) == {"password"}


def test_native_needs_no_relay() -> None:
    settings = validate_settings({"from_address": "a@example.com", "email_type": "native"})
    assert settings.hostname == ""


def test_contacts_split_on_spaces_and_deduplicated() -> None:
    settings = validate_settings(
        {**GOOD, "admin_contacts": "ops@example.com  noc@example.com,ops@example.com"}
    )
    assert settings.admin_contacts == ["ops@example.com", "noc@example.com"]


def test_contacts_one_per_line_are_split_not_injected() -> None:
    settings = validate_settings({**GOOD, "admin_contacts": "ops@example.com\r\nnoc@example.com"})
    assert settings.admin_contacts == ["ops@example.com", "noc@example.com"]


def test_ip_literals_accepted() -> None:
    assert validate_settings({**GOOD, "hostname": "192.0.2.10"}).hostname == "192.0.2.10"
    assert validate_settings({**GOOD, "hostname": "[2001:db8::1]"}).hostname == "2001:db8::1"


def test_empty_secret_keeps_the_stored_one() -> None:
    current = validate_settings(GOOD)
    updated = apply_update(current, {"password": "", "port": 465, "encryption": "tls"})
    assert updated.password is not None
    assert updated.password.get_secret_value() == "correct horse"


def test_microsoft_preset_fills_the_relay_and_follows_the_tenant() -> None:
    current = validate_settings(GOOD)
    changes = {
        "auth_type": "oauth2",
        "oauth_provider": "microsoft",
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "11111111-2222-3333-4444-555555555555",
    }
    ms = apply_update(current, changes)
    assert (ms.hostname, ms.port, ms.encryption) == ("smtp.office365.com", 587, "starttls")
    assert ms.scopes == "https://outlook.office.com/SMTP.Send offline_access"
    assert ms.token_endpoint == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    moved = apply_update(ms, {"tenant_id": "fabrikam.onmicrosoft.com", "port": 25})
    assert moved.authorization_endpoint.startswith(
        "https://login.microsoftonline.com/fabrikam.onmicrosoft.com/"
    )
    assert moved.port == 25  # editable after the preset filled it


def test_google_preset() -> None:
    google = apply_update(
        validate_settings(GOOD),
        {"auth_type": "oauth2", "oauth_provider": "google", "client_id": "x.apps.googleusercontent.com"},
    )
    assert google.hostname == "smtp.gmail.com"
    assert google.token_endpoint == "https://oauth2.googleapis.com/token"
    assert google.scopes == "https://mail.google.com/"


def test_snapshot_and_public_view_hold_no_secret() -> None:
    settings = validate_settings({**GOOD, "client_secret": "s3cret-client"})
    for view in (settings_snapshot(settings), public_view(settings)):
        text = repr(view)
        assert "correct horse" not in text and "s3cret-client" not in text
    assert public_view(settings)["password_set"] is True
    assert "correct horse" not in repr(settings)


def test_every_field_is_in_the_public_view() -> None:
    view = public_view(validate_settings(GOOD))
    assert {name.removesuffix("_set") for name in view} == set(FIELD_NAMES)


@given(st.integers())
def test_port_range(port: int) -> None:
    try:
        settings = validate_settings({**GOOD, "port": port})
    except SettingsValidationError as exc:
        assert not 1 <= port <= 65535
        assert field_names(exc) == {"port"}
    else:
        assert settings.port == port
