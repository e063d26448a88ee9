"""Support-hours calendars: when a desk works, so targets count working time, not wall time.

A calendar is a time zone, weekdays, one or more intervals per day, the public
holidays of a country (the `holidays` package: CZ and SK as it defines them),
extra closed dates (24 December) and extra open ones (a Saturday before a
release). "24/7" is a calendar too: every day, 00:00-24:00, no holidays.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
    # working time from the first day asked about to the start of each day since asked (between())
    _prefix: _Prefix = field(default_factory=lambda: _Prefix(), compare=False, hash=False, repr=False)

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
            yield from _day_spans(self, day)
            day += _DAY

    def add(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of working time after `start` have passed (UTC).

        The day the time runs out on is found by bisecting the running total (the escalation job
        asks this for the warning moment of every open ticket, months ahead); that day is walked.
        """
        left = timedelta(hours=hours)
        if left <= timedelta(0):
            return start.astimezone(UTC)
        first = start.astimezone(self.tz).date()
        today = self._clipped(first, start, _midnight(self, first + _DAY))
        if today >= left:
            return self._within(first, start, left)
        if not self._prefix.covers(first, first + _DAY):
            return self._add_walk(start, hours)
        origin = self._prefix.before(self, first + _DAY) - today

        def behind(day: date) -> timedelta:  # working time from start to the beginning of `day` (day > first)
            return self._prefix.before(self, day) - origin

        lo, hi = first + _DAY, first + 2 * _DAY  # behind(lo) < left <= behind(hi), once hi is far enough
        while behind(hi) < left:
            if (hi - first).days >= MAX_DAYS or not self._prefix.covers(first, hi + (hi - first)):
                return self._add_walk(start, hours)
            lo, hi = hi, hi + (hi - first)
        while (hi - lo).days > 1:
            mid = lo + (hi - lo) // 2
            lo, hi = (mid, hi) if behind(mid) < left else (lo, mid)
        return self._within(lo, start, left - behind(lo))

    def _within(self, day: date, start: datetime, left: timedelta) -> datetime:
        """The moment `left` of working time has passed on `day` (counted from `start` if it is later)."""
        moment = _run_out(_day_spans(self, day), start, left)
        if moment is None:
            raise AssertionError(f"{day}: less working time than the running total says")
        return moment

    def _add_walk(self, start: datetime, hours: float) -> datetime:
        """add() a span at a time, at most MAX_DAYS days (the reference the bisection must match)."""
        if hours <= 0:
            return start.astimezone(UTC)
        moment = _run_out(self._spans(start), start, timedelta(hours=hours))
        return moment or (start + timedelta(hours=hours)).astimezone(UTC)  # no working time in ten years: wall time

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (zero when end is not after start).

        The first and last day are clipped; the days between come from a running total, so the
        escalation job, which asks this for every open ticket every minute over the months from its
        creation to its targets, pays two lookups instead of a walk over every day.
        """
        if end <= start:
            return timedelta(0)
        day, last = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        if (last - day).days >= MAX_DAYS or not self._prefix.covers(day, last):
            return self._walk(start, end)
        total = self._clipped(day, start, end)
        if last > day:
            total += self._prefix.before(self, last) - self._prefix.before(self, day + _DAY)
            total += self._clipped(last, start, end)
        return total

    def _clipped(self, day: date, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        for a, b in _day_spans(self, day):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += hi - lo
        return total

    def _walk(self, start: datetime, end: datetime) -> timedelta:
        """between() a day at a time, at most MAX_DAYS of them (the reference the running total must match)."""
        total = timedelta(0)
        for a, b in self._spans(start):
            if a >= end:
                break
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += hi - lo
        return total


class _Prefix:
    """Working time from an anchor day to the start of each later (or earlier) day, grown a day at a time.

    It spans at most 2 * MAX_DAYS days; between() walks day by day for anything outside that.
    """

    def __init__(self) -> None:
        self.lo: date | None = None
        self.hi: date | None = None
        self.at: dict[date, timedelta] = {}

    def covers(self, first: date, last: date) -> bool:
        if self.lo is None or self.hi is None:
            return True
        return (max(self.hi, last) - min(self.lo, first)).days < 2 * MAX_DAYS

    def before(self, cal: Calendar, day: date) -> timedelta:
        if self.lo is None or self.hi is None:
            self.lo = self.hi = day
            self.at[day] = timedelta(0)
        while day > self.hi:
            self.at[self.hi + _DAY] = self.at[self.hi] + _day_total(cal, self.hi)
            self.hi += _DAY
        while day < self.lo:
            self.at[self.lo - _DAY] = self.at[self.lo] - _day_total(cal, self.lo - _DAY)
            self.lo -= _DAY
        return self.at[day]


@functools.lru_cache(maxsize=8192)
def _day_spans(cal: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The working spans (aware, local) of one local date; cached, as calendars are values."""
    if not cal.works_on(day):
        return ()
    # wall-clock minutes, so a 09:00-18:00 day stays 09:00-18:00 across a DST change
    return tuple(((datetime.combine(day, time(0)) + timedelta(minutes=a)).replace(tzinfo=cal.tz),
                  (datetime.combine(day, time(0)) + timedelta(minutes=b)).replace(tzinfo=cal.tz))
                 for a, b in cal.intervals)


def _run_out(spans: Iterable[tuple[datetime, datetime]], start: datetime, left: timedelta) -> datetime | None:
    """The moment `left` of working time in these spans has passed, counted from `start`; None if they
    hold less."""
    for a, b in spans:
        begin = max(a, start)
        if b <= begin:
            continue
        if begin + left <= b:
            return (begin + left).astimezone(UTC)
        left -= b - begin
    return None


def _midnight(cal: Calendar, day: date) -> datetime:
    return datetime.combine(day, time(0)).replace(tzinfo=cal.tz)


@functools.lru_cache(maxsize=8192)
def _day_total(cal: Calendar, day: date) -> timedelta:
    return sum((b - a for a, b in _day_spans(cal, day)), timedelta(0))


def calendars(all_hours: tuple[Hours, ...]) -> dict[str, Calendar]:
    """Every configured calendar by name."""
    return {h.name: Calendar.of(h) for h in all_hours}
