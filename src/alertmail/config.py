"""Process configuration, read once from the environment (`ALERTMAIL_*`) and passed explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AppConfig"]


class AppConfig(BaseSettings):
    """Where alertmail keeps its data and how it reaches its database.

    Nothing reads the environment at import time: build one with `AppConfig()` in the composition
    root (or pass values in tests) and hand it down.
    """

    model_config = SettingsConfigDict(env_prefix="ALERTMAIL_", extra="ignore")

    data_dir: Path = Field(default=Path("./alertmail-data"))
    database_url: str = ""
    secret_key_file: Path | None = None
    public_url: str = ""
    sendmail_path: str = "/usr/sbin/sendmail"
    node_name: str = ""
    log_max_bytes: int = 5 * 1024 * 1024
    log_backups: int = 5
    oauth_refresh_margin: float = 300.0  # seconds before expiry at which an access token is refreshed
    oauth_keepalive_hours: float = 24.0  # refresh at least this often, so inactivity never kills a token

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL: SQLite in the data directory unless a URL is configured."""
        url = self.database_url or f"sqlite:///{self.data_dir.resolve() / 'alertmail.db'}"
        return to_async_url(url)

    @property
    def resolved_secret_key_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def mail_log_path(self) -> Path:
        return self.data_dir / "logs" / "mail.log"


def to_async_url(url: str) -> str:
    """Accept the URLs people write (`postgresql://`, `sqlite:///`) and name the async driver."""
    for plain, driver in (
        ("postgresql://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url.removeprefix(plain)
    return url
