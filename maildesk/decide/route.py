"""Route stage: queue, priority and the first-response target of a new ticket, from rules.toml.

The target is counted in support hours (weekdays and times from [hours]), so
a mail on Friday evening is due on Monday, not at midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maildesk.config import WEEKDAYS, Config, Hours


@dataclass(frozen=True)
class Route:
    """Where a new ticket goes and when its first answer is due."""

    queue: str
    priority: str
    first_response_due: datetime


def _hm(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


def add_support_hours(start: datetime, hours: float, cfg: Hours) -> datetime:
    """The moment `hours` of support time after `start` have passed."""
    tz = ZoneInfo(cfg.timezone)
    t = start.astimezone(tz)
    open_t, close_t = _hm(cfg.start), _hm(cfg.end)
    left = timedelta(hours=hours)
    days = {WEEKDAYS.index(d) for d in cfg.days}
    if not days or open_t >= close_t:
        return (start + left).astimezone(UTC)
    for _ in range(3660):  # at most ten years of days; a safety bound, not a real limit
        day_open = datetime.combine(t.date(), open_t, tz)
        day_close = datetime.combine(t.date(), close_t, tz)
        if t.weekday() in days and t < day_close:
            begin = max(t, day_open)
            if begin + left <= day_close:
                return (begin + left).astimezone(UTC)
            left -= day_close - begin
        t = datetime.combine(t.date() + timedelta(days=1), time(0), tz)
    return (start + timedelta(hours=hours)).astimezone(UTC)


def local_time(moment: datetime | str | None, cfg: Hours) -> str:
    """A timestamp as people read it: in the support hours' time zone, to the minute."""
    if not moment:
        return ""
    d = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return d.astimezone(ZoneInfo(cfg.timezone)).strftime("%Y-%m-%d %H:%M %Z")


def route(cfg: Config, received: datetime, priority: str = "normal") -> Route:
    """Queue, priority and first-response target of a new ticket."""
    target = cfg.sla.express_first_response_hours if priority == "express" else cfg.sla.first_response_hours
    return Route(cfg.default_queue, priority, add_support_hours(received, target, cfg.hours))


def first_response_due(cfg: Config, received: datetime | str, priority: str) -> str:
    """The first-response target of a ticket received then, with this priority, as stored (UTC, to the minute)."""
    start = datetime.fromisoformat(received) if isinstance(received, str) else received
    return route(cfg, start, priority).first_response_due.isoformat(timespec="minutes")
