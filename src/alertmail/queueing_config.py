"""The few settings `alertmail sendmail` needs to queue a message, read without pydantic.

sendmail starts for every message a cron job or a script hands it; pydantic and pydantic-settings
cost more to import than the queueing itself. So the values queueing needs are read from the same
`ALERTMAIL_*` environment, with the names, defaults and paths AppConfig uses (config_defaults.py).

Whatever this reader is not sure AppConfig would accept exactly as read (an unexpected variable,
a number in another spelling, an empty path) makes it answer None, and the command then reads
the whole configuration with AppConfig, which says what is wrong (exit 78). A test holds the two
readers equal on the same environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alertmail.config_defaults import (
    DEFAULT_DATA_DIR,
    DEFAULT_LOCAL_SUBMISSION_MAX_BYTES,
    DEFAULT_MESSAGE_LIFETIME_HOURS,
    ENV_PREFIX,
    default_database_url,
    default_secret_key_file,
)

__all__ = ["FREE_TEXT_SETTINGS", "QueueingConfig", "queueing_config"]

# AppConfig's settings that take any text, unchecked: whatever they hold, AppConfig starts.
FREE_TEXT_SETTINGS = frozenset(
    {
        "public_url",
        "sendmail_path",
        "node_name",
        "timezone",
        "advertised_url",
        "version_override",
        "node_hostname",
        "smtp_listener_host",
    }
)
_USED = frozenset(
    {"data_dir", "database_url", "secret_key_file", "message_lifetime_hours", "local_submission_max_bytes"}
)
# Numbers in their plainest spelling only: any other is left to pydantic to accept or refuse.
_WHOLE = re.compile(r"[1-9][0-9]{0,15}")
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")


@dataclass(frozen=True)
class QueueingConfig:
    """AppConfig's values of the same names (see there)."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    secret_key_file: Path | None = None
    message_lifetime_hours: float = DEFAULT_MESSAGE_LIFETIME_HOURS
    local_submission_max_bytes: int = DEFAULT_LOCAL_SUBMISSION_MAX_BYTES

    @property
    def resolved_database_url(self) -> str:
        """The database's URL as configured (`postgresql://...`), or SQLite in the data directory."""
        return self.database_url or default_database_url(self.data_dir)

    @property
    def resolved_secret_key_file(self) -> Path:
        return self.secret_key_file or default_secret_key_file(self.data_dir)


def queueing_config(environ: Mapping[str, str]) -> QueueingConfig | None:
    """The settings queueing needs, from `environ`; None when only AppConfig can tell."""
    values = _alertmail_variables(environ)
    if values is None or not values.keys() <= _USED | FREE_TEXT_SETTINGS:
        return None
    paths = {name: values[name] for name in ("data_dir", "secret_key_file") if name in values}
    hours = values.get("message_lifetime_hours", str(DEFAULT_MESSAGE_LIFETIME_HOURS))
    max_bytes = values.get("local_submission_max_bytes", str(DEFAULT_LOCAL_SUBMISSION_MAX_BYTES))
    if "" in paths.values() or not _DECIMAL.fullmatch(hours) or not _WHOLE.fullmatch(max_bytes):
        return None
    return QueueingConfig(
        data_dir=Path(paths.get("data_dir", DEFAULT_DATA_DIR)),
        database_url=values.get("database_url", ""),
        secret_key_file=Path(paths["secret_key_file"]) if "secret_key_file" in paths else None,
        message_lifetime_hours=float(hours),
        local_submission_max_bytes=int(max_bytes),
    )


def _alertmail_variables(environ: Mapping[str, str]) -> dict[str, str] | None:
    """`ALERTMAIL_*` by setting name; names match in any case, as pydantic-settings matches them
    (None when two spellings of one name are set: which one it takes is its business)."""
    found: dict[str, str] = {}
    for name, value in environ.items():
        if name.upper().startswith(ENV_PREFIX):
            setting = name[len(ENV_PREFIX) :].lower()
            if setting in found:
                return None
            found[setting] = value
    return found
