"""Support-hours calendars: when a desk works, so targets count working time, not wall time.

A calendar is a time zone, weekdays, one or more intervals per day, the public
holidays of a country (the `holidays` package: CZ and SK as it defines them),
extra closed dates (24 December) and extra open ones (a Saturday before a
release). "24/7" is a calendar too: every day, 00:00-24:00, no holidays.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from maildesk.config import WEEKDAYS, Hours

_DAY = timedelta(days=1)
MAX_DAYS = 3660  # ten years of days: a safety bound for a calendar with (almost) no working time


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


@functools.lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year)) if country else frozenset()


@dataclass(frozen=True)
class Calendar:
    """Working time of one [[hours]] calendar."""

    name: str
    tz: ZoneInfo
    days: frozenset[int]
    intervals: tuple[tuple[int, int], ...]  # minutes from midnight, [start, end)
    country: str
    closed: frozenset[date]
    opened: frozenset[date]

    @classmethod
    def of(cls, hours: Hours) -> Calendar:
        spans = hours.intervals or [f"{hours.start}-{hours.end}"]
        return cls(hours.name, ZoneInfo(hours.timezone), frozenset(WEEKDAYS.index(d) for d in hours.days),
                   tuple(sorted((_minutes(s.split("-")[0]), _minutes(s.split("-")[1])) for s in spans)),
                   hours.country, frozenset(date.fromisoformat(d) for d in hours.closed),
                   frozenset(date.fromisoformat(d) for d in hours.open))

    def works_on(self, day: date) -> bool:
        """Does the desk work on this (local) date at all?"""
        if day in self.opened:
            return True
        if day in self.closed or day.weekday() not in self.days:
            return False
        return day not in _holidays(self.country, day.year)

    def _spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working spans (aware, local) from the day of `start` on, in order."""
        day = start.astimezone(self.tz).date()
        for _ in range(MAX_DAYS):
            if self.works_on(day):
                midnight = datetime.combine(day, time(0), self.tz)
                for a, b in self.intervals:
                    # wall-clock minutes, so a 09:00-18:00 day stays 09:00-18:00 across a DST change
                    yield (self._at(midnight, a), self._at(midnight, b))
            day += _DAY

    def _at(self, midnight: datetime, minutes: int) -> datetime:
        local = datetime.combine(midnight.date(), time(0)) + timedelta(minutes=minutes)
        return local.replace(tzinfo=self.tz)

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of working time after `start` have passed (UTC)."""
        left = timedelta(hours=hours)
        if left <= timedelta(0):
            return start.astimezone(UTC)
        for a, b in self._spans(start):
            if b <= start:
                continue
            begin = max(a, start)
            if begin + left <= b:
                return (begin + left).astimezone(UTC)
            left -= b - begin
        return (start + timedelta(hours=hours)).astimezone(UTC)  # no working time in ten years: wall time

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (zero when end is not after start)."""
        total = timedelta(0)
        if end <= start:
            return total
        for a, b in self._spans(start):
            if a >= end:
                break
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += hi - lo
        return total


def calendars(all_hours: tuple[Hours, ...]) -> dict[str, Calendar]:
    """Every configured calendar by name."""
    return {h.name: Calendar.of(h) for h in all_hours}
