"""Support-hours calendars without servers: holidays, intervals, closed and open dates, 24/7, DST."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from maildesk.config import Hours
from maildesk.decide.calendar import MAX_DAYS, Calendar

PRAGUE = ZoneInfo("Europe/Prague")
CZ = Calendar.of(Hours(name="cz", timezone="Europe/Prague", start="09:00", end="18:00", country="CZ"))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=PRAGUE)  # type: ignore[misc]


def test_easter_thursday_evening_with_eight_hours_is_due_on_tuesday():
    # Thursday 2 April 2026 17:30: 30 minutes that day; Good Friday, the weekend and Easter Monday are closed.
    due = CZ.add(local(2026, 4, 2, 17, 30), 8)
    assert due.astimezone(PRAGUE) == local(2026, 4, 7, 16, 30)


def test_czech_and_slovak_holidays_as_the_package_defines_them():
    sk = Calendar.of(Hours(name="sk", timezone="Europe/Bratislava", country="SK"))
    assert not CZ.works_on(local(2026, 11, 17).date())  # Struggle for Freedom and Democracy Day
    assert not CZ.works_on(local(2026, 7, 6).date()) and not CZ.works_on(local(2026, 12, 24).date())
    assert CZ.works_on(local(2026, 1, 6).date()) and not sk.works_on(local(2026, 1, 6).date())  # Epiphany: SK only
    assert not sk.works_on(local(2026, 8, 29).date())  # Slovak National Uprising


def test_several_intervals_a_day_and_closed_and_open_dates():
    cal = Calendar.of(Hours(name="x", timezone="Europe/Prague", intervals=["09:00-12:00", "13:00-18:00"],
                            closed=["2026-11-20"], open=["2026-11-21"]))
    assert cal.add(local(2026, 11, 18, 11, 0), 2).astimezone(PRAGUE) == local(2026, 11, 18, 14, 0)  # lunch skipped
    # Thursday 17:00 + 3 h: one hour that day, Friday is closed, Saturday is open
    assert cal.add(local(2026, 11, 19, 17, 0), 3).astimezone(PRAGUE) == local(2026, 11, 21, 11, 0)
    assert cal.between(local(2026, 11, 18, 8, 0), local(2026, 11, 18, 20, 0)) == timedelta(hours=8)


def test_around_the_clock_is_wall_time():
    always = Calendar.of(Hours(name="24/7", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], start="00:00",
                               end="24:00"))
    start = datetime(2026, 12, 24, 22, 0, tzinfo=UTC)
    assert always.add(start, 5) == start + timedelta(hours=5)
    assert always.between(start, start + timedelta(days=2)) == timedelta(days=2)


def test_a_day_across_the_dst_change_keeps_its_wall_clock_hours():
    # Sunday 29 March 2026 is the spring change in Prague; Monday's 09:00-18:00 is still nine hours.
    assert CZ.add(local(2026, 3, 27, 17, 0), 2).astimezone(PRAGUE) == local(2026, 3, 30, 10, 0)
    assert CZ.between(local(2026, 3, 30, 0, 0), local(2026, 3, 31, 0, 0)) == timedelta(hours=9)


def test_add_then_between_are_inverse():
    start = local(2026, 12, 23, 15, 12)
    for hours in (0.5, 3, 8, 40, 100):
        assert CZ.between(start, CZ.add(start, hours)) == timedelta(hours=hours)


def test_slovak_september_and_november_days_follow_the_package_year_by_year():
    from datetime import date

    import holidays
    sk = Calendar.of(Hours(name="sk", timezone="Europe/Bratislava", days=["mon", "tue", "wed", "thu", "fri", "sat",
                                                                          "sun"], country="SK"))
    for year in (2024, 2025, 2026, 2027):
        official = holidays.country_holidays("SK", years=year)
        for month, day in ((9, 1), (9, 15), (11, 17), (5, 8)):
            d = date(year, month, day)
            assert sk.works_on(d) == (d not in official), d
    assert not sk.works_on(date(2024, 9, 15)) and not sk.works_on(date(2025, 9, 15))  # Our Lady of Seven Sorrows


BASE = datetime(2026, 6, 1, tzinfo=UTC)


def varied() -> list[Calendar]:
    """Fresh calendars (their running totals start empty): Czech office hours, a split day across DST in
    New York with Slovak holidays and closed and open dates, and 24/7."""
    return [
        Calendar.of(Hours(name="cz", timezone="Europe/Prague", start="09:00", end="18:00", country="CZ")),
        Calendar.of(Hours(name="split", timezone="America/New_York", intervals=["08:00-12:00", "13:30-24:00"],
                          days=["mon", "tue", "wed", "thu", "fri", "sat"], country="SK", closed=["2026-12-24"],
                          open=["2026-12-27"])),
        Calendar.of(Hours(name="always", timezone="UTC", start="00:00", end="24:00",
                          days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])),
    ]


def test_between_by_running_totals_matches_the_walk_over_every_day(monkeypatch):
    """between() adds the days inside a range from a running total; the day-by-day walk is the reference.
    Random ranges in both directions around the anchor, across DST, holidays, closed and open dates,
    several intervals a day, 24/7, and ranges longer than the walk's bound of MAX_DAYS."""
    calendars = varied()
    rnd = random.Random(14)
    cases = []
    for cal in calendars:
        for _ in range(400):
            start = BASE + timedelta(minutes=rnd.randint(-400 * 1440, 400 * 1440))
            end = start + timedelta(minutes=rnd.choice([rnd.randint(0, 3000), rnd.randint(0, 600 * 1440)]))
            cases.append((cal, start, end, cal._walk(start, end)))
    walked = []
    real_walk = Calendar._walk
    monkeypatch.setattr(Calendar, "_walk", lambda self, a, b: walked.append((a, b)) or real_walk(self, a, b))
    for cal, start, end, expected in cases:
        assert cal.between(start, end) == expected, (cal.name, start, end)
    assert walked == []  # all from the running totals, not the walk
    far = BASE + timedelta(days=MAX_DAYS + 30)
    for cal in calendars:  # beyond the walk's bound: the walk itself, so the answer stays the same
        assert cal.between(BASE, far) == real_walk(cal, BASE, far)
    assert len(walked) == len(calendars)


def test_add_by_running_totals_matches_the_walk_over_every_day(monkeypatch):
    """add() finds the day the time runs out on by bisecting the running total; the span-by-span walk is
    the reference. Random starts and amounts (minutes to a year of working time) across DST, holidays,
    closed and open dates, split days, 24/7, and a calendar whose working time ends (the walk's wall-time
    fallback)."""
    calendars = varied()
    rnd = random.Random(15)
    cases = []
    for cal in calendars:
        for _ in range(400):
            start = BASE + timedelta(minutes=rnd.randint(-400 * 1440, 400 * 1440))
            hours = rnd.choice([rnd.uniform(0, 12), rnd.uniform(0, 2000), float(rnd.randint(0, 60)), 9.0])
            cases.append((cal, start, hours, cal._add_walk(start, hours)))
    walked = []
    real_walk = Calendar._add_walk
    monkeypatch.setattr(Calendar, "_add_walk", lambda self, a, h: walked.append((a, h)) or real_walk(self, a, h))
    for cal, start, hours, expected in cases:
        assert cal.add(start, hours) == expected, (cal.name, start, hours)
    assert walked == []  # all from the running totals, not the walk
    closed = Calendar.of(Hours(name="closed", timezone="UTC", start="09:00", end="17:00", days=["mon"],
                               closed=[f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)]))
    start = datetime(2026, 1, 1, tzinfo=UTC)  # Mondays on the 29th-31st only: far fewer hours than a decade asks
    assert closed.add(start, 24 * MAX_DAYS) == real_walk(closed, start, 24 * MAX_DAYS)
    assert len(walked) == 1
