"""Support-hours calendars without servers: holidays, intervals, closed and open dates, 24/7, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from maildesk.config import Hours
from maildesk.decide.calendar import Calendar

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


def test_between_by_running_totals_matches_the_walk_over_every_day(monkeypatch):
    """between() adds the days inside a range from a running total; the day-by-day walk is the reference.
    Random ranges in both directions around the anchor, across DST, holidays, closed and open dates,
    several intervals a day, 24/7, and ranges longer than the walk's bound of MAX_DAYS."""
    import random

    from maildesk.decide.calendar import MAX_DAYS
    calendars = [
        Calendar.of(Hours(name="cz", timezone="Europe/Prague", start="09:00", end="18:00", country="CZ")),
        Calendar.of(Hours(name="split", timezone="America/New_York", intervals=["08:00-12:00", "13:30-24:00"],
                          days=["mon", "tue", "wed", "thu", "fri", "sat"], country="SK", closed=["2026-12-24"],
                          open=["2026-12-27"])),
        Calendar.of(Hours(name="always", timezone="UTC", start="00:00", end="24:00",
                          days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])),
    ]
    rnd = random.Random(14)
    base = datetime(2026, 6, 1, tzinfo=UTC)
    cases = []
    for cal in calendars:
        for _ in range(400):
            start = base + timedelta(minutes=rnd.randint(-400 * 1440, 400 * 1440))
            end = start + timedelta(minutes=rnd.choice([rnd.randint(0, 3000), rnd.randint(0, 600 * 1440)]))
            cases.append((cal, start, end, cal._walk(start, end)))
    walked = []
    real_walk = Calendar._walk
    monkeypatch.setattr(Calendar, "_walk", lambda self, a, b: walked.append((a, b)) or real_walk(self, a, b))
    for cal, start, end, expected in cases:
        assert cal.between(start, end) == expected, (cal.name, start, end)
    assert walked == []  # all from the running totals, not the walk
    far = base + timedelta(days=MAX_DAYS + 30)
    for cal in calendars:  # beyond the walk's bound: the walk itself, so the answer stays the same
        assert cal.between(base, far) == real_walk(cal, base, far)
    assert len(walked) == len(calendars)
