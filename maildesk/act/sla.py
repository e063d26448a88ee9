"""The SLA clock of a ticket: two targets, met or not, paused while the ticket waits on the customer.

Targets are working time of the ticket's plan calendar. While a ticket is
`waiting`, the clock stands still: when the customer writes (or a consultant
sets another status), each open target moves by the working time that was
left of it when the clock stopped. Every change is a ticket event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from importlib import metadata
from typing import Any

from maildesk import __version__, clock
from maildesk.act.desk import Desk
from maildesk.config import Config
from maildesk.decide.route import calendar_of, hours_of, local_time, stamp, ticket_plan
from maildesk.models import Status
from maildesk.outbound.context import ticket_context
from maildesk.store.rows import Ticket

TARGETS = ("first_response", "resolution")
DONE = (Status.RESOLVED, Status.CLOSED)


def _met(ticket: Ticket, target: str) -> str | None:
    return ticket.first_response_at if target == "first_response" else ticket.resolved_at


def _due(ticket: Ticket, target: str) -> str | None:
    return ticket.first_response_due if target == "first_response" else ticket.resolution_due


def state(cfg: Config, ticket: Ticket, now: datetime | None = None) -> dict[str, str]:
    """"ok", "warning" (sla.warn_at of the working time used) or "breached", for each target with a due time."""
    now = now or clock.now()
    cal = calendar_of(cfg, ticket_plan(cfg, ticket))
    out = {}
    for target in TARGETS:
        due = _due(ticket, target)
        if not due:
            continue
        met = _met(ticket, target)
        at = datetime.fromisoformat(met or ticket.paused_at or now.isoformat())
        end = datetime.fromisoformat(due)
        if at > end:
            out[target] = "breached"
            continue
        total = cal.between(datetime.fromisoformat(ticket.created), end)
        used = total - cal.between(at, end)
        warn = not met and total.total_seconds() > 0 and used / total * 100 >= cfg.sla.warn_at
        out[target] = "warning" if warn else "ok"
    return out


def next_check(cfg: Config, ticket: Ticket, told: Callable[[str], bool]) -> str | None:
    """When the escalation job must look at this open ticket again (UTC, to the minute, never late).

    The earliest moment one of its targets can turn to a warning or a breach that was not told yet
    (`told(kind)`: is there such an event); None when nothing is left to tell. The warning moment is
    where sla.warn_at of the target's working time is used (as `state` counts it), a minute early.
    """
    if ticket.paused_at:  # an open ticket is never paused; if one is, look every time, as before
        return ""
    cal = calendar_of(cfg, ticket_plan(cfg, ticket))
    moments: list[datetime] = []
    for target in TARGETS:
        due = _due(ticket, target)
        if not due or _met(ticket, target) or told(f"sla-breached:{target}"):
            continue
        end = datetime.fromisoformat(due)
        moments.append(end)
        if not told(f"sla-warning:{target}"):
            created = datetime.fromisoformat(ticket.created)
            total = cal.between(created, end)
            if total.total_seconds() > 0:
                warn = cal.add(created, total.total_seconds() / 3600 * cfg.sla.warn_at / 100)
                moments.append(warn - timedelta(minutes=1))
    return stamp(min(moments)) if moments else None


def basis(cfg: Config) -> str:
    """What the stored check moments depend on: the calendars, plans, thresholds and this release."""
    facts = (cfg.hours, cfg.plan, cfg.default_plan, cfg.sla, __version__, _holidays_release())
    return hashlib.sha256(repr(facts).encode()).hexdigest()


@cache
def _holidays_release() -> str:
    """The holidays package's release: a new one may know other public holidays."""
    return metadata.version("holidays")


def answered(desk: Desk, ticket: Ticket, key: str) -> None:
    """A consultant's answer reached the customer: the first one meets the first-response target."""
    if ticket.first_response_at is None:
        desk.store.update_ticket(ticket.number, first_response_at=clock.now().isoformat(timespec="seconds"))
        desk.store.event(ticket.number, key, "first-response", {"due": ticket.first_response_due,
                                                                "on_time": _on_time(ticket.first_response_due)})


def _on_time(due: str | None) -> bool:
    return due is None or clock.now() <= datetime.fromisoformat(due)


def status_changed(desk: Desk, before: Ticket, status: str, key: str | None) -> None:
    """Pause, resume, or stop the clock for a status change (call after the change is written)."""
    new = Status(status)
    if new is before.status:
        return
    if new is Status.WAITING:
        desk.store.update_ticket(before.number, paused_at=clock.now().isoformat(timespec="seconds"))
        desk.store.event(before.number, key, "sla-paused", {"why": "waiting on the customer"})
        return
    if before.status is Status.WAITING and before.paused_at:
        _resume(desk, before, key)
    if new in DONE and before.status not in DONE:
        desk.store.update_ticket(before.number, resolved_at=clock.now().isoformat(timespec="seconds"))
        desk.store.event(before.number, key, "resolution", {"due": before.resolution_due,
                                                            "on_time": _on_time(before.resolution_due)})
    elif new not in DONE and before.status in DONE:
        desk.store.update_ticket(before.number, resolved_at=None)  # reopened: the resolution target counts again


def deadline_moved(desk: Desk, before: Ticket, new_due: str, reason: str, notify: bool, by: str, key: str) -> None:
    """#due set a new resolution deadline: the customer is told when it moves later (or with #notify)."""
    ticket = desk.store.ticket(before.number)
    assert ticket is not None
    later = before.resolution_due is None or new_due > before.resolution_due
    desk.store.event(ticket.number, key, "deadline-moved", {"from": before.resolution_due, "to": new_due,
                                                            "reason": reason, "by": by, "told": later or notify})
    if not (later or notify):
        return
    hours = hours_of(desk.cfg, ticket_plan(desk.cfg, ticket))
    desk.outbox.send("new_deadline", rcpt=ticket.comm_address, language=ticket.language, ticket=ticket.number,
                     ctx={"ticket": ticket_context(desk.cfg, desk.store, ticket), "reason": reason,
                          "old_due": local_time(before.resolution_due, hours), "new_due": local_time(new_due, hours),
                          "consultant_name": by},
                     in_reply_to=desk.store.last_customer_message_id(ticket.number))


def _resume(desk: Desk, ticket: Ticket, key: str | None) -> None:
    """The customer is back: each open target moves by the working time it had left when the clock stopped."""
    assert ticket.paused_at is not None
    cal = calendar_of(desk.cfg, ticket_plan(desk.cfg, ticket))
    paused, now = datetime.fromisoformat(ticket.paused_at), clock.now()
    changes: dict[str, Any] = {"paused_at": None}
    for target in TARGETS:
        due = _due(ticket, target)
        if due and not _met(ticket, target) and datetime.fromisoformat(due) > paused:
            left = cal.between(paused, datetime.fromisoformat(due))
            changes[f"{target}_due"] = stamp(cal.add(now, left.total_seconds() / 3600))
    desk.store.update_ticket(ticket.number, **changes)
    desk.store.event(ticket.number, key, "sla-resumed", {k: v for k, v in changes.items() if v})
