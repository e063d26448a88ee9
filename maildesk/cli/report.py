"""`maildesk report`: the monthly sheet per customer (tickets, response times, SLA, express, prices) and per consultant.

Times are working hours of each ticket's plan calendar, so a ticket answered
on Tuesday morning after Easter took a few hours, not four days.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from maildesk.cli.views import emit, say, table
from maildesk.config import Config
from maildesk.decide.route import calendar_of, ticket_plan
from maildesk.models import Status
from maildesk.store import Store
from maildesk.store.rows import Ticket

CUSTOMER_COLS = ["customer", "opened", "closed", "first_response_median_h", "first_response_p90_h",
                 "first_response_met_pct", "resolution_met_pct", "express", "express_prices", "prices"]
CONSULTANT_COLS = ["consultant", "taken", "answered", "first_response_median_h"]


def _hours(cfg: Config, t: Ticket, until: str) -> float:
    cal = calendar_of(cfg, ticket_plan(cfg, t))
    return cal.between(datetime.fromisoformat(t.created), datetime.fromisoformat(until)).total_seconds() / 3600


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


def _met(t: Ticket, target: str, now: datetime) -> bool | None:
    """On time, late, or None while it is still open and not yet due."""
    due = t.first_response_due if target == "first_response" else t.resolution_due
    done = t.first_response_at if target == "first_response" else t.resolved_at
    if not due:
        return None
    if done:
        return datetime.fromisoformat(done) <= datetime.fromisoformat(due)
    return False if now > datetime.fromisoformat(due) else None


def _money(amounts: list[str]) -> str:
    """'1200 CZK' strings summed per currency: '2700 CZK, 50 EUR'."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for a in amounts:
        value, _, currency = a.partition(" ")
        try:
            sums[currency] += Decimal(value)
        except InvalidOperation:
            continue
    return ", ".join(f"{v.normalize():f} {c}".strip() for c, v in sorted(sums.items()))


def build(store: Store, cfg: Config, start: date, end: date, customer: str | None, now: datetime) -> dict[str, Any]:
    """The report's two tables for [start, end] (whole days, UTC)."""
    lo = datetime.combine(start, datetime.min.time(), UTC).isoformat(timespec="seconds")
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC).isoformat(timespec="seconds")
    tickets = store.report_tickets(lo, hi, customer)
    by_customer: dict[str, list[Ticket]] = defaultdict(list)
    for t in tickets:
        by_customer[t.customer_id or "-"].append(t)
    express = [e for e in store.report_events("express", lo, hi) if not customer or e["customer_id"] == customer]
    customers = []
    for cid, ts in sorted(by_customer.items()):
        opened = [t for t in ts if lo <= t.created < hi]
        firsts = [_hours(cfg, t, t.first_response_at) for t in opened if t.first_response_at]
        met = {k: [m for t in opened if (m := _met(t, k, now)) is not None] for k in ("first_response", "resolution")}
        granted = [json.loads(e["detail"]) for e in express if (e["customer_id"] or "-") == cid]
        granted = [g for g in granted if g.get("granted")]
        customers.append({
            "customer": cid, "opened": len(opened),
            "closed": sum(1 for t in ts if t.resolved_at and lo <= t.resolved_at < hi),
            "first_response_median_h": round(statistics.median(firsts), 1) if firsts else None,
            "first_response_p90_h": _pct(firsts, 90),
            "first_response_met_pct": round(100 * sum(met["first_response"]) / len(met["first_response"]))
            if met["first_response"] else None,
            "resolution_met_pct": round(100 * sum(met["resolution"]) / len(met["resolution"]))
            if met["resolution"] else None,
            "express": len(granted), "express_prices": _money([g["price"] for g in granted if g.get("price")]),
            "prices": _money([t.price for t in ts if t.price and t.status in (Status.RESOLVED, Status.CLOSED)]),
        })
    return {"from": start.isoformat(), "to": end.isoformat(), "customers": customers,
            "consultants": _consultants(store, cfg, tickets, lo, hi)}


def _consultants(store: Store, cfg: Config, tickets: list[Ticket], lo: str, hi: str) -> list[dict[str, Any]]:
    answers = store.answers(lo, hi)
    first_by: dict[int, str] = {}
    for a in answers:
        first_by.setdefault(int(a["ticket"]), str(a["from_addr"]).lower())
    out = []
    for c in cfg.consultant:
        mine = [t for t in tickets if (t.assignee or "").lower() == c.email.lower() and lo <= t.created < hi]
        firsts = [_hours(cfg, t, t.first_response_at) for t in tickets
                  if t.first_response_at and first_by.get(t.number) == c.email.lower()]
        answered = {int(a["ticket"]) for a in answers if str(a["from_addr"]).lower() == c.email.lower()}
        out.append({"consultant": c.email, "taken": len(mine), "answered": len(answered),
                    "first_response_median_h": round(statistics.median(firsts), 1) if firsts else None})
    return out


def show(data: dict[str, Any], fmt: str) -> int:
    if fmt == "json":
        emit(data)
        return 0
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["table", *CUSTOMER_COLS, *CONSULTANT_COLS[1:]], extrasaction="ignore")
        w.writeheader()
        for row in data["customers"]:
            w.writerow({"table": "customer", **row})
        for row in data["consultants"]:
            w.writerow({"table": "consultant", "customer": row["consultant"], **row})
        say(buf.getvalue().rstrip("\n"))
        return 0
    say(f"report {data['from']} .. {data['to']} (times in working hours of each ticket's plan)\n")
    say(table(data["customers"], CUSTOMER_COLS))
    say("")
    say(table(data["consultants"], CONSULTANT_COLS))
    return 0
