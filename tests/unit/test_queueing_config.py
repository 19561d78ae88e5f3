"""sendmail's lean reader of the configuration (queueing_config.py) agrees with AppConfig on the
same environment, or leaves the reading to AppConfig."""

from __future__ import annotations

import os

import pytest

from alertmail.config import AppConfig, to_async_url
from alertmail.queueing_config import FREE_TEXT_SETTINGS, QueueingConfig, queueing_config

READ = ("data_dir", "database_url", "secret_key_file", "message_lifetime_hours", "local_submission_max_bytes")

AGREED = [
    {},
    {"ALERTMAIL_DATA_DIR": "/var/lib/alertmail"},
    {"ALERTMAIL_DATA_DIR": "relative/dir", "ALERTMAIL_SECRET_KEY_FILE": "/etc/alertmail/key"},
    {"alertmail_data_dir": "/lower/case", "ALERTMAIL_PUBLIC_URL": "https://mail.example.com"},
    {"ALERTMAIL_DATABASE_URL": "postgresql://alertmail@db/alertmail", "ALERTMAIL_NODE_NAME": "n1"},
    {"ALERTMAIL_MESSAGE_LIFETIME_HOURS": "12", "ALERTMAIL_LOCAL_SUBMISSION_MAX_BYTES": "1000"},
    {"ALERTMAIL_MESSAGE_LIFETIME_HOURS": "0.5", "ALERTMAIL_TIMEZONE": "Europe/Paris"},
    {"OTHER_VARIABLE": "ignored by both"},
]
# What only AppConfig can say: accepted in another spelling, refused (exit 78), or not read here.
LEFT_TO_APPCONFIG = [
    {"ALERTMAIL_LOCAL_SUBMISSION_MAX_BYTES": "0"},
    {"ALERTMAIL_LOCAL_SUBMISSION_MAX_BYTES": "1e6"},
    {"ALERTMAIL_LOCAL_SUBMISSION_MAX_BYTES": " 1000"},
    {"ALERTMAIL_MESSAGE_LIFETIME_HOURS": "inf"},
    {"ALERTMAIL_DATA_DIR": ""},
    {"ALERTMAIL_SHARED_IP": "not an address"},
    {"ALERTMAIL_SMTP_LISTENER_PORT": "smtp"},
    {"ALERTMAIL_NODE_ROLE": "traffic"},
    {"ALERTMAIL_DATA_DIR": "/a", "alertmail_data_dir": "/b"},
]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [n for n in os.environ if n.upper().startswith("ALERTMAIL_")]:
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("variables", AGREED)
def test_the_lean_reader_reads_what_appconfig_reads(
    environment: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    for name, value in variables.items():
        environment.setenv(name, value)
    lean = queueing_config(dict(os.environ))
    full = AppConfig()
    assert lean is not None
    assert {name: getattr(lean, name) for name in READ} == {name: getattr(full, name) for name in READ}
    assert lean.resolved_secret_key_file == full.resolved_secret_key_file
    assert to_async_url(lean.resolved_database_url) == full.resolved_database_url


@pytest.mark.parametrize("variables", LEFT_TO_APPCONFIG)
def test_what_it_is_not_sure_of_is_left_to_appconfig(variables: dict[str, str]) -> None:
    assert queueing_config(variables) is None


def test_the_defaults_are_appconfigs() -> None:
    assert {name: getattr(QueueingConfig(), name) for name in READ} == {
        name: AppConfig.model_fields[name].default for name in READ
    }


@pytest.mark.parametrize("name", sorted(FREE_TEXT_SETTINGS))
def test_the_settings_it_lets_through_unchecked_take_any_text_in_appconfig(name: str) -> None:
    field = AppConfig.model_fields[name]
    validators = AppConfig.__pydantic_decorators__.field_validators.values()
    assert field.annotation is str and not field.metadata
    assert all(name not in validator.info.fields for validator in validators)
    assert getattr(AppConfig(**{name: "any text: ü, 12, none"}), name) == "any text: ü, 12, none"
