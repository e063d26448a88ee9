"""Routing: where a new ticket goes, under which plan, for whom, and when its answers are due.

`[[rule]]` entries are tried in order and the first whose every condition
matches wins; it may set the queue, the priority, the assignee and a tag.
Then the queue's `assign` mode picks a consultant when no rule named one.
Everything here only reads: open_ticket writes what `place` returns, and
`rules test` prints it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime

from maildesk.config import Config, Plan, Rule
from maildesk.decide.route import plan_of, route, wants_express
from maildesk.models import ParsedMail, Sender
from maildesk.store import Store
from maildesk.store.rows import Customer


@dataclass(frozen=True)
class Placement:
    """What a new ticket gets."""

    plan: Plan
    express_asked: bool
    express: bool
    rule: str  # the rule that matched ('' when none did)
    why: str
    queue: str
    priority: str
    assignee: str | None
    tag: str
    first_response_due: datetime
    resolution_due: datetime


def _why_not(r: Rule, mail: ParsedMail, customer: Customer | None, plan: Plan, product: str) -> str:
    """Why a rule does not match ('' when it does)."""
    if r.customer and (customer is None or customer.id not in r.customer):
        return "customer"
    if r.plan and r.plan != plan.name:
        return "plan"
    if r.product and r.product.lower() != product.lower():
        return "product"
    if r.to and r.to.lower() not in (a.lower() for a in (*mail.to, *mail.cc)):
        return "to"
    if r.subject and not re.search(r.subject, mail.subject, re.I):
        return "subject"
    if r.body and not re.search(r.body, mail.text, re.I | re.M):
        return "body"
    if r.language and (customer is None or customer.language != r.language):
        return "language"
    if r.attachment and (r.attachment == "yes") != bool(mail.attachments):
        return "attachment"
    return ""


def matching_rule(cfg: Config, mail: ParsedMail, customer: Customer | None, plan: Plan,
                  product: str = "") -> tuple[Rule | None, str]:
    """(the first rule that matches, why), or (None, why none did)."""
    misses = []
    for i, r in enumerate(cfg.rule):
        miss = _why_not(r, mail, customer, plan, product)
        name = r.name or f"rule {i + 1}"
        if not miss:
            given = [k for k in ("customer", "plan", "product", "to", "subject", "body", "language", "attachment")
                     if getattr(r, k)]
            return r, f"{name} matched ({', '.join(given) or 'no conditions'})"
        misses.append(f"{name}: {miss} differs")
    return None, "; ".join(misses) or "no [[rule]] in rules.toml"


def pick_assignee(cfg: Config, store: Store, queue: str, now: datetime) -> str | None:
    """The queue's assign mode: nobody (manual), the next one in turn, or the one with the fewest open tickets."""
    q = next((q for q in cfg.queue if q.name == queue), None)
    if q is None or q.assign == "manual":
        return None
    away = store.away(now)
    team = [c.email.lower() for c in cfg.consultant if queue in c.queues and c.email.lower() not in away]
    if not team:
        return None
    if q.assign == "least-open":
        counts = store.open_counts(team)
        return min(team, key=lambda e: (counts[e], team.index(e)))
    last = store.last_assignee(queue)
    after = team.index(last) + 1 if last in team else 0
    return next(itertools.islice(itertools.cycle(team), after, None))


def place(cfg: Config, store: Store, mail: ParsedMail, sender: Sender, now: datetime, product: str = "") -> Placement:
    """Plan, rule, queue, priority, assignee and targets of a new ticket (reads only)."""
    customer = store.customer(sender.customer_id)
    plan = plan_of(cfg, customer, now.date())
    asked = wants_express(mail.subject, mail.text)
    rule, why = matching_rule(cfg, mail, customer, plan, product)
    priority = (rule.priority if rule and rule.priority else "") or ("express" if asked and plan.express else "normal")
    r = route(cfg, now, plan, priority)
    by_product = next((q.name for q in cfg.queue if product and product.lower() in (p.lower() for p in q.products)), "")
    queue = (rule.queue if rule and rule.queue else "") or by_product or r.queue
    assignee = rule.assignee.lower() if rule and rule.assignee else pick_assignee(cfg, store, queue, now)
    return Placement(plan, asked, priority == "express", (rule.name or "rule") if rule else "", why, queue, priority,
                     assignee, rule.tag if rule else "", r.first_response_due, r.resolution_due)
