"""The daily notice over a year of ticks on a fake clock, in zones with and without DST.

The scheduler runs with fakes of its ports: the notifications fake keeps the claims as the database
does (one per job and period) and counts what it raised. Hypothesis picks the zone, the time of day
(the DST hours included, where a time does not exist or occurs twice), the grace and the tick.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertmail.domain.schedule import RunClaim, daily_notice_due, scheduled_instant
from alertmail.domain.settings import MailSettings
from alertmail.services.scheduler import Scheduler

# New York and Berlin shift by an hour at 02:00 local; Lord Howe by half an hour; Kolkata never.
ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Notifications:
    claims: set[tuple[str, str]] = field(default_factory=set)
    raised: list[tuple[str, datetime]] = field(default_factory=list)  # (period, when)

    async def raise_once(self, claim: RunClaim, event_type: str, details: Any, **_: Any) -> object | None:
        if (claim.job, claim.period) in self.claims:
            return None
        self.claims.add((claim.job, claim.period))
        self.raised.append((claim.period, claim.at))
        return claim


class Outbox:
    async def counts(self) -> dict[str, int]:
        return dict.fromkeys(("queued", "retry_wait", "sending", "waiting_config", "dead"), 0)


def scheduler(zone: ZoneInfo, clock: Clock, notifications: Notifications, grace: timedelta) -> Scheduler:
    return Scheduler(
        None,  # type: ignore[arg-type]  (settings, keep-alive and tokens: not used by the notice)
        notifications,  # type: ignore[arg-type]
        Outbox(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        timezone=zone,
        node="n1",
        daily_grace=grace,
        clock=clock,
    )


async def run_year(zone: ZoneInfo, at: str, grace: timedelta, tick: timedelta) -> Notifications:
    clock, notifications = Clock(), Notifications()
    job = scheduler(zone, clock, notifications, grace)
    notice = MailSettings(daily_notice=True, daily_notice_time=at)
    while clock.now < START + timedelta(days=366):
        await job.daily_notice(notice)
        clock.now += tick
    return notifications


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    hour=st.sampled_from([0, 1, 2, 3, 8, 23]),
    minute=st.sampled_from([0, 15, 30, 45, 59]),
    grace_minutes=st.sampled_from([30, 60, 120]),
    tick_minutes=st.integers(min_value=4, max_value=29),
)
async def test_one_notice_a_day_for_a_year_inside_its_window(
    zone: str, hour: int, minute: int, grace_minutes: int, tick_minutes: int
) -> None:
    tz, at = ZoneInfo(zone), f"{hour:02d}:{minute:02d}"
    grace, tick = timedelta(minutes=grace_minutes), timedelta(minutes=tick_minutes)
    notifications = await run_year(tz, at, grace, tick)

    per_day = Counter(period for period, _ in notifications.raised)
    assert set(per_day.values()) == {1}
    first, last = START.astimezone(tz).date(), (START + timedelta(days=365)).astimezone(tz).date()
    days = {first + timedelta(days=n) for n in range(1, (last - first).days)}
    assert days <= {date.fromisoformat(period) for period in per_day}  # not one day missed
    for period, when in notifications.raised:
        start = scheduled_instant(date.fromisoformat(period), at, tz)
        assert start <= when < start + grace
        assert when < max(start, START) + tick  # the first tick inside the window sends it


def test_a_window_that_crosses_midnight_is_still_open_after_it() -> None:
    paris, hour = ZoneInfo("Europe/Paris"), timedelta(hours=1)
    five_past = datetime(2026, 11, 22, 0, 5, tzinfo=paris)
    assert daily_notice_due(five_past, "23:30", paris, hour) == date(2026, 11, 21)
    assert daily_notice_due(five_past + hour, "23:30", paris, hour) is None


def test_a_time_that_does_not_exist_is_due_once_just_after_the_gap() -> None:
    new_york, hour = ZoneInfo("America/New_York"), timedelta(hours=1)
    spring = date(2026, 3, 8)  # 02:00 EST becomes 03:00 EDT
    start = scheduled_instant(spring, "02:30", new_york)
    assert start == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert daily_notice_due(start - timedelta(seconds=1), "02:30", new_york, hour) is None
    assert daily_notice_due(start, "02:30", new_york, hour) == spring


def test_a_time_that_occurs_twice_is_due_from_its_first_occurrence_for_the_grace_only() -> None:
    new_york, grace = ZoneInfo("America/New_York"), timedelta(minutes=30)
    autumn = date(2026, 11, 1)  # 02:00 EDT becomes 01:00 EST: 01:30 comes twice
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert scheduled_instant(autumn, "01:30", new_york) == first
    assert daily_notice_due(first + timedelta(minutes=29), "01:30", new_york, grace) == autumn
    # An hour later the wall clock reads 01:30 again; in real time the window closed long ago.
    assert daily_notice_due(first + timedelta(hours=1), "01:30", new_york, grace) is None


@settings(max_examples=30, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)),
)
def test_due_means_inside_the_window_of_the_day_it_names(zone: str, moment: datetime) -> None:
    tz, grace = ZoneInfo(zone), timedelta(hours=1)
    now = moment.replace(tzinfo=UTC)
    due = daily_notice_due(now, "02:30", tz, grace)
    if due is not None:
        start = scheduled_instant(due, "02:30", tz)
        assert start <= now < start + grace
