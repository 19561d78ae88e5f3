"""The names and defaults of the configuration that more than one reader needs.

`AppConfig` (config.py, pydantic-settings) reads the whole configuration; `alertmail sendmail`
reads the few values queueing needs without pydantic (queueing_config.py). Both take the
environment's names, the defaults and the derived paths from here, so they cannot disagree.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DEFAULT_DATA_DIR",
    "DEFAULT_LOCAL_SUBMISSION_MAX_BYTES",
    "DEFAULT_MESSAGE_LIFETIME_HOURS",
    "ENV_PREFIX",
    "default_database_url",
    "default_secret_key_file",
    "to_async_url",
]

ENV_PREFIX = "ALERTMAIL_"
DEFAULT_DATA_DIR = Path("./alertmail-data")
DEFAULT_MESSAGE_LIFETIME_HOURS = 48.0  # a message not delivered by then is dead-lettered
# The largest message `alertmail sendmail` and the listener accept (Exchange Online's default limit).
DEFAULT_LOCAL_SUBMISSION_MAX_BYTES = 25 * 1024 * 1024


def default_database_url(data_dir: Path) -> str:
    """SQLite in the data directory: the database when no URL is configured."""
    return f"sqlite:///{data_dir.resolve() / 'alertmail.db'}"


def default_secret_key_file(data_dir: Path) -> Path:
    return data_dir / "secret.key"


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
