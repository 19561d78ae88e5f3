"""Credentials only over TLS (#13 item 1): Basic auth needs tls/starttls unless the administrator
allows plaintext explicitly; endpoints that receive secrets are https except on loopback."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertmail.domain.settings import MailSettings, apply_update, validate_settings
from alertmail.domain.transport_security import endpoint_problem, is_loopback
from alertmail.errors import SettingsValidationError

BASIC: dict[str, Any] = {
    "from_address": "alerts@example.com",
    "hostname": "smtp.example.com",
    "port": 25,
    "encryption": "none",
    "auth_type": "basic",
    "username": "relay-user",
    "password": "relay-password",
}
CUSTOM_OAUTH: dict[str, Any] = {
    "from_address": "alerts@example.com",
    "hostname": "smtp.example.com",
    "encryption": "starttls",
    "auth_type": "oauth2",
    "oauth_provider": "custom",
    "client_id": "alertmail",
    "client_secret": "s3cret",
    "username": "alerts@example.com",
    "scopes": "smtp",
    "authorization_endpoint": "https://idp.example.com/authorize",
    "token_endpoint": "https://idp.example.com/token",
}


def refused_fields(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings(data)
    return {error.field: error.message for error in caught.value.errors}


def test_basic_auth_without_tls_is_refused_naming_the_encryption() -> None:
    problems = refused_fields(BASIC)
    assert set(problems) == {"encryption"}
    assert "allow_plaintext_auth" in problems["encryption"]


def test_basic_auth_without_tls_is_accepted_only_with_explicit_consent() -> None:
    assert validate_settings({**BASIC, "allow_plaintext_auth": True}).allow_plaintext_auth
    assert MailSettings().allow_plaintext_auth is False


@pytest.mark.parametrize("encryption", ["tls", "starttls"])
def test_basic_auth_over_tls_needs_no_consent(encryption: str) -> None:
    assert validate_settings({**BASIC, "encryption": encryption}).encryption == encryption


def test_switching_encryption_off_on_saved_basic_settings_is_refused() -> None:
    stored = validate_settings({**BASIC, "encryption": "starttls"})
    with pytest.raises(SettingsValidationError) as caught:
        apply_update(stored, {"encryption": "none"})
    assert [error.field for error in caught.value.errors] == ["encryption"]


@pytest.mark.parametrize("field", ["token_endpoint", "authorization_endpoint"])
@pytest.mark.parametrize(
    "url", ["http://idp.example.com/token", "http://10.0.0.5/token", "http://127.0.0.1.nip.io/token"]
)
def test_a_clear_text_endpoint_off_this_machine_is_refused(field: str, url: str) -> None:
    problems = refused_fields({**CUSTOM_OAUTH, field: url})
    assert set(problems) == {field}
    assert "https" in problems[field]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/token",
        "http://[::1]:9000/token",
        "http://localhost/token",
        "https://x.example/t",
    ],
)
def test_loopback_or_https_endpoints_are_accepted(url: str) -> None:
    assert validate_settings({**CUSTOM_OAUTH, "token_endpoint": url}).token_endpoint == url


@pytest.mark.parametrize(
    "url", ["ftp://idp.example.com/t", "https://", "idp.example.com/token", "https://a b/"]
)
def test_malformed_endpoints_are_refused(url: str) -> None:
    assert endpoint_problem(url) is not None


@given(st.ip_addresses())
def test_only_loopback_addresses_may_receive_secrets_in_clear(address: Any) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    allowed = endpoint_problem(f"http://{host}:8080/token") is None
    assert allowed == is_loopback(str(address))
    assert endpoint_problem(f"https://{host}/token") is None
