"""The mail settings model: every field, its type and its checks one field at a time.

Checks between fields live in `settings_rules.py`, what choosing a provider fills in lives in
`settings_presets.py`, and building and updating valid settings in `settings.py`. Secrets are
`SecretStr`, so a repr, a log line or a JSON dump of the model never shows them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from alertmail.domain.addresses import AddressError, normalize_address
from alertmail.domain.fallback import FallbackAuthType, FallbackEmailType
from alertmail.domain.transport_security import endpoint_problem

__all__ = [
    "DEFAULT_GMAIL_ENDPOINT",
    "DEFAULT_GRAPH_ENDPOINT",
    "FIELD_NAMES",
    "SECRET_FIELDS",
    "AuthType",
    "EmailType",
    "MailSettings",
]

EmailType = Literal["smtp", "native", "graph", "gmail_api"]
Encryption = Literal["none", "tls", "starttls"]
AuthType = Literal["none", "basic", "oauth2"]
OAuthProvider = Literal["microsoft", "google", "custom"]
OAuthGrant = Literal["authorization_code", "client_credentials"]

SECRET_FIELDS = frozenset({"password", "client_secret", "fallback_password", "fallback_client_secret"})
DEFAULT_GRAPH_ENDPOINT = "https://graph.microsoft.com"
DEFAULT_GMAIL_ENDPOINT = "https://gmail.googleapis.com"

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_TENANT = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|organizations|common|consumers|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$"
)


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
    device_authorization_endpoint: str = ""  # RFC 8628: sign in with a code (Microsoft: derived)
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
    # The HTTP APIs of E-mail Types graph and gmail_api: a base URL, no path (sovereign clouds differ).
    graph_endpoint: str = DEFAULT_GRAPH_ENDPOINT
    gmail_endpoint: str = DEFAULT_GMAIL_ENDPOINT
    # Sending well: at most this many connections to the relay at once, and at most this many
    # messages a minute (0: no limit), for every node together (domain/pacing.py). The Microsoft
    # preset sets Exchange Online's 3 and 30.
    max_connections: int = 3
    messages_per_minute: int = 0
    # The fallback transport (domain/fallback.py): used once the primary has failed relay-wide for
    # fallback_after_minutes, until a probe of the primary succeeds. "none": no fallback.
    fallback_email_type: FallbackEmailType = "none"
    fallback_hostname: str = ""
    fallback_port: int = 587
    fallback_encryption: Encryption = "starttls"
    fallback_auth_type: FallbackAuthType = "none"
    fallback_username: str = ""
    fallback_password: SecretStr | None = None
    # A Graph fallback signs in app-only (client credentials) with its own app, in its own tenant
    # and at its own endpoint; it sends as the mailbox fallback_username.
    fallback_graph_endpoint: str = DEFAULT_GRAPH_ENDPOINT
    fallback_tenant_id: str = ""
    fallback_client_id: str = ""
    fallback_client_secret: SecretStr | None = None
    fallback_after_minutes: int = 10

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

    @field_validator("fallback_auth_type", mode="before")
    @classmethod
    def _fallback_sign_in(cls, value: Any) -> Any:
        # The one thing a fallback cannot do is sign in as a person: say how it signs in instead.
        if value not in (None, "none", "basic"):
            raise _problem(
                "fallback_auth",
                "must be none or basic; a Graph fallback signs in app-only (client credentials) with"
                " fallback_client_id and fallback_client_secret, nothing else",
            )
        return value

    @field_validator("fallback_email_type", mode="before")
    @classmethod
    def _no_fallback(cls, value: Any) -> Any:
        return "none" if value in ("", None) else value  # an empty choice in a form or the CLI

    @field_validator("hostname", "fallback_hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        return _host(value) if value else value

    @field_validator("port", "fallback_port")
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

    @field_validator("authorization_endpoint", "token_endpoint", "device_authorization_endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        # The client secret and the grants travel to these: never in clear off this machine.
        problem = endpoint_problem(value) if value else None
        if problem:
            raise _problem("url", problem)
        return value

    @field_validator("graph_endpoint", "gmail_endpoint", "fallback_graph_endpoint")
    @classmethod
    def _api_endpoint(cls, value: str) -> str:
        # Access tokens travel to these with every message: https, or http on loopback only.
        if not value:
            raise _problem("missing", "is required: the API's base URL, e.g. " + DEFAULT_GRAPH_ENDPOINT)
        problem = endpoint_problem(value)
        if problem:
            raise _problem("url", problem)
        base = value.rstrip("/")
        if base.count("/") > 2 or "?" in base or "#" in base:
            raise _problem("url", "must be the API's base URL without a path, e.g. " + DEFAULT_GRAPH_ENDPOINT)
        return base

    @field_validator("tenant_id", "fallback_tenant_id")
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

    @field_validator("fallback_after_minutes")
    @classmethod
    def _fallback_after(cls, value: int) -> int:
        if not 1 <= value <= 1440:
            raise _problem("minutes", "must be a whole number of minutes from 1 to 1440")
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
