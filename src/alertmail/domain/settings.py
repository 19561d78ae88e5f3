"""The mail settings: one model, its validation, provider presets and the secret-free snapshot.

`MailSettings` is always valid once built through `validate_settings()`; the untouched settings of a
fresh install come from `MailSettings.unconfigured()`. Secrets are `SecretStr`, so a repr, a log line
or a JSON dump of the model never shows them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from alertmail.domain.addresses import AddressError, normalize_address
from alertmail.domain.transport_security import endpoint_problem, sends_password_in_clear
from alertmail.errors import FieldError, SettingsValidationError

__all__ = [
    "FIELD_NAMES",
    "SECRET_FIELDS",
    "MailSettings",
    "apply_update",
    "public_view",
    "settings_snapshot",
    "validate_settings",
]

EmailType = Literal["smtp", "native"]
Encryption = Literal["none", "tls", "starttls"]
AuthType = Literal["none", "basic", "oauth2"]
OAuthProvider = Literal["microsoft", "google", "custom"]
OAuthGrant = Literal["authorization_code", "client_credentials"]

SECRET_FIELDS = frozenset({"password", "client_secret"})

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_TENANT = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|organizations|common|consumers|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$"
)

MICROSOFT_AUTHORIZE = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"
MICROSOFT_TOKEN = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"  # noqa: S105

# What choosing a provider fills in; the admin may still edit what the seeds leave editable.
PRESETS: dict[str, dict[str, Any]] = {
    "microsoft": {
        "hostname": "smtp.office365.com",
        "port": 587,
        "encryption": "starttls",
        "scopes": "https://outlook.office.com/SMTP.Send offline_access",
        # Exchange Online: 3 concurrent connections per mailbox, 30 messages a minute.
        "max_connections": 3,
        "messages_per_minute": 30,
    },
    "google": {
        "hostname": "smtp.gmail.com",
        "port": 587,
        "encryption": "starttls",
        "scopes": "https://mail.google.com/",
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
    },
    "custom": {},
}


def _problem(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


class MailSettings(BaseModel):
    """How mail leaves the box. Field names are the contract of the API, the CLI and import/export."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)

    from_address: str = ""
    email_type: EmailType = "smtp"
    hostname: str = ""
    port: int = 587
    encryption: Encryption = "starttls"
    auth_type: AuthType = "none"
    username: str = ""
    password: SecretStr | None = None
    oauth_provider: OAuthProvider | None = None
    tenant_id: str = ""
    client_id: str = ""
    client_secret: SecretStr | None = None
    scopes: str = ""
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    redirect_uri: str = ""
    oauth_grant: OAuthGrant = "authorization_code"  # client_credentials: app-only, no sign-in
    oauth_app_testing: bool = False  # Google: the app's publishing status is Testing (7-day tokens)
    admin_contacts: list[str] = []
    daily_notice: bool = False
    daily_notice_time: str = "08:00"
    send_test_on_save: bool = False
    tls_trusted_ca: str = ""
    connect_timeout: float = 30.0
    allow_plaintext_auth: bool = False  # Basic auth without TLS: refused unless the admin says so
    # Sending well: at most this many connections to the relay at once, and at most this many
    # messages a minute (0: no limit), for every node together (domain/pacing.py). The Microsoft
    # preset sets Exchange Online's 3 and 30.
    max_connections: int = 3
    messages_per_minute: int = 0

    @classmethod
    def unconfigured(cls) -> MailSettings:
        """The settings of a fresh install: defaults, not yet valid for sending."""
        return cls.model_construct()

    # --- single fields -----------------------------------------------------------------------

    @field_validator("*", mode="before")
    @classmethod
    def _no_line_breaks(cls, value: Any, info: ValidationInfo) -> Any:
        # Header injection starts with a CR or LF in a value that ends up in a header or command.
        # The PEM text of a CA is the one field made of lines, and it reaches no header. NUL is
        # refused everywhere: PostgreSQL cannot store it, and no mail text may hold it.
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            raw = text.get_secret_value() if isinstance(text, SecretStr) else text
            if isinstance(raw, str) and "\x00" in raw:
                raise _problem("nul", "must not contain a NUL character")
            if info.field_name != "tls_trusted_ca" and isinstance(raw, str) and ("\r" in raw or "\n" in raw):
                raise _problem("line_break", "must not contain a line break (CR or LF)")
        return value

    @field_validator("from_address")
    @classmethod
    def _from_address(cls, value: str) -> str:
        if not value:
            raise _problem("missing", "is required: the address automatic messages are sent from")
        return _email(value)

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        return _host(value) if value else value

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise _problem("port", "must be a whole number from 1 to 65535")
        return value

    @field_validator("admin_contacts", mode="before")
    @classmethod
    def _split_contacts(cls, value: Any) -> Any:
        # The UI and the CLI take them space-separated, as the seed says; commas are forgiven.
        if isinstance(value, str):
            return [part for part in re.split(r"[\s,;]+", value) if part]
        return value

    @field_validator("admin_contacts")
    @classmethod
    def _contacts(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(_email(address, named=True) for address in value))

    @field_validator("daily_notice_time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise _problem("time", "must be a time of day as HH:MM, from 00:00 to 23:59")
        return value

    @field_validator("redirect_uri")
    @classmethod
    def _url(cls, value: str) -> str:
        # Alertmail's own callback in the admin's browser: no secret is sent to it.
        if value and not re.match(r"^https?://[^\s/?#]+[^\s]*$", value):
            raise _problem("url", "must be an http:// or https:// URL")
        return value

    @field_validator("authorization_endpoint", "token_endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        # The client secret and the grants travel to these: never in clear off this machine.
        problem = endpoint_problem(value) if value else None
        if problem:
            raise _problem("url", problem)
        return value

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str) -> str:
        if value and not _TENANT.match(value):
            raise _problem("tenant", "must be a directory (tenant) ID such as a GUID or a domain name")
        return value

    @field_validator("tls_trusted_ca", mode="before")
    @classmethod
    def _ca(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            from cryptography import x509  # here: only a CA to check needs it loaded

            try:
                x509.load_pem_x509_certificates(value.encode())
            except ValueError:
                raise _problem("pem", "must be one or more PEM certificates") from None
        return value

    @field_validator("connect_timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if not 1 <= value <= 600:
            raise _problem("timeout", "must be a number of seconds from 1 to 600")
        return value

    @field_validator("max_connections")
    @classmethod
    def _connections(cls, value: int) -> int:
        if not 1 <= value <= 20:
            raise _problem("connections", "must be a whole number from 1 to 20")
        return value

    @field_validator("messages_per_minute")
    @classmethod
    def _rate(cls, value: int) -> int:
        if not 0 <= value <= 100_000:
            raise _problem("rate", "must be a whole number from 0 (no limit) to 100000")
        return value


def _combination_problems(s: MailSettings) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if s.email_type == "smtp" and not s.hostname:
        found.append(("hostname", "is required when the E-mail Type is SMTP"))
    if s.auth_type == "oauth2":
        if s.email_type != "smtp":
            found.append(("email_type", "must be SMTP (smtp): OAuth2 works only with an SMTP relay"))
        if s.oauth_provider is None:
            found.append(
                (
                    "oauth_provider",
                    "is required with OAuth2: Microsoft 365 (microsoft), Google (google) or Custom (custom)",
                )
            )
        if not s.client_id:
            found.append(("client_id", "is required with OAuth2"))
        if s.oauth_provider == "microsoft" and not s.tenant_id:
            found.append(("tenant_id", "is required for Microsoft 365"))
        for field in ("authorization_endpoint", "token_endpoint", "scopes"):
            if not getattr(s, field):
                found.append((field, "is required with OAuth2"))
        if not s.username:
            found.append(("username", "is required with OAuth2: the mailbox that sends"))
        if s.encryption == "none":
            found.append(
                ("encryption", "must be TLS or STARTTLS with OAuth2: an access token never crosses in clear")
            )
        found.extend(_grant_problems(s))
    if sends_password_in_clear(s) and not s.allow_plaintext_auth:
        found.append(("encryption", "must be tls or starttls with a password; or set allow_plaintext_auth"))
    if s.auth_type == "basic" and s.email_type == "smtp":
        if not s.username:
            found.append(("username", "is required with username and password authentication"))
        if s.password is None or not s.password.get_secret_value():
            found.append(("password", "is required with username and password authentication"))
    return found


def _grant_problems(s: MailSettings) -> list[tuple[str, str]]:
    if s.oauth_grant != "client_credentials":
        return []
    found: list[tuple[str, str]] = []
    if s.oauth_provider == "google":
        found.append(("oauth_grant", "App-only (client_credentials) is not available for Google SMTP"))
    if s.client_secret is None or not s.client_secret.get_secret_value():
        found.append(("client_secret", "is required for app-only (client_credentials) sending"))
    return found


FIELD_NAMES: tuple[str, ...] = tuple(MailSettings.model_fields)


def _email(value: str, *, named: bool = False) -> str:
    try:
        return normalize_address(value)
    except AddressError as exc:
        which = f"{value!r} " if named else ""
        raise _problem("email", f"{which}is not a valid e-mail address ({exc})") from None


def _host(value: str) -> str:
    candidate = value.strip("[]")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if len(value) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise _problem("hostname", "must be a host name or an IP address")
    if labels[-1].isdigit():
        raise _problem("hostname", "must be a host name or an IP address")
    return value.lower()


# --- building and updating ---------------------------------------------------------------------


def validate_settings(data: Mapping[str, Any]) -> MailSettings:
    """Build valid settings from plain data, or raise one error naming every bad field."""
    unknown = sorted(set(data) - set(FIELD_NAMES))
    if unknown:
        raise SettingsValidationError([FieldError(name, "is not a mail setting") for name in unknown])
    try:
        settings = MailSettings.model_validate(dict(data))
    except ValidationError as exc:
        raise SettingsValidationError(_field_errors(exc) + _combination_errors(data, exc)) from None
    extra = _combination_problems(settings)
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
    return [FieldError(f, m) for f, m in _combination_problems(partial) if f not in bad]


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
    merged.update(_preset_fill(current, merged, changes))
    return validate_settings(merged)


def _preset_fill(
    current: MailSettings, merged: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    provider = merged.get("oauth_provider")
    if merged.get("auth_type") != "oauth2" or provider not in PRESETS:
        return {}
    newly_chosen = provider != current.oauth_provider or current.auth_type != "oauth2"
    fill: dict[str, Any] = {}
    preset = dict(PRESETS[provider])
    if provider == "microsoft":
        tenant = merged.get("tenant_id") or "{tenant}"
        preset["authorization_endpoint"] = MICROSOFT_AUTHORIZE.format(tenant=tenant)
        preset["token_endpoint"] = MICROSOFT_TOKEN.format(tenant=tenant)
    for name, value in preset.items():
        follows_tenant = provider == "microsoft" and name.endswith("_endpoint")
        # Only an empty field is filled: 0 is a choice (Microsoft's messages_per_minute=0, no limit).
        if name not in changes and (newly_chosen or follows_tenant or merged.get(name) in (None, "")):
            fill[name] = value
    if newly_chosen:
        fill |= _left_by_previous_preset(current, preset, changes)
    if provider in ("microsoft", "google") and "email_type" not in changes:
        fill["email_type"] = "smtp"
    return fill


def _preset_of(settings: MailSettings) -> dict[str, Any]:
    if settings.auth_type != "oauth2" or settings.oauth_provider not in PRESETS:
        return {}
    preset = dict(PRESETS[settings.oauth_provider])
    if settings.oauth_provider == "microsoft":
        tenant = settings.tenant_id or "{tenant}"
        preset["authorization_endpoint"] = MICROSOFT_AUTHORIZE.format(tenant=tenant)
        preset["token_endpoint"] = MICROSOFT_TOKEN.format(tenant=tenant)
    return preset


def _left_by_previous_preset(
    current: MailSettings, preset: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Switching provider clears what the previous provider's preset filled and the new one does
    not (Microsoft's host and endpoints never linger under Custom); values the admin typed stay."""
    defaults = MailSettings.model_fields
    return {
        name: defaults[name].default
        for name, value in _preset_of(current).items()
        if name not in preset and name not in changes and getattr(current, name) == value
    }


def _plain(settings: MailSettings) -> dict[str, Any]:
    data = {name: getattr(settings, name) for name in FIELD_NAMES}
    data["admin_contacts"] = list(settings.admin_contacts)
    return data


def settings_snapshot(settings: MailSettings) -> dict[str, Any]:
    """What Mail Server Logs keep of the settings in force: never a secret.

    Basic entries: hostname, port, username, encryption. OAuth entries add tenant ID, client ID and
    redirect URI, as the seed lists them.
    """
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
