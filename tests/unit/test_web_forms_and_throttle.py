"""Pure pieces of the web UI: the Mail Settings form as a partial update, and the login rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from alertmail.domain.settings import MailSettings, apply_update
from alertmail.errors import FieldError, SettingsValidationError
from alertmail.interfaces.web.settings_form import (
    changes_from_form,
    field_errors,
    form_values,
    submitted_values,
)
from alertmail.services.web_sessions import LoginThrottle

BASIC = apply_update(
    MailSettings.unconfigured(),
    {
        "from_address": "alerts@example.com",
        "hostname": "smtp.example.com",
        "auth_type": "basic",
        "username": "alerts",
        "password": "stored-secret",
        "admin_contacts": "ops@example.com noc@example.com",
    },
)


def as_form(settings: MailSettings, **changes: str) -> dict[str, str]:
    """The form a browser posts back for `settings`: every text as shown, checked boxes only."""
    shown = form_values(settings)
    form = {name: value for name, value in shown.items() if isinstance(value, str)}
    form |= {name: "on" for name, value in shown.items() if value is True and not name.endswith("_set")}
    return form | {"password": "", "client_secret": ""} | changes


def test_an_untouched_form_changes_nothing_and_never_shows_a_secret() -> None:
    assert changes_from_form(as_form(BASIC), BASIC) == {}
    assert "stored-secret" not in repr(form_values(BASIC))
    assert form_values(BASIC)["password_set"] is True


def test_only_the_fields_typed_in_are_changed() -> None:
    form = as_form(BASIC, port=" 2525 ", admin_contacts="ops@example.com", daily_notice="on")
    assert changes_from_form(form, BASIC) == {
        "port": "2525",
        "admin_contacts": "ops@example.com",
        "daily_notice": True,
    }


def test_an_empty_secret_keeps_the_stored_one_and_a_typed_one_replaces_it() -> None:
    assert "password" not in changes_from_form(as_form(BASIC, password=""), BASIC)
    assert changes_from_form(as_form(BASIC, password="new secret"), BASIC) == {"password": "new secret"}


def test_unticking_a_box_turns_it_off() -> None:
    ticked = apply_update(BASIC, {"send_test_on_save": True})
    form = as_form(ticked)
    del form["send_test_on_save"]
    assert changes_from_form(form, ticked) == {"send_test_on_save": False}


def test_microsoft_relay_fields_are_recommended_not_locked() -> None:
    # Sovereign clouds (smtp.office365.us) need another relay: what the admin types is kept.
    form = as_form(
        BASIC,
        auth_type="oauth2",
        oauth_provider="microsoft",
        hostname="smtp.office365.us",
        tenant_id="contoso.onmicrosoft.com",
    )
    changes = changes_from_form(form, BASIC)
    saved = apply_update(BASIC, changes | {"client_id": "app", "username": "relay@contoso.com"})
    assert (saved.hostname, saved.port, saved.encryption) == ("smtp.office365.us", 587, "starttls")
    assert saved.token_endpoint.startswith("https://login.microsoftonline.com/contoso.onmicrosoft.com/")


def test_hidden_fields_are_not_taken_from_the_form() -> None:
    form = as_form(BASIC, auth_type="none", tenant_id="contoso.com", client_id="app", password="typed")
    assert changes_from_form(form, BASIC) == {"auth_type": "none"}
    native = as_form(BASIC, email_type="native", hostname="ignored.example", username="ignored")
    assert changes_from_form(native, BASIC) == {"email_type": "native"}


MICROSOFT = {
    "auth_type": "oauth2",
    "oauth_provider": "microsoft",
    "tenant_id": "contoso.com",
    "client_id": "app",
    "username": "relay@contoso.com",
}


def test_a_tenant_id_is_cleared_when_the_provider_is_not_microsoft() -> None:
    microsoft = apply_update(BASIC, MICROSOFT)
    form = as_form(microsoft, oauth_provider="custom")
    changes = changes_from_form(form, microsoft)
    assert changes["tenant_id"] == ""
    custom = apply_update(
        microsoft,
        changes
        | {
            "hostname": "relay.corp.local",
            "scopes": "send",
            "authorization_endpoint": "https://id/a",
            "token_endpoint": "https://id/t",
        },
    )
    assert (custom.tenant_id, custom.messages_per_minute) == ("", 0)


def test_switching_provider_clears_what_the_previous_preset_filled() -> None:
    microsoft = apply_update(BASIC, MICROSOFT)
    with pytest.raises(SettingsValidationError) as refused:
        apply_update(microsoft, {"oauth_provider": "custom", "tenant_id": ""})
    assert {e.field for e in refused.value.errors} == {
        "hostname",
        "scopes",
        "authorization_endpoint",
        "token_endpoint",
    }
    google = apply_update(microsoft, {"oauth_provider": "google", "tenant_id": ""})
    assert (google.hostname, google.scopes) == ("smtp.gmail.com", "https://mail.google.com/")
    assert google.messages_per_minute == 0  # Microsoft's limit does not follow to Google


def test_oauth_forces_the_smtp_email_type() -> None:
    native = apply_update(BASIC, {"email_type": "native"})
    changes = changes_from_form(as_form(native, auth_type="oauth2", oauth_provider="custom"), native)
    assert changes["email_type"] == "smtp"


def test_a_refused_form_shows_what_was_typed_but_no_secret() -> None:
    values = submitted_values(as_form(BASIC, port="70000", password="typed-secret"), BASIC)
    assert values["port"] == "70000"
    assert "typed-secret" not in repr(values)


def test_field_errors_belong_to_their_form_field() -> None:
    errors = [FieldError("admin_contacts[1]", "is not valid"), FieldError("admin_contacts[2]", "neither")]
    assert field_errors(errors) == {"admin_contacts": "is not valid; neither"}


def test_secret_values_are_only_reported_as_set() -> None:
    empty = MailSettings.model_construct(password=SecretStr(""))
    assert form_values(empty)["password_set"] is False


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_the_sixth_try_within_the_window_waits() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=5, window=timedelta(minutes=5), clock=clock)
    for _ in range(4):
        throttle.failed("Admin", "192.0.2.1")
        assert throttle.retry_after("admin", "192.0.2.1") is None
    throttle.failed("admin", "192.0.2.1")
    assert throttle.retry_after("ADMIN", "192.0.2.1") == timedelta(minutes=5)  # names are case-blind
    assert throttle.retry_after("admin", "192.0.2.2") is None  # another address
    assert throttle.retry_after("root", "192.0.2.1") is None  # another name
    clock.now += timedelta(minutes=5)
    assert throttle.retry_after("admin", "192.0.2.1") is None  # the window has passed


def test_a_success_forgives_and_the_table_stays_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_failures=2, max_keys=3, clock=clock)
    throttle.failed("admin", "a")
    throttle.succeeded("admin", "a")
    throttle.failed("admin", "a")
    assert throttle.retry_after("admin", "a") is None
    for name in ("b", "c", "d", "e"):
        throttle.failed(name, "x")
    assert len(throttle._failures) <= 3
