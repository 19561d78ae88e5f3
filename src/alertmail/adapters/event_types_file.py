"""The host application's own event types, from a JSON file (`<data dir>/event-types.json`).

    [{"name": "backup.failed", "title": "Backup failed", "severity": "critical",
      "summary": "Last night's backup did not complete.", "action": "Check the backup target.",
      "fields": {"job": "nightly"}}]

Every process reads the same file, so a type added there is known to the API, the CLI and the
worker alike. Its e-mails use the shared templates unless `templates/events/<name>.*.j2` exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alertmail.domain.event_catalog import EventType

__all__ = ["EventTypesFileError", "load_event_types"]


class EventTypesFileError(ValueError):
    """The file is not a list of valid event types; the message names the entry and the problem."""


def load_event_types(path: Path) -> list[EventType]:
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EventTypesFileError(f"{path}: not readable JSON: {exc}") from None
    if not isinstance(entries, list):
        raise EventTypesFileError(f"{path}: must hold a JSON list of event types")
    return [_event_type(path, index, entry) for index, entry in enumerate(entries)]


def _event_type(path: Path, index: int, entry: Any) -> EventType:
    if not isinstance(entry, dict):
        raise EventTypesFileError(f"{path}: entry {index} must be an object")
    try:
        return EventType(
            name=str(entry["name"]),
            title=str(entry["title"]),
            severity=entry.get("severity", "warning"),
            summary=str(entry["summary"]),
            action=str(entry.get("action", "")),
            fields={str(k): str(v) for k, v in dict(entry.get("fields", {})).items()},
            builtin=False,
        )
    except KeyError as missing:
        raise EventTypesFileError(f"{path}: entry {index} needs {missing.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise EventTypesFileError(f"{path}: entry {index}: {exc}") from None
