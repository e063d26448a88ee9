"""Routing rules, queue assignment and consultants' presence, without servers."""

from __future__ import annotations

import pytest
from conftest import cli, eml

from maildesk.config import ConfigError

ROUTING = """
[[queue]]
name = "packet"
assign = "round-robin"

[[queue]]
name = "urgent"
assign = "least-open"
lead = "boss@example.test"

[[consultant]]
email = "petr@example.test"
name = "Petr"
queues = ["packet", "urgent"]

[[consultant]]
email = "eva@example.test"
name = "Eva"
queues = ["packet", "urgent"]

[[rule]]
name = "payroll by plus address"
to = "helpdesk+packet@example.test"
queue = "packet"
tag = "packet"

[[rule]]
name = "outage"
subject = "nefunguje|výpadek|outage"
queue = "urgent"
priority = "express"

[[rule]]
name = "never"
customer = ["99999999"]
queue = "packet"
"""


def to(n: int, address: str, subject: str = "Printer on fire") -> bytes:
    return eml("new_request", n=n).replace(b"To: helpdesk@example.test", f"To: {address}".encode()) \
        .replace(b"Subject: Printer on fire", f"Subject: {subject}".encode())


@pytest.fixture
def routed(offline, frozen_clock):
    return offline(extra=ROUTING)


def test_plus_addressing_routes_tags_and_assigns_in_turn(routed):
    _, store, p = routed
    for n in (1, 2, 3):
        p.process(to(n, "helpdesk+packet@example.test"))
    tickets = [store.ticket(n) for n in (1, 2, 3)]
    assert [(t.queue, t.tags, t.assignee) for t in tickets] == [
        ("packet", "packet", "petr@example.test"), ("packet", "packet", "eva@example.test"),
        ("packet", "packet", "petr@example.test")]
    events = store.all("SELECT detail FROM events WHERE ticket = 1 AND kind = 'routed'")
    assert "payroll by plus address matched (to)" in events[0]["detail"]


def test_first_match_wins_and_a_rule_can_make_it_express(routed):
    _, store, p = routed
    p.process(to(1, "helpdesk+packet@example.test", subject="Mzdy nefungují"))  # both rules match: the first wins
    p.process(to(2, "helpdesk@example.test", subject="Výpadek: tisk nefunguje"))
    assert (store.ticket(1).queue, store.ticket(1).priority) == ("packet", "normal")
    assert (store.ticket(2).queue, store.ticket(2).priority) == ("urgent", "express")
    assert store.ticket(3) is None


def test_least_open_skips_consultants_who_are_away(routed):
    _, store, p = routed
    p.process(to(1, "helpdesk@example.test", subject="outage one"))  # least-open: Petr (tie, listed first)
    p.process(to(2, "helpdesk@example.test", subject="outage two"))  # Eva has fewer
    assert (store.ticket(1).assignee, store.ticket(2).assignee) == ("petr@example.test", "eva@example.test")
    p.process(eml("consultant_commands", n=1, ticket=0, commands="#away until 2026-12-01", body="")
              .replace(b"jana@example.test", b"eva@example.test"))
    p.process(to(3, "helpdesk@example.test", subject="outage three"))
    assert store.ticket(3).assignee == "petr@example.test"
    p.process(eml("consultant_commands", n=2, ticket=0, commands="#back", body="")
              .replace(b"jana@example.test", b"eva@example.test"))
    p.process(to(4, "helpdesk@example.test", subject="outage four"))
    assert store.ticket(4).assignee == "eva@example.test"
    assert store.ticket(5) is None  # #away and #back opened no ticket


def test_rules_test_shows_the_rule_queue_plan_and_due_times(routed, tmp_path):
    cfg, _, _ = routed
    (tmp_path / "m.eml").write_bytes(to(1, "helpdesk+packet@example.test"))
    out = cli(cfg, "rules", "test", str(tmp_path / "m.eml"))
    assert out.returncode == 0, out.stderr
    assert "route: payroll by plus address matched (to); queue packet, plan standard, priority normal, " \
           "assignee petr@example.test, first response due" in out.stdout


def test_a_bad_rule_is_a_config_error_with_its_line(tmp_path):
    from conftest import OFFLINE_RULES

    from maildesk.config import load
    (tmp_path / "rules.toml").write_text(OFFLINE_RULES.format(helpdesk="", limits="", extra=ROUTING.replace(
        'subject = "nefunguje|výpadek|outage"', 'subject = "nefunguje("')))
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "rules.toml")
    assert info.value.key == "rule[1].subject" and "not a regular expression" in str(info.value)
    assert info.value.line == OFFLINE_RULES.format(helpdesk="", limits="", extra=ROUTING).splitlines().index(
        'subject = "nefunguje|výpadek|outage"') + 1
