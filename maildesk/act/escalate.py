"""Escalation: a warning before a target passes, a report when it has, each once per ticket and target.

Run by the scheduler every minute. It keeps
nothing in memory: what is due comes from the tickets, what was sent from
their events, so a restart neither loses nor repeats a mail. Each ticket
stores when it must be looked at next (its next warning or breach moment;
any change to it, or to the hours and plans, means "now"), so a pass reads
only the tickets that are due. A paused clock
(a ticket waiting on the customer) is never escalated: only open tickets are.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from maildesk import clock
from maildesk.act import sla
from maildesk.act.consultants import queue_consultants
from maildesk.act.desk import Desk
from maildesk.config import Consultant
from maildesk.decide.route import calendar_of, hours_of, local_time, stamp, ticket_plan
from maildesk.outbound.context import ticket_context
from maildesk.store.rows import Ticket

log = logging.getLogger("maildesk.sla")

TARGET_NAMES = {
    "en": {"first_response": "first response", "resolution": "resolution"},
    "cs": {"first_response": "první odpověď", "resolution": "vyřešení"},
    "sk": {"first_response": "prvú odpoveď", "resolution": "vyriešenie"},
}


def escalate(desk: Desk, now: datetime | None = None) -> int:
    """Send the warnings and breach reports that are due now (inside one transaction); returns how many.

    Only the tickets whose next moment has come (or that changed since the last pass) are read:
    each pass stores, per ticket, when to look again, so a desk with many open tickets costs
    what is due, not what is open.
    """
    now = now or clock.now()
    sent = 0
    with desk.store.transaction():
        desk.store.sla_basis(sla.basis(desk.cfg))
        checks: list[tuple[int, str | None]] = []
        for ticket in desk.store.sla_tickets(stamp(now)):
            for target, state in sla.state(desk.cfg, ticket, now).items():
                if (ticket.first_response_at if target == "first_response" else ticket.resolved_at):
                    continue
                if state == "breached" and not desk.store.has_event(ticket.number, f"sla-breached:{target}"):
                    sent += _tell(desk, ticket, target, "sla_breached", _leads(desk, ticket), now)
                elif state == "warning" and not desk.store.has_event(ticket.number, f"sla-warning:{target}"):
                    sent += _tell(desk, ticket, target, "sla_warning", _owners(desk, ticket), now)
            told = partial(desk.store.has_event, ticket.number)
            checks.append((ticket.number, sla.next_check(desk.cfg, ticket, told)))
        desk.store.set_sla_checks(checks)
    return sent


def _owners(desk: Desk, ticket: Ticket) -> list[Consultant]:
    """Who should act: the assignee, or the queue while nobody has taken the ticket."""
    assignee = desk.cfg.consultant_by_email(ticket.assignee or "")
    return [assignee] if assignee else queue_consultants(desk, ticket.queue)


def _leads(desk: Desk, ticket: Ticket) -> list[Consultant]:
    """Who hears of a breach: the queue lead (as a consultant, or an address of its own), else the owners."""
    queue = next((q for q in desk.cfg.queue if q.name == ticket.queue), None)
    if queue is None or not queue.lead:
        return _owners(desk, ticket)
    return [desk.cfg.consultant_by_email(queue.lead)
            or Consultant(email=queue.lead, name=queue.lead, queues=[queue.name], language=desk.cfg.helpdesk.language)]


def _tell(desk: Desk, ticket: Ticket, target: str, template: str, to: list[Consultant], now: datetime) -> int:
    due = ticket.first_response_due if target == "first_response" else ticket.resolution_due
    assert due is not None
    hours = hours_of(desk.cfg, ticket_plan(desk.cfg, ticket))
    cal = calendar_of(desk.cfg, ticket_plan(desk.cfg, ticket))
    total = cal.between(datetime.fromisoformat(ticket.created), datetime.fromisoformat(due))
    left = cal.between(now, datetime.fromisoformat(due))
    used = round(100 * (1 - left / total)) if total.total_seconds() else 100
    facts = ticket_context(desk.cfg, desk.store, ticket)
    for c in to:
        desk.outbox.send(template, rcpt=c.email, language=c.language, ticket=ticket.number, auto="auto-generated",
                         ctx={"ticket": facts, "target": target, "due": local_time(due, hours), "used_percent": used,
                              "target_name": TARGET_NAMES.get(c.language, TARGET_NAMES["en"])[target],
                              "consultant": c})
    kind = template.replace("_", "-")
    desk.store.event(ticket.number, None, f"{kind}:{target}", {"due": due, "to": [c.email for c in to]})
    log.warning("#%s %s %s (due %s): told %s", ticket.number, kind, target, due,
                ", ".join(c.email for c in to) or "nobody (no consultant serves the queue)")
    return 1
