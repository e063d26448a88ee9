"""Route stage: queue, priority, plan and the two targets of a new ticket, from rules.toml.

The targets (first response, resolution) come from the customer's service
plan and are counted in the working time of the plan's calendar, so a mail on
Friday evening before Easter is due after Easter Monday, not at midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from maildesk.config import Config, Hours, Plan
from maildesk.decide.calendar import Calendar
from maildesk.store.rows import Customer, Ticket


@dataclass(frozen=True)
class Route:
    """Where a new ticket goes, under which plan, and when its answers are due (UTC)."""

    queue: str
    priority: str
    plan: str
    first_response_due: datetime
    resolution_due: datetime


_EXPRESS_TAG = re.compile(r"\[\s*EXPRESS?\s*\]", re.I)


def wants_express(subject: str, text: str) -> bool:
    """[EXPRES] or [EXPRESS] in the subject, or #express as the first line of the body."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return bool(_EXPRESS_TAG.search(subject)) or first.lower() == "#express"


def without_express(subject: str) -> str:
    """The subject without the [EXPRESS] marker (the ticket's own subject)."""
    return re.sub(r"\s{2,}", " ", _EXPRESS_TAG.sub("", subject)).strip()


def plan_of(cfg: Config, customer: Customer | None, today: date) -> Plan:
    """The customer's plan while its contract runs; otherwise (or unknown) helpdesk.default_plan."""
    plan = cfg.plans.get(customer.plan or "") if customer else None
    if plan is None or (plan.support_until and date.fromisoformat(plan.support_until) < today):
        return cfg.default_plan
    return plan


def ticket_plan(cfg: Config, ticket: Ticket) -> Plan:
    """The plan a ticket was opened under (a plan removed from rules.toml since: the default plan)."""
    return cfg.plans.get(ticket.plan or "", cfg.default_plan)


def hours_of(cfg: Config, plan: Plan) -> Hours:
    return cfg.calendar_hours(plan.hours)


_CALENDARS: dict[int, tuple[Hours, Calendar]] = {}  # by the id of a loaded [[hours]] table (kept alive here)


def calendar_of(cfg: Config, plan: Plan) -> Calendar:
    """The plan's calendar, one object per loaded [[hours]] table, so its running totals are kept."""
    hours = hours_of(cfg, plan)
    hit = _CALENDARS.get(id(hours))
    if hit is None or hit[0] is not hours:
        if len(_CALENDARS) >= 64:  # reloads: the old configurations' calendars go
            _CALENDARS.clear()
        hit = _CALENDARS[id(hours)] = (hours, Calendar.of(hours))
    return hit[1]


def targets(plan: Plan, express: bool) -> tuple[float, float]:
    """(first response, resolution) in working hours."""
    if express:
        return plan.express_first_response_hours, plan.express_resolution_hours
    return plan.first_response_hours, plan.resolution_hours


def route(cfg: Config, received: datetime, plan: Plan, priority: str = "normal") -> Route:
    """Queue, priority and targets of a new ticket."""
    first, resolution = targets(plan, priority == "express")
    cal = calendar_of(cfg, plan)
    return Route(cfg.default_queue, priority, plan.name, cal.add(received, first), cal.add(received, resolution))


def stamp(moment: datetime) -> str:
    """A due time as stored: UTC, to the minute."""
    return moment.astimezone(UTC).isoformat(timespec="minutes")


def first_response_due(cfg: Config, ticket: Ticket, priority: str) -> str:
    """The first-response target of a ticket received then, with this priority, as stored."""
    plan = ticket_plan(cfg, ticket)
    first = targets(plan, priority == "express")[0]
    return stamp(calendar_of(cfg, plan).add(datetime.fromisoformat(ticket.created), first))


def deadline(cfg: Config, ticket: Ticket, value: str) -> str:
    """#due's 'YYYY-MM-DD [HH:MM]' in the plan's time zone, as stored; a date alone: the end of its last interval."""
    hours = hours_of(cfg, ticket_plan(cfg, ticket))
    day, _, hhmm = value.partition(" ")
    if not hhmm:
        spans = hours.intervals or [f"{hours.start}-{hours.end}"]
        hhmm = max(s.split("-")[1] for s in spans)
    h, m = (int(x) for x in hhmm.split(":"))
    local = datetime.combine(date.fromisoformat(day), datetime.min.time()) + timedelta(hours=h, minutes=m)
    return stamp(local.replace(tzinfo=ZoneInfo(hours.timezone)))


def local_time(moment: datetime | str | None, hours: Hours) -> str:
    """A timestamp as people read it: in the calendar's time zone, to the minute."""
    if not moment:
        return ""
    d = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return d.astimezone(ZoneInfo(hours.timezone)).strftime("%Y-%m-%d %H:%M %Z")
