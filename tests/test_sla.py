"""Service plans and the SLA clock, without servers: plans, pauses, first responses, moved deadlines, escalation.

Each test moves an injected clock (frozen_clock) instead of sleeping; the
flow over real Dovecot and aiosmtpd is in test_flow.py.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from conftest import PAID_PLAN, cli, eml

from maildesk.act import sla
from maildesk.act.customers import edit_customer
from maildesk.act.escalate import escalate
from maildesk.act.sla import state
from maildesk.pipeline import Pipeline

PLANS = PAID_PLAN + """
[[plan]]
name = "ended"
hours = "office"
first_response_hours = 1
support_until = "2026-01-31"
"""
EASTER_THURSDAY = datetime(2026, 4, 2, 15, 30, tzinfo=UTC)  # 17:30 in Prague


def mails(store, kind: str) -> list[str]:
    rows = store.all("SELECT raw FROM outbox WHERE kind = ? ORDER BY id", (kind,))
    return [message_from_bytes(r["raw"], policy=policy.default).get_content() for r in rows]


@pytest.fixture
def desk(offline, frozen_clock):
    """(cfg, store, pipeline) with plans; ACME on plan `paid`; the clock at Easter Thursday 17:30 Prague."""
    cfg, store, p = offline(extra=PLANS)
    edit_customer(store, cfg, "12345678", plan="paid")
    frozen_clock["now"] = EASTER_THURSDAY
    return cfg, store, p


def consultant(p: Pipeline, n: int, commands: str, body: str = "") -> None:
    p.process(eml("consultant_commands", n=n, ticket=1, commands=commands, body=body))


def test_a_ticket_gets_its_customers_plan_counted_in_the_plans_calendar(desk):
    _, store, p = desk
    p.process(eml("new_request", n=1))
    t = store.ticket(1)
    assert (t.plan, t.first_response_due, t.resolution_due) == ("paid", "2026-04-07T14:30+00:00",
                                                                 "2026-04-08T13:30+00:00")
    assert "We will answer by 2026-04-07 16:30 CEST" in mails(store, "confirmation")[0]


def test_an_ended_contract_falls_back_to_the_default_plan(desk, frozen_clock):
    cfg, store, p = desk
    edit_customer(store, cfg, "12345678", plan="ended")
    p.process(eml("new_request", n=1))
    assert store.ticket(1).plan == "standard"


def test_the_clock_pauses_while_waiting_and_moves_the_targets_when_the_customer_writes(desk, frozen_clock):
    _, store, p = desk
    p.process(eml("new_request", n=1))
    frozen_clock["now"] = datetime(2026, 4, 7, 8, 0, tzinfo=UTC)  # Tuesday 10:00 Prague: 1 h used of 8
    consultant(p, 1, "#status waiting")
    assert store.ticket(1).paused_at is not None
    frozen_clock["now"] = datetime(2026, 4, 9, 8, 0, tzinfo=UTC)  # two working days later the customer answers
    p.process(eml("new_request", n=2).replace(b"Subject: ", b"Subject: Re: [EX #1] "))
    t = store.ticket(1)
    assert (t.status, t.paused_at) == ("open", None)
    assert t.first_response_due == "2026-04-09T14:30+00:00"  # the 6.5 working hours that were left, from now
    kinds = [e["kind"] for e in store.all("SELECT kind FROM events WHERE ticket = 1 ORDER BY id")]
    assert "sla-paused" in kinds and "sla-resumed" in kinds


def test_the_first_answer_meets_the_first_response_target(desk, frozen_clock):
    cfg, store, p = desk
    p.process(eml("new_request", n=1))
    frozen_clock["now"] = datetime(2026, 4, 7, 14, 0, tzinfo=UTC)
    assert state(cfg, store.ticket(1)) == {"first_response": "warning", "resolution": "ok"}
    consultant(p, 1, "", body="Please restart the printer.")
    t = store.ticket(1)
    assert t.first_response_at == "2026-04-07T14:00:00+00:00"
    frozen_clock["now"] = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)
    assert state(cfg, t) == {"first_response": "ok", "resolution": "breached"}


def test_a_later_deadline_is_told_to_the_customer_with_its_reason(desk):
    _, store, p = desk
    p.process(eml("new_request", n=1))
    consultant(p, 1, "#due 2026-04-15 12:00 we wait for the vendor's patch")
    t = store.ticket(1)
    assert (t.due, t.resolution_due) == ("2026-04-15 12:00", "2026-04-15T10:00+00:00")
    [notice] = mails(store, "new_deadline")
    assert "2026-04-15 12:00 CEST" in notice and "2026-04-08 15:30 CEST" in notice
    assert "we wait for the vendor's patch" in notice


def test_an_earlier_deadline_is_told_only_with_notify(desk):
    _, store, p = desk
    p.process(eml("new_request", n=1))
    consultant(p, 1, "#due 2026-04-07")
    assert store.ticket(1).resolution_due == "2026-04-07T16:00+00:00"  # a date alone: the end of the support day
    assert mails(store, "new_deadline") == []
    consultant(p, 2, "#due 2026-04-07 12:00\n#notify")
    assert len(mails(store, "new_deadline")) == 1


def test_bad_due_values_change_nothing(desk):
    _, store, p = desk
    p.process(eml("new_request", n=1))
    consultant(p, 1, "#due 2026-02-30")
    consultant(p, 2, "#due tomorrow")
    assert store.ticket(1).due is None and len(mails(store, "command_error")) == 2


def test_escalation_warns_once_then_reports_the_breach_to_the_lead_once(desk, frozen_clock):
    cfg, store, p = desk
    lead = dataclasses.replace(cfg.queue[0], lead="boss@example.test")
    p = Pipeline(dataclasses.replace(cfg, queue=(lead,)), store)
    p.process(eml("new_request", n=1))
    frozen_clock["now"] = datetime(2026, 4, 7, 13, 0, tzinfo=UTC)  # 6.5 of 8 h used: over 80 %
    assert escalate(p.desk) == 1 and escalate(p.desk) == 0
    [warning] = store.all("SELECT rcpt, subject FROM outbox WHERE kind = 'sla_warning'")
    assert warning["rcpt"] == "jana@example.test" and "first response" in warning["subject"]
    frozen_clock["now"] = datetime(2026, 4, 7, 15, 0, tzinfo=UTC)
    assert escalate(p.desk) == 1 and escalate(p.desk) == 0
    [breach] = store.all("SELECT rcpt FROM outbox WHERE kind = 'sla_breached'")
    assert breach["rcpt"] == "boss@example.test"


def test_a_paused_ticket_is_never_escalated(desk, frozen_clock):
    _, store, p = desk
    p.process(eml("new_request", n=1))
    consultant(p, 1, "#status waiting")
    frozen_clock["now"] = EASTER_THURSDAY + timedelta(days=30)
    assert escalate(p.desk) == 0


def test_overdue_and_due_before_lists(desk, frozen_clock):
    cfg, store, p = desk
    p.process(eml("new_request", n=1))
    frozen_clock["now"] = datetime(2026, 4, 7, 15, 0, tzinfo=UTC)
    with store.transaction():
        sla.answered(p.desk, store.ticket(1), "k")  # the first response is met: the resolution still counts
    due = cli(cfg, "ticket", "list", "--due-before", "2026-04-09")
    assert due.returncode == 0 and "paid" in due.stdout and "2026-04-08T13:30" in due.stdout
    overdue = cli(cfg, "ticket", "list", "--overdue", "--json")
    # the child process reads the real clock (November 2026): April's targets have long passed
    assert [r["number"] for r in json.loads(overdue.stdout)] == [1]
    assert cli(cfg, "ticket", "list", "--due-before", "2026-04-08").stdout.count("\n") == 1  # only the header


def test_customer_plan_must_exist(offline_cfg):
    out = cli(offline_cfg, "customer", "add", "C2", "--name", "Two", "--plan", "gold")
    assert out.returncode == 1 and "no plan 'gold'" in out.stderr
    assert cli(offline_cfg, "customer", "edit", "12345678", "--plan", "standard").returncode == 0


def express(n: int) -> bytes:
    return eml("new_request", n=n).replace(b"Subject: ", b"Subject: [EXPRES] ")


def test_an_express_request_gets_the_express_targets_jumps_the_queue_and_is_recorded(desk):
    _, store, p = desk
    for n in (1, 2):
        p.process(eml("new_request", n=n))
    p.process(express(3))
    p.process(eml("new_request", n=4))
    t = store.ticket(3)
    assert (t.priority, t.subject, t.first_response_due) == ("express", "Printer on fire", "2026-04-07T07:30+00:00")
    confirmations = mails(store, "confirmation")
    assert "number 1 in the general queue" in confirmations[2] and "for 1500 CZK" in confirmations[2]
    assert "number 4 in the general queue" in confirmations[3]  # two earlier tickets and the express one
    [billing] = store.all("SELECT detail FROM events WHERE ticket = 3 AND kind = 'express'")
    assert json.loads(billing["detail"]) == {"granted": True, "plan": "paid", "price": "1500 CZK"}


def test_express_outside_the_plan_is_a_normal_ticket_and_the_customer_is_told(desk):
    cfg, store, p = desk
    edit_customer(store, cfg, "12345678", plan="standard")
    p.process(express(1))
    assert store.ticket(1).priority == "normal"
    assert "which is not part of your plan" in mails(store, "confirmation")[0]


def test_the_monthly_report_per_customer_and_consultant(desk, frozen_clock):
    cfg, store, p = desk
    p.process(eml("new_request", n=1))  # Thursday 2 April, 17:30 Prague
    p.process(express(2))
    frozen_clock["now"] = datetime(2026, 4, 7, 8, 0, tzinfo=UTC)  # Tuesday 10:00: 1.5 working hours later
    consultant(p, 1, "#price 1200 CZK\n#status resolved", body="Fixed: the fuser was replaced.")
    frozen_clock["now"] = datetime(2026, 4, 9, 8, 0, tzinfo=UTC)
    p.process(eml("consultant_commands", n=2, ticket=2, commands="", body="Restarted the spooler."))
    from datetime import date

    from maildesk.cli import report
    data = report.build(store, cfg, date(2026, 4, 1), date(2026, 4, 30), None, frozen_clock["now"])
    [acme] = data["customers"]
    assert (acme["opened"], acme["closed"], acme["express"], acme["express_prices"], acme["prices"]) == \
        (2, 1, 1, "1500 CZK", "1200 CZK")
    assert acme["first_response_median_h"] == 10.5  # 1.5 h and 19.5 h of working time
    assert acme["first_response_met_pct"] == 50  # the express one was late (1 h target)
    [jana] = data["consultants"]
    assert (jana["consultant"], jana["answered"]) == ("jana@example.test", 2)
    out = cli(cfg, "report", "--from", "2026-04-01", "--to", "2026-04-30", "--format", "csv")
    assert out.returncode == 0 and out.stdout.splitlines()[1].startswith("customer,12345678,2,1,10.5,")
    assert cli(cfg, "report", "--from", "2026-04-30", "--to", "2026-04-01").returncode == 1
