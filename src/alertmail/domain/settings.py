"""The mail settings: building valid ones, updating them, and their secret-free views.

`MailSettings` (settings_model.py) is always valid once built through `validate_settings()`; the
untouched settings of a fresh install come from `MailSettings.unconfigured()`. The rules between
fields are in settings_rules.py and the provider presets in settings_presets.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from alertmail.domain.settings_model import FIELD_NAMES, SECRET_FIELDS, EmailType, MailSettings
from alertmail.domain.settings_presets import (
    MICROSOFT_AUTHORIZE,
    MICROSOFT_DEVICE,
    MICROSOFT_TOKEN,
    PRESETS,
    device_endpoint,
    microsoft_device_endpoint,
    preset_fill,
)
from alertmail.domain.settings_rules import API_TYPES, combination_problems
from alertmail.errors import FieldError, SettingsValidationError

__all__ = [
    "API_TYPES",
    "FIELD_NAMES",
    "MICROSOFT_AUTHORIZE",
    "MICROSOFT_DEVICE",
    "MICROSOFT_TOKEN",
    "PRESETS",
    "SECRET_FIELDS",
    "EmailType",
    "MailSettings",
    "apply_update",
    "device_endpoint",
    "microsoft_device_endpoint",
    "public_view",
    "settings_snapshot",
    "validate_settings",
]


def validate_settings(data: Mapping[str, Any]) -> MailSettings:
    """Build valid settings from plain data, or raise one error naming every bad field."""
    unknown = sorted(set(data) - set(FIELD_NAMES))
    if unknown:
        raise SettingsValidationError([FieldError(name, "is not a mail setting") for name in unknown])
    try:
        settings = MailSettings.model_validate(dict(data))
    except ValidationError as exc:
        raise SettingsValidationError(_field_errors(exc) + _combination_errors(data, exc)) from None
    extra = combination_problems(settings)
    if extra:
        raise SettingsValidationError([FieldError(f, m) for f, m in extra])
    return settings


def _combination_errors(data: Mapping[str, Any], exc: ValidationError) -> list[FieldError]:
    """The problems between fields, found among the fields that are valid on their own, so one
    save reports every error at once (an empty Hostname beside a bad From Address)."""
    bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    good = {name: value for name, value in data.items() if name not in bad}
    try:
        partial = MailSettings.model_validate(good)
    except ValidationError:
        return []  # a field valid alone but missing here (from_address): its own error is reported
    return [FieldError(f, m) for f, m in combination_problems(partial) if f not in bad]


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for error in exc.errors():
        message = str(error["msg"])
        field = str(error["loc"][0]) if error["loc"] else "settings"
        if len(error["loc"]) > 1:
            field = f"{field}[{error['loc'][1]}]"
        errors.append(FieldError(field, _readable(error["type"], message)))
    return errors


def _readable(kind: str, message: str) -> str:
    # Pydantic's own wording for types is fine but capitalised; keep ours consistent and short.
    if kind == "literal_error":
        return "must be one of " + message.removeprefix("Input should be ").replace("'", "")
    if kind.startswith(("int_", "float_", "bool_", "string_", "list_")):
        return "must be " + message.removeprefix("Input should be ").rstrip(".")
    return message


def apply_update(current: MailSettings, changes: Mapping[str, Any]) -> MailSettings:
    """Merge a partial update into the current settings and validate the result.

    An empty or missing secret keeps the stored one (a form never echoes secrets back). Choosing a
    provider fills its preset where the update does not say otherwise; Microsoft's endpoints always
    follow the tenant ID unless the update sets them.
    """
    merged: dict[str, Any] = _plain(current)
    for name, value in changes.items():
        if name in SECRET_FIELDS and value in (None, ""):
            continue
        merged[name] = value
    merged.update(preset_fill(current, merged, changes))
    return validate_settings(merged)


def _plain(settings: MailSettings) -> dict[str, Any]:
    data = {name: getattr(settings, name) for name in FIELD_NAMES}
    data["admin_contacts"] = list(settings.admin_contacts)
    return data


def settings_snapshot(settings: MailSettings) -> dict[str, Any]:
    """What Mail Server Logs keep of the settings in force: never a secret.

    Basic entries: hostname, port, username, encryption. OAuth entries add tenant ID, client ID and
    redirect URI, as the seed lists them. Graph and Gmail API entries name the API's endpoint and
    the mailbox instead of a relay.
    """
    if settings.email_type in API_TYPES:
        return _api_snapshot(settings)
    snapshot: dict[str, Any] = {
        "email_type": settings.email_type,
        "auth_type": settings.auth_type,
        "hostname": settings.hostname,
        "port": settings.port,
        "username": settings.username,
        "encryption": settings.encryption,
        "from_address": settings.from_address,
    }
    if settings.auth_type == "oauth2":
        snapshot |= {
            "oauth_provider": settings.oauth_provider,
            "oauth_grant": settings.oauth_grant,
            "tenant_id": settings.tenant_id,
            "client_id": settings.client_id,
            "redirect_uri": settings.redirect_uri,
        }
    return snapshot


def _api_snapshot(settings: MailSettings) -> dict[str, Any]:
    endpoint = settings.graph_endpoint if settings.email_type == "graph" else settings.gmail_endpoint
    field = "graph_endpoint" if settings.email_type == "graph" else "gmail_endpoint"
    return {
        "email_type": settings.email_type,
        "auth_type": settings.auth_type,
        field: endpoint,
        "username": settings.username,
        "from_address": settings.from_address,
        "oauth_provider": settings.oauth_provider,
        "oauth_grant": settings.oauth_grant,
        "tenant_id": settings.tenant_id,
        "client_id": settings.client_id,
        "token_endpoint": settings.token_endpoint,
        "redirect_uri": settings.redirect_uri,
    }


def public_view(settings: MailSettings) -> dict[str, Any]:
    """Settings as the API and export show them: secrets replaced by whether one is set."""
    data: dict[str, Any] = {}
    for name, value in _plain(settings).items():
        if name in SECRET_FIELDS:
            # In field order, not set order: exports must read the same from run to run.
            data[f"{name}_set"] = value is not None and bool(value.get_secret_value())
        else:
            data[name] = value
    return data
