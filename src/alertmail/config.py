"""Process configuration, read once from the environment (`ALERTMAIL_*`) and passed explicitly."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alertmail.config_defaults import (
    DEFAULT_DATA_DIR,
    DEFAULT_LOCAL_SUBMISSION_MAX_BYTES,
    DEFAULT_MESSAGE_LIFETIME_HOURS,
    ENV_PREFIX,
    default_database_url,
    default_secret_key_file,
    to_async_url,
)
from alertmail.domain.cluster_checks import ProbeTarget, parse_test_addresses

__all__ = ["AppConfig", "to_async_url"]


class AppConfig(BaseSettings):
    """Where alertmail keeps its data and how it reaches its database.

    Nothing reads the environment at import time: build one with `AppConfig()` in the composition
    root (or pass values in tests) and hand it down.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR)
    database_url: str = ""
    secret_key_file: Path | None = None
    public_url: str = ""
    sendmail_path: str = "/usr/sbin/sendmail"
    node_name: str = ""
    log_max_bytes: int = 5 * 1024 * 1024
    log_backups: int = 5
    oauth_refresh_margin: float = 300.0  # seconds before expiry at which an access token is refreshed
    oauth_keepalive_hours: float = 24.0  # refresh at least this often, so inactivity never kills a token
    timezone: str = ""  # the appliance's time zone (IANA name) for the daily notice; "" = the system's
    message_lifetime_hours: float = DEFAULT_MESSAGE_LIFETIME_HOURS  # then a message is dead-lettered
    coalesce_window_minutes: float = 10.0  # repeats of one event and dedupe key fold into one digest
    coalesce_max_keys: int = 10  # dedupe keys of one type mailed one by one per window
    delivery_batch_size: int = 100
    delivery_poll_seconds: float = 1.0
    delivery_lease_seconds: float = 120.0  # a claimed batch is another worker's after this long
    # While mail goes through the fallback transport, the primary is probed this often (any node).
    fallback_probe_seconds: float = Field(default=120.0, gt=0)
    worker: bool = True  # `serve` also delivers; false on a node that only serves the UI and API
    # Reverse proxies whose X-Forwarded-For and -Proto are believed ("10.0.0.5, 10.1.0.0/16"; "*":
    # any). Empty: none, so the login throttle and the Secure cookie see the real peer and scheme.
    trusted_proxies: str = ""
    # Housekeeping: sent messages and events, then Mail Server Logs, are purged daily after these;
    # /healthz is `degraded` while a message has waited on configuration or retries this long.
    retention_days: float = Field(default=30.0, gt=0)
    log_retention_days: float = Field(default=180.0, gt=0)
    stuck_after_minutes: float = Field(default=60.0, gt=0)

    # Legacy local senders: the loopback SMTP submission listener (port 0: off) and the largest
    # message it and `alertmail sendmail` accept (Exchange Online's default limit is 25 MB).
    smtp_listener_port: int = Field(default=0, ge=0, le=65535)
    smtp_listener_host: str = "127.0.0.1"
    local_submission_max_bytes: int = Field(default=DEFAULT_LOCAL_SUBMISSION_MAX_BYTES, gt=0)

    # Several nodes on one PostgreSQL (docs/cluster.md). A traffic node never becomes the primary.
    node_role: Literal["primary-capable", "traffic"] = "primary-capable"
    advertised_url: str = ""  # where the other nodes reach this one; "" = public_url
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    failover_grace_seconds: float = Field(default=15.0, ge=0)  # a primary gone this long is replaced
    automatic_failover: bool = True  # false: backups mail the admins and wait for `cluster promote`
    version_override: str = ""  # the version this node reports; for tests of a mixed-version cluster
    node_hostname: str = ""  # how the other nodes reach this host by name; "" = the system's hostname

    # The failover checks (seed 004): every node probes what concerns it this often.
    failover_check_seconds: float = Field(default=30.0, gt=0)
    failover_test_addresses: str = ""  # "host:port, host:port": a backup must reach one (TCP)
    shared_ip: str = ""  # the address that moves to the primary; it must be on one of its interfaces
    data_sync_threshold_seconds: float = Field(default=60.0, gt=0)  # longer write outages are mailed
    probe_timeout_seconds: float = Field(default=5.0, gt=0)
    cluster_ca_file: str = ""  # the CA of the nodes' HTTPS certificates; "" = the system's

    @field_validator("failover_test_addresses")
    @classmethod
    def _test_addresses(cls, value: str) -> str:
        parse_test_addresses(value)  # the ValueError names the entry; pydantic names the field
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        for entry in _entries(value):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (for example 10.0.0.5)"
                ) from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _entries(self.trusted_proxies)

    @field_validator("shared_ip")
    @classmethod
    def _shared_ip(cls, value: str) -> str:
        if value:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address (for example 192.0.2.10)") from None
        return value

    @field_validator("cluster_ca_file")
    @classmethod
    def _cluster_ca_file(cls, value: str) -> str:
        if value and not Path(value).is_file():
            raise ValueError(f"{value!r} is not a readable file (the CA of the nodes' HTTPS certificates)")
        return value

    @property
    def test_addresses(self) -> tuple[ProbeTarget, ...]:
        return parse_test_addresses(self.failover_test_addresses)

    @property
    def appliance_timezone(self) -> tzinfo:
        if self.timezone:
            return ZoneInfo(self.timezone)
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL: SQLite in the data directory unless a URL is configured."""
        return to_async_url(self.database_url or default_database_url(self.data_dir))

    @property
    def resolved_secret_key_file(self) -> Path:
        return self.secret_key_file or default_secret_key_file(self.data_dir)

    @property
    def mail_log_path(self) -> Path:
        return self.data_dir / "logs" / "mail.log"


def _entries(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]
