"""The fallback transport's settings: each bad value or combination refused, naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from alertmail.domain.settings import public_view, validate_settings
from alertmail.errors import SettingsValidationError

PRIMARY: dict[str, Any] = {
    "from_address": "alerts@example.com",
    "hostname": "smtp.example.com",
    "port": 587,
    "encryption": "starttls",
}
SMTP_FALLBACK: dict[str, Any] = {
    "fallback_email_type": "smtp",
    "fallback_hostname": "relay.example.net",
    "fallback_port": 587,
    "fallback_encryption": "starttls",
    "fallback_auth_type": "basic",
    "fallback_username": "relay-user",
    "fallback_password": "relay password",
}

REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"fallback_email_type": "postfix"}, "fallback_email_type"),
    ({"fallback_email_type": "smtp", "fallback_hostname": ""}, "fallback_hostname"),
    ({"fallback_hostname": "bad host"}, "fallback_hostname"),
    ({"fallback_port": 0}, "fallback_port"),
    ({"fallback_port": 70000}, "fallback_port"),
    ({"fallback_encryption": "ssl"}, "fallback_encryption"),
    ({"fallback_auth_type": "oauth2"}, "fallback_auth_type"),
    ({"fallback_username": ""}, "fallback_username"),
    ({"fallback_password": ""}, "fallback_password"),
    ({"fallback_username": "x\r\nRCPT TO:<victim@example.com>"}, "fallback_username"),
    ({"fallback_after_minutes": 0}, "fallback_after_minutes"),
    ({"fallback_after_minutes": 1441}, "fallback_after_minutes"),
    ({"fallback_after_minutes": "soon"}, "fallback_after_minutes"),
    ({"fallback_encryption": "none"}, "fallback_encryption"),  # a password in clear
    ({"fallback_hostname": "smtp.example.com"}, "fallback_hostname"),  # the primary itself
]


@pytest.mark.parametrize(("change", "field"), REFUSED, ids=[f for _, f in REFUSED])
def test_a_bad_fallback_value_is_refused_naming_its_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings(PRIMARY | SMTP_FALLBACK | change)
    assert field in {error.field for error in caught.value.errors}


def test_a_password_in_clear_is_allowed_by_explicit_consent_only() -> None:
    clear = PRIMARY | SMTP_FALLBACK | {"fallback_encryption": "none", "allow_plaintext_auth": True}
    assert validate_settings(clear).fallback_encryption == "none"


def test_without_a_fallback_its_fields_are_not_required() -> None:
    settings = validate_settings(PRIMARY | {"fallback_email_type": "none", "fallback_hostname": ""})
    assert settings.fallback_after_minutes == 10


def test_the_fallback_password_is_write_only() -> None:
    view = public_view(validate_settings(PRIMARY | SMTP_FALLBACK))
    assert "fallback_password" not in view and view["fallback_password_set"] is True
    assert "relay password" not in repr(validate_settings(PRIMARY | SMTP_FALLBACK))
