"""Every limit of the mail settings at its boundary, and a refusing case for every combination rule.

Each refusal names exactly the fields at fault (a set, not "contains"), so that a rule that fires
too often is caught as surely as one that never fires.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from alertmail.domain.settings import (
    MailSettings,
    apply_update,
    public_view,
    settings_snapshot,
    validate_settings,
)
from alertmail.errors import SettingsValidationError

BASIC: dict[str, Any] = {
    "from_address": "alerts@example.com",
    "hostname": "smtp.example.com",
    "auth_type": "basic",
    "username": "alerts@example.com",
    "password": "correct horse",
}
OAUTH: dict[str, Any] = {
    "from_address": "alerts@example.com",
    "hostname": "smtp.example.com",
    "encryption": "starttls",
    "auth_type": "oauth2",
    "oauth_provider": "custom",
    "client_id": "client-1",
    "authorization_endpoint": "https://id.example.com/authorize",
    "token_endpoint": "https://id.example.com/token",
    "scopes": "smtp",
    "username": "alerts@example.com",
}


def refused(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings(data)
    return {error.field: error.message for error in caught.value.errors}


# --- ranges ------------------------------------------------------------------------------------

LIMITS = [
    ("port", [1, 65535], [0, 65536], "from 1 to 65535"),
    ("connect_timeout", [1, 600, 1.5], [0.999, 600.001], "from 1 to 600"),
    ("max_connections", [1, 20], [0, 21], "from 1 to 20"),
    ("messages_per_minute", [0, 100_000], [-1, 100_001], "from 0 (no limit) to 100000"),
    ("daily_notice_time", ["00:00", "23:59", "19:59", "09:05"], ["24:00", "23:60", "7:00"], "00:00 to 23:59"),
]


@pytest.mark.parametrize(
    ("field", "allowed", "refused_values", "wording"), LIMITS, ids=[x[0] for x in LIMITS]
)
def test_each_range_holds_its_ends_and_refuses_one_past(
    field: str, allowed: list[Any], refused_values: list[Any], wording: str
) -> None:
    for value in allowed:
        assert getattr(validate_settings({**BASIC, field: value}), field) == value
    for value in refused_values:
        problems = refused({**BASIC, field: value})
        assert set(problems) == {field}, value
        assert wording in problems[field]


def test_a_host_name_may_be_253_characters_with_labels_of_63() -> None:
    label = "a" * 63
    longest = ".".join([label, label, label, "b" * 61])  # 63 * 3 + 61 + 3 dots = 253
    assert len(longest) == 253
    assert validate_settings({**BASIC, "hostname": longest}).hostname == longest
    assert set(refused({**BASIC, "hostname": longest + "b"})) == {"hostname"}
    assert set(refused({**BASIC, "hostname": "a" * 64 + ".example.com"})) == {"hostname"}


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("SMTP.Example.COM", "smtp.example.com"),
        ("smtp.example.com.", "smtp.example.com."),
        ("[192.0.2.1]", "192.0.2.1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("x", "x"),
    ],
)
def test_host_names_are_kept_lowercase_and_ip_literals_normalised(written: str, kept: str) -> None:
    assert validate_settings({**BASIC, "hostname": written}).hostname == kept


@pytest.mark.parametrize("written", ["smtp.123", "1.2.3", "bad_host.example.com", "-a.example.com", "a..b"])
def test_a_host_that_is_neither_a_name_nor_an_address_is_refused(written: str) -> None:
    assert refused({**BASIC, "hostname": written}) == {"hostname": "must be a host name or an IP address"}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("11111111-2222-3333-4444-555555555555", True),
        ("organizations", True),
        ("common", True),
        ("consumers", True),
        ("contoso.onmicrosoft.com", True),
        ("contoso", False),
        ("1111-2222", False),
    ],
)
def test_tenant_ids(value: str, ok: bool) -> None:
    data = {**BASIC, "tenant_id": value}
    if ok:
        assert validate_settings(data).tenant_id == value
    else:
        assert set(refused(data)) == {"tenant_id"}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://id.example.com:8443/a/b?c=d", True),
        ("http://127.0.0.1:9000/token", True),
        ("http://localhost/token", True),
        ("http://[::1]:9000/token", True),
        ("", True),
        ("https:///token", False),
        ("https://id example.com/token", False),
        ("mailto:a@example.com", False),
    ],
)
def test_endpoint_urls(value: str, ok: bool) -> None:
    data = {**BASIC, "token_endpoint": value}
    if ok:
        assert validate_settings(data).token_endpoint == value
    else:
        assert refused(data) == {"token_endpoint": "must be an https:// URL"}


@pytest.mark.parametrize(
    "value", ["http://id.example.com/token", "http://10.0.0.1/token", "http://128.0.0.1/t"]
)
def test_a_secret_goes_over_plain_http_only_to_a_loopback_endpoint(value: str) -> None:
    only_loopback = "http:// is allowed only on a loopback address such as 127.0.0.1"
    assert refused({**BASIC, "token_endpoint": value}) == {
        "token_endpoint": f"must be an https:// URL: {only_loopback}"
    }


def test_a_blank_ca_field_means_none() -> None:
    assert validate_settings({**BASIC, "tls_trusted_ca": "  \n"}).tls_trusted_ca == "  \n"
    assert set(refused({**BASIC, "tls_trusted_ca": "not a certificate"})) == {"tls_trusted_ca"}


def test_a_line_break_is_refused_in_a_secret_given_as_a_secret() -> None:
    problems = refused({**BASIC, "password": SecretStr("pw\r\nQUIT")})
    assert problems == {"password": "must not contain a line break (CR or LF)"}


# --- messages -----------------------------------------------------------------------------------


def test_errors_are_worded_for_people() -> None:
    assert refused({**BASIC, "email_type": "postfix"}) == {
        "email_type": "must be one of smtp, native, graph or gmail_api"
    }
    assert refused({**BASIC, "port": "seventy"})["port"].startswith("must be a valid integer")
    assert refused({**BASIC, "admin_contacts": ["ops@example.com", 5]}) == {
        "admin_contacts[1]": "must be a valid string"
    }
    assert refused({**BASIC, "from_address": ""}) == {
        "from_address": "is required: the address automatic messages are sent from"
    }


def test_a_bad_contact_is_quoted_but_a_bad_from_address_speaks_for_itself() -> None:
    assert refused({**BASIC, "admin_contacts": "ops@example.com nope"})["admin_contacts"].startswith(
        "'nope' is not a valid e-mail address"
    )
    assert refused({**BASIC, "from_address": "nope"})["from_address"].startswith(
        "is not a valid e-mail address"
    )


def test_unknown_fields_are_named_in_order_and_nothing_else_is_checked() -> None:
    with pytest.raises(SettingsValidationError) as caught:
        validate_settings({**BASIC, "zeta": 1, "alpha": 2, "port": 0})
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("alpha", "is not a mail setting"),
        ("zeta", "is not a mail setting"),
    ]


# --- combinations ----------------------------------------------------------------------------------


def test_the_base_cases_are_valid() -> None:
    assert validate_settings(BASIC).auth_type == "basic"
    assert validate_settings(OAUTH).auth_type == "oauth2"
    assert validate_settings({**OAUTH, "encryption": "tls"}).encryption == "tls"
    assert (
        validate_settings({**BASIC, "auth_type": "none", "username": "", "password": None}).auth_type
        == "none"
    )


OAUTH_RULES = [
    (
        {"email_type": "native"},
        "email_type",
        "must be SMTP (smtp), Microsoft Graph (graph) or Gmail API (gmail_api) with OAuth2",
    ),
    (
        {"oauth_provider": None},
        "oauth_provider",
        "is required with OAuth2: Microsoft 365 (microsoft), Google (google) or Custom (custom)",
    ),
    ({"client_id": ""}, "client_id", "is required with OAuth2"),
    ({"oauth_provider": "microsoft", "tenant_id": ""}, "tenant_id", "is required for Microsoft 365"),
    ({"authorization_endpoint": ""}, "authorization_endpoint", "is required with OAuth2"),
    ({"token_endpoint": ""}, "token_endpoint", "is required with OAuth2"),
    ({"scopes": ""}, "scopes", "is required with OAuth2"),
    ({"username": ""}, "username", "is required with OAuth2: the mailbox that sends"),
    (
        {"encryption": "none"},
        "encryption",
        "must be TLS or STARTTLS with OAuth2: an access token never crosses in clear",
    ),
    (
        {"oauth_grant": "client_credentials", "oauth_provider": "google", "client_secret": "s"},
        "oauth_grant",
        "App-only (client_credentials) is not available for Google SMTP",
    ),
    (
        {"oauth_grant": "client_credentials"},
        "client_secret",
        "is required for app-only (client_credentials) sending",
    ),
    (
        {"oauth_grant": "client_credentials", "client_secret": ""},
        "client_secret",
        "is required for app-only (client_credentials) sending",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message"), OAUTH_RULES, ids=[r[1] for r in OAUTH_RULES])
def test_each_oauth2_rule_refuses_alone(changes: dict[str, Any], field: str, message: str) -> None:
    assert refused({**OAUTH, **changes}) == {field: message}


def test_the_oauth2_rules_hold_their_ground_when_met() -> None:
    microsoft = validate_settings({**OAUTH, "oauth_provider": "microsoft", "tenant_id": "common"})
    assert microsoft.oauth_provider == "microsoft"
    app_only = validate_settings({**OAUTH, "oauth_grant": "client_credentials", "client_secret": "s"})
    assert app_only.oauth_grant == "client_credentials"
    google = validate_settings({**OAUTH, "oauth_provider": "google", "client_secret": "s"})
    assert google.oauth_grant == "authorization_code"


def test_oauth2_rules_do_not_apply_to_basic_authentication() -> None:
    basic = {
        **BASIC,
        "encryption": "none",
        "allow_plaintext_auth": True,
        "oauth_grant": "client_credentials",
        "oauth_provider": "google",
    }
    assert validate_settings(basic).encryption == "none"


def test_a_password_in_clear_needs_the_administrators_consent() -> None:
    assert refused({**BASIC, "encryption": "none"}) == {
        "encryption": "must be tls or starttls with a password; or set allow_plaintext_auth"
    }
    no_password = {**BASIC, "encryption": "none", "auth_type": "none", "username": "", "password": None}
    assert validate_settings(no_password).encryption == "none"
    native = {**BASIC, "encryption": "none", "email_type": "native"}
    assert validate_settings(native).email_type == "native"


BASIC_RULES = [
    ({"username": ""}, {"username": "is required with username and password authentication"}),
    ({"password": None}, {"password": "is required with username and password authentication"}),
    ({"password": ""}, {"password": "is required with username and password authentication"}),
    ({"hostname": ""}, {"hostname": "is required when the E-mail Type is SMTP"}),
]


@pytest.mark.parametrize(
    ("changes", "problems"), BASIC_RULES, ids=["username", "no password", "empty", "host"]
)
def test_each_basic_rule_refuses_alone(changes: dict[str, Any], problems: dict[str, str]) -> None:
    assert refused({**BASIC, **changes}) == problems


def test_native_mail_needs_neither_relay_nor_credentials() -> None:
    native = {**BASIC, "email_type": "native", "hostname": "", "username": "", "password": None}
    assert validate_settings(native).email_type == "native"


# --- updates and presets ------------------------------------------------------------------------


def test_an_update_replaces_a_secret_it_gives_and_clears_other_fields_it_empties() -> None:
    current = validate_settings(BASIC)
    changed = apply_update(current, {"password": "new horse"})
    assert changed.password is not None and changed.password.get_secret_value() == "new horse"
    kept = apply_update(current, {"password": None, "client_secret": ""})
    assert kept.password is not None and kept.password.get_secret_value() == "correct horse"
    with pytest.raises(SettingsValidationError) as caught:
        apply_update(current, {"username": ""})
    assert {e.field for e in caught.value.errors} == {"username"}


def google() -> MailSettings:
    changes = {"auth_type": "oauth2", "oauth_provider": "google", "client_id": "x.apps.googleusercontent.com"}
    return apply_update(validate_settings(BASIC), changes)


def test_a_chosen_provider_keeps_what_the_admin_edits_afterwards() -> None:
    edited = apply_update(
        google(), {"hostname": "smtp-relay.gmail.com", "token_endpoint": "https://t.example/x"}
    )
    later = apply_update(edited, {"port": 465, "encryption": "tls"})
    assert (later.hostname, later.token_endpoint, later.port) == (
        "smtp-relay.gmail.com",
        "https://t.example/x",
        465,
    )


def test_choosing_the_provider_again_after_basic_refills_its_preset() -> None:
    edited = apply_update(google(), {"hostname": "smtp-relay.gmail.com"})
    back = apply_update(
        apply_update(edited, {"auth_type": "basic", "password": "pw"}), {"auth_type": "oauth2"}
    )
    assert back.hostname == "smtp.gmail.com"


def test_a_preset_fills_only_the_fields_left_empty_when_the_provider_was_already_chosen() -> None:
    current = MailSettings.model_construct(
        auth_type="oauth2", oauth_provider="google", hostname="relay.example.com"
    )
    filled = apply_update(
        current,
        {
            "from_address": "alerts@example.com",
            "client_id": "c",
            "username": "alerts@example.com",
            "port": 465,
        },
    )
    assert (filled.hostname, filled.port) == ("relay.example.com", 465)
    assert filled.token_endpoint == "https://oauth2.googleapis.com/token"
    assert filled.scopes == "https://mail.google.com/"


def test_microsoft_and_google_make_the_mail_go_through_smtp() -> None:
    native = validate_settings({**BASIC, "email_type": "native"})
    ms = {"auth_type": "oauth2", "oauth_provider": "microsoft", "tenant_id": "common", "client_id": "c"}
    assert apply_update(native, ms).email_type == "smtp"
    assert set(_update_problems(native, {**ms, "email_type": "native"})) == {"email_type"}
    custom = {
        **ms,
        "oauth_provider": "custom",
        **{k: OAUTH[k] for k in ("authorization_endpoint", "token_endpoint", "scopes")},
    }
    assert set(_update_problems(native, custom)) == {"email_type"}


def test_microsoft_without_a_tenant_is_refused_for_the_tenant_alone() -> None:
    ms = {"auth_type": "oauth2", "oauth_provider": "microsoft", "client_id": "c"}
    assert _update_problems(validate_settings(BASIC), ms) == {"tenant_id": "is required for Microsoft 365"}


def test_basic_settings_take_no_preset() -> None:
    current = validate_settings(BASIC)
    assert apply_update(current, {"oauth_provider": "google"}).hostname == "smtp.example.com"


def _update_problems(current: MailSettings, changes: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsValidationError) as caught:
        apply_update(current, changes)
    return {error.field: error.message for error in caught.value.errors}


# --- what is shown and logged -----------------------------------------------------------------------


def test_the_snapshot_of_basic_settings_has_the_relay_fields_only() -> None:
    assert settings_snapshot(validate_settings(BASIC)) == {
        "email_type": "smtp",
        "auth_type": "basic",
        "hostname": "smtp.example.com",
        "port": 587,
        "username": "alerts@example.com",
        "encryption": "starttls",
        "from_address": "alerts@example.com",
    }


def test_the_snapshot_of_oauth2_settings_adds_the_client() -> None:
    snapshot = settings_snapshot(validate_settings({**OAUTH, "redirect_uri": "https://box.example/cb"}))
    assert {
        k: snapshot[k] for k in ("oauth_provider", "oauth_grant", "tenant_id", "client_id", "redirect_uri")
    } == {
        "oauth_provider": "custom",
        "oauth_grant": "authorization_code",
        "tenant_id": "",
        "client_id": "client-1",
        "redirect_uri": "https://box.example/cb",
    }


def test_the_public_view_says_whether_each_secret_is_set() -> None:
    view = public_view(validate_settings({**OAUTH, "client_secret": ""}))
    assert (view["password_set"], view["client_secret_set"]) == (False, False)
    assert "password" not in view and "client_secret" not in view
    view = public_view(validate_settings({**OAUTH, "client_secret": "s", "password": "p"}))
    assert (view["password_set"], view["client_secret_set"]) == (True, True)
    assert list(view)[:3] == ["from_address", "email_type", "hostname"]


def test_fresh_settings_have_the_documented_defaults() -> None:
    fresh = MailSettings.unconfigured()
    assert (fresh.port, fresh.max_connections, fresh.messages_per_minute, fresh.connect_timeout) == (
        587,
        3,
        0,
        30.0,
    )
    assert (fresh.oauth_app_testing, fresh.daily_notice, fresh.send_test_on_save) == (False, False, False)


def test_a_microsoft_rate_of_zero_stays_no_limit_across_later_updates() -> None:
    # Regression: the preset took 0 for an empty field and put Exchange Online's 30 back on the next
    # partial update (API, CLI) that did not repeat messages_per_minute.
    ms = {"auth_type": "oauth2", "oauth_provider": "microsoft", "tenant_id": "common", "client_id": "c"}
    chosen = apply_update(validate_settings(BASIC), ms)
    assert (chosen.messages_per_minute, chosen.max_connections) == (30, 3)
    unlimited = apply_update(chosen, {"messages_per_minute": 0})
    assert apply_update(unlimited, {"port": 25}).messages_per_minute == 0


def test_a_ca_that_is_not_text_is_refused_by_name() -> None:
    assert refused({**BASIC, "tls_trusted_ca": 5}) == {"tls_trusted_ca": "must be a valid string"}


def test_valid_settings_cannot_be_changed_in_place() -> None:
    settings = validate_settings(BASIC)
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 25  # type: ignore[misc]
    assert settings.port == 587


def test_an_empty_secret_is_skipped_but_the_changes_after_it_are_applied() -> None:
    kept = apply_update(
        validate_settings(BASIC), {"password": "", "port": 2525, "username": "ops@example.com"}
    )
    assert (kept.port, kept.username) == (2525, "ops@example.com")


def test_choosing_google_sets_its_port_as_well() -> None:
    on_25 = validate_settings({**BASIC, "port": 25})
    changes = {"auth_type": "oauth2", "oauth_provider": "google", "client_id": "x.apps.googleusercontent.com"}
    chosen = apply_update(on_25, changes)
    assert (chosen.hostname, chosen.port, chosen.encryption) == ("smtp.gmail.com", 587, "starttls")
