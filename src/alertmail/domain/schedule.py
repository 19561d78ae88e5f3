"""When the daily notice is due, and the claim that makes a scheduled job run once cluster-wide.

The notice's time of day is a wall-clock time in the appliance's time zone, turned into an instant
before anything is compared: two aware datetimes of one zone compare by their wall-clock fields
(PEP 495), which on a DST day would stretch or shrink the grace window by the shift.

- A time that does not exist that day (02:30 on a spring-forward night) is read as zoneinfo reads
  it (fold=0, the offset before the change): it falls just after the gap, 03:30 summer time.
- A time that occurs twice (01:30 on a fall-back night) means its first occurrence.
- The window is `[scheduled, scheduled + grace)` in real time, and may end the next day: a 23:30
  notice is still due at 00:05 (with the default hour of grace) and counts for the day it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = ["AlreadyClaimedError", "RunClaim", "daily_notice_due", "scheduled_instant"]


@dataclass(frozen=True)
class RunClaim:
    """A scheduled job's run for one period (a date, an incident), claimed by `node` at `at`."""

    job: str
    period: str
    node: str
    at: datetime


class AlreadyClaimedError(Exception):
    """Some node has already run this job for this period: nothing was written."""


def scheduled_instant(day: date, at: str, timezone: tzinfo) -> datetime:
    """The instant (UTC) that the wall-clock time `at` ("HH:MM") stands for on `day` in `timezone`."""
    hour, minute = (int(part) for part in at.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=timezone).astimezone(UTC)


def daily_notice_due(now: datetime, at: str, timezone: tzinfo, grace: timedelta) -> date | None:
    """The local date whose notice is due at `now`, or None: due from `at` until `at + grace`.

    Yesterday is looked at too, so a window that crosses midnight is not cut short.
    """
    today = now.astimezone(timezone).date()
    for day in (today, today - timedelta(days=1)):
        start = scheduled_instant(day, at, timezone)
        if start <= now < start + grace:
            return day
    return None
