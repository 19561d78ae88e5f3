"""Events as raised and recorded: their details checked, their coalescing windows, their digests.

An event is raised by one of the appliance's components (or by alertmail itself), recorded, and
mailed to the admin contacts. Repeats of one type and dedupe key inside a coalescing window fold
into one digest (see `coalescing_bucket`). Everything here is pure: no I/O, no clock.

What kinds of events exist and how each is worded is the catalog (`event_catalog.py`); its names
are re-exported here, where they were before the catalog had a module of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from alertmail.domain.event_catalog import (
    BUILTIN_EVENT_TYPES,
    EventCatalog,
    EventType,
    Severity,
    UnknownEventTypeError,
)
from alertmail.errors import FieldError, SettingsValidationError

__all__ = [
    "BUILTIN_EVENT_TYPES",
    "DIGEST_LISTED",
    "MAX_DETAILS_BYTES",
    "Digest",
    "DigestWindow",
    "Disposition",
    "Event",
    "EventCatalog",
    "EventRecorded",
    "EventType",
    "RenderedMail",
    "Severity",
    "StoredEvent",
    "TemplateFailure",
    "UnknownEventTypeError",
    "coalescing_bucket",
    "validate_dedupe_key",
    "validate_details",
]

DetailValue = str | int | float | bool | None

MAX_DETAILS = 50  # keys
MAX_DETAIL_KEY = 64  # characters
MAX_DETAIL_VALUE = 4000  # characters of one string value
MAX_DETAILS_BYTES = 16 * 1024  # the whole details object as JSON
MAX_DEDUPE_KEY = 200
DIGEST_LISTED = 20  # dedupe keys a digest lists one by one; the rest are counted
DETAIL_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
_DETAIL_KEY = re.compile(DETAIL_KEY_PATTERN)


@dataclass(frozen=True)
class Event:
    """One occurrence, as received. `details` is validated (`validate_details`)."""

    id: str
    event_type: str
    details: Mapping[str, DetailValue]
    dedupe_key: str
    source: str
    received_at: datetime
    node: str = ""


@dataclass(frozen=True)
class DigestWindow:
    """One dedupe key's repeats in a window that were not mailed one by one."""

    dedupe_key: str
    coalesced: int
    first_at: datetime
    last_at: datetime
    details: Mapping[str, DetailValue]  # the latest event's


@dataclass(frozen=True)
class Digest:
    """The repeats of one type in one window, mailed as one message when the window ends."""

    event_type: str
    window_start: datetime
    window_end: datetime
    windows: tuple[DigestWindow, ...]  # the busiest first, at most `DIGEST_LISTED`
    more_windows: int  # dedupe keys left out of the listing
    total: int  # events summed up, listed or not

    @property
    def first_at(self) -> datetime:
        return min(w.first_at for w in self.windows)

    @property
    def last_at(self) -> datetime:
        return max(w.last_at for w in self.windows)


@dataclass(frozen=True)
class TemplateFailure:
    """A custom template that could not render; the built-in one was used in its place."""

    template: str
    error: str


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    template_failures: tuple[TemplateFailure, ...] = ()


Disposition = Literal["mailed", "coalesced", "no_recipients"]


@dataclass(frozen=True)
class EventRecorded:
    event_id: str
    disposition: Disposition
    outbox_id: str | None  # the e-mail queued for it now; None when coalesced or not mailed
    repeats: int  # events of this type and key in the current window, this one included


@dataclass(frozen=True)
class StoredEvent:
    event: Event
    disposition: str
    outbox_id: str | None


def validate_details(details: Any) -> dict[str, DetailValue]:
    """A flat object of short scalar values, or `SettingsValidationError` naming each problem.

    Flat and scalar on purpose: details are printed into an e-mail and a table, and a size limit
    keeps one noisy component from filling the database or a mailbox.
    """
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise SettingsValidationError([FieldError("details", "must be an object of key/value pairs")])
    problems: list[FieldError] = []
    if len(details) > MAX_DETAILS:
        problems.append(FieldError("details", f"must have at most {MAX_DETAILS} keys"))
    for key, value in details.items():
        problems.extend(_detail_problems(key, value))
    if not problems and len(json.dumps(dict(details), default=str)) > MAX_DETAILS_BYTES:
        problems.append(FieldError("details", f"must be at most {MAX_DETAILS_BYTES} bytes as JSON"))
    if problems:
        raise SettingsValidationError(problems)
    return dict(details)


def _detail_problems(key: Any, value: Any) -> list[FieldError]:
    if not isinstance(key, str) or not _DETAIL_KEY.match(key) or len(key) > MAX_DETAIL_KEY:
        return [
            FieldError(
                f"details.{key}",
                f"key must be a name of at most {MAX_DETAIL_KEY} letters, digits, '_', '.' or '-'",
            )
        ]
    if value is not None and not isinstance(value, str | int | float | bool):
        return [FieldError(f"details.{key}", "must be a string, a number, true/false or null")]
    if isinstance(value, str) and len(value) > MAX_DETAIL_VALUE:
        return [FieldError(f"details.{key}", f"must be at most {MAX_DETAIL_VALUE} characters")]
    if isinstance(value, str) and "\x00" in value:  # PostgreSQL cannot store it; no e-mail may hold it
        return [FieldError(f"details.{key}", "must not contain a NUL character")]
    return []


def validate_dedupe_key(key: str | None) -> str:
    if key is None:
        return ""
    if len(key) > MAX_DEDUPE_KEY or any(ord(c) < 32 for c in key):
        raise SettingsValidationError(
            [FieldError("dedupe_key", f"must be at most {MAX_DEDUPE_KEY} characters, no control characters")]
        )
    return key


def coalescing_bucket(at: datetime, window: timedelta) -> tuple[datetime, datetime]:
    """The fixed window `at` falls in: (start, end). Fixed buckets, so every node agrees on them.

    The first event of a type and dedupe key in a bucket is mailed at once; its repeats in the same
    bucket are counted and mailed as one digest when the bucket ends. So one key costs at most two
    e-mails per window, however many times it fires.
    """
    seconds = window.total_seconds()
    if seconds <= 0:
        raise ValueError("the coalescing window must be positive")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    start = epoch + timedelta(seconds=(at - epoch).total_seconds() // seconds * seconds)
    return start, start + window
