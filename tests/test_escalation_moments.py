"""The escalation job reads only the tickets that are due, and tells exactly what it told before.

Each pass stores per ticket when to look again (its next warning or breach moment); any change
to a ticket, or to the hours, plans and thresholds, means "look now". The reference is the old
job: every open ticket looked at on every pass, a warning or breach told on the first pass at
which `sla.state` says so. A week of passes, seven minutes apart, over Easter (two public
holidays in the office calendar), with tickets opened, answered, paused, resumed, given an
earlier deadline and a lower warning threshold on the way, must tell the same things at the
same passes.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from conftest import PAID_PLAN, eml

from maildesk.act import sla
from maildesk.act.customers import edit_customer
from maildesk.act.escalate import escalate
from maildesk.decide.route import stamp
from maildesk.pipeline import Pipeline

START = datetime(2026, 4, 2, 6, 0, tzinfo=UTC)  # Maundy Thursday, 08:00 in Prague; Friday and Monday are holidays
STEP = timedelta(minutes=7)


def told(store) -> set[tuple[int, str]]:
    return {(r["ticket"], r["kind"]) for r in store.all("SELECT ticket, kind FROM events WHERE kind LIKE 'sla-%:%'")}


def expected(p: Pipeline, now: datetime, already: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """What the old job would tell now: every open ticket's state, each warning or breach once."""
    out = set()
    for ticket in p.desk.store.all("SELECT number FROM tickets WHERE status = 'open'"):
        t = p.desk.store.ticket(ticket["number"])
        for target, state in sla.state(p.desk.cfg, t, now).items():
            met = t.first_response_at if target == "first_response" else t.resolved_at
            kind = {"breached": "sla-breached", "warning": "sla-warning"}.get(state)
            if kind and not met and (t.number, f"{kind}:{target}") not in already:
                out.add((t.number, f"{kind}:{target}"))
    return out


def command(p: Pipeline, n: int, ticket: int, commands: str, body: str = "") -> None:
    p.process(eml("consultant_commands", n=n, ticket=ticket, commands=commands, body=body))


def test_a_week_of_passes_tells_what_looking_at_every_ticket_told(offline, frozen_clock):
    cfg, store, p = offline(extra=PAID_PLAN)
    edit_customer(store, cfg, "12345678", plan="paid")  # office hours, Czech holidays, 8 h / 16 h targets
    events = {  # pass number -> what happens just before it
        0: lambda: p.process(eml("new_request", n=1)),
        5: lambda: p.process(eml("new_request", n=2)),
        40: lambda: p.process(eml("new_request", n=3)),
        60: lambda: command(p, 10, 2, "", body="We are on it."),  # ticket 2 answered: first response met
        70: lambda: command(p, 11, 3, "#status waiting"),
        90: lambda: p.process(eml("reply_with_attachment", n=4, ticket=3)),  # the customer is back: resumed
        100: lambda: command(p, 12, 1, "#due 2026-04-06 10:00"),  # earlier than its resolution target
        130: lambda: p.process(eml("new_request", n=5)),
        200: lambda: p.process(eml("new_request", n=6)),
    }
    lower = dataclasses.replace(cfg, sla=dataclasses.replace(cfg.sla, warn_at=50))
    seen: set[tuple[int, str]] = set()
    for i in range(1440):  # a week
        now = START + i * STEP
        frozen_clock["now"] = now
        if i in events:
            events[i]()
        if i == 300:  # a reload with a lower threshold: the stored moments are computed anew
            p = Pipeline(lower, store)
        want = expected(p, now, seen)
        escalate(p.desk, now)
        got = told(store) - seen
        assert got == want, f"pass {i} at {now}: told {sorted(got)}, the old job {sorted(want)}"
        seen |= got
    kinds = {kind for _, kind in seen}
    assert kinds == {"sla-warning:first_response", "sla-breached:first_response", "sla-warning:resolution",
                     "sla-breached:resolution"}  # the week exercised every kind of mail
    assert (2, "sla-breached:first_response") not in seen  # answered in time


def test_a_pass_reads_only_what_is_due(offline, frozen_clock):
    cfg, store, p = offline(extra=PAID_PLAN)
    edit_customer(store, cfg, "12345678", plan="paid")
    frozen_clock["now"] = START
    for n in range(1, 4):
        p.process(eml("new_request", n=n))
    assert len(store.sla_tickets(stamp(START))) == 3  # new: not looked at yet
    escalate(p.desk, START)
    assert store.sla_tickets(stamp(START + timedelta(hours=1))) == []  # nothing due for hours: nothing read
    moment = store.one("SELECT sla_check_at FROM tickets WHERE number = 1")["sla_check_at"]
    assert moment == "2026-04-02T13:23+00:00"  # 80 % of 8 office hours from 08:00 Prague is 15:24, a minute early
    assert [t.number for t in store.sla_tickets(moment)] == [1, 2, 3]
    command(p, 10, 2, "#take")  # any change: looked at again on the next pass
    assert [t.number for t in store.sla_tickets(stamp(START + timedelta(hours=1)))] == [2]


def test_nothing_left_to_tell_is_never_read_again(offline, frozen_clock):
    cfg, store, p = offline(extra=PAID_PLAN)
    edit_customer(store, cfg, "12345678", plan="paid")
    frozen_clock["now"] = START
    p.process(eml("new_request", n=1))
    later = START + timedelta(days=30)
    assert escalate(p.desk, later) == 2  # both targets breached
    assert store.one("SELECT sla_check_at FROM tickets WHERE number = 1")["sla_check_at"] is None
    assert store.sla_tickets(stamp(later + timedelta(days=365))) == []
    assert escalate(p.desk, later + timedelta(days=1)) == 0


def test_changed_hours_make_every_open_ticket_due_again(offline, frozen_clock):
    cfg, store, p = offline(extra=PAID_PLAN)
    edit_customer(store, cfg, "12345678", plan="paid")
    frozen_clock["now"] = START
    p.process(eml("new_request", n=1))
    escalate(p.desk, START)
    assert store.sla_tickets(stamp(START)) == []
    office = next(h for h in cfg.hours if h.name == "office")
    shorter = dataclasses.replace(office, end="12:00")  # the office now closes at noon: the warning comes sooner
    changed = dataclasses.replace(cfg, hours=tuple(shorter if h is office else h for h in cfg.hours))
    escalate(Pipeline(changed, store).desk, START)
    assert store.one("SELECT sla_check_at FROM tickets WHERE number = 1")["sla_check_at"] < "2026-04-02T13:23+00:00"
