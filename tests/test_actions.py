"""The actions (act/) without servers: what a decision writes and queues, read back from the store and outbox."""

from __future__ import annotations

from email import message_from_bytes, policy

from conftest import eml

from maildesk.store import Store


def outbox(store: Store, kind: str) -> list[str]:
    rows = store.all("SELECT raw FROM outbox WHERE kind = ? ORDER BY id", (kind,))
    return [message_from_bytes(r["raw"], policy=policy.default).get_content() for r in rows]


def test_the_confirmation_states_the_response_target_not_an_agreed_deadline(offline, frozen_clock):
    _, store, p = offline()
    p.process(eml("new_request", n=1))  # Monday 16 November 2026, 09:00 UTC: inside support hours
    ticket = store.ticket(1)
    assert ticket is not None and ticket.due is None and ticket.first_response_due == "2026-11-16T17:00+00:00"
    [body] = outbox(store, "confirmation")
    assert "We will answer by 2026-11-16 17:00 UTC at the latest" in body


def test_priority_express_moves_the_first_response_target(offline, frozen_clock):
    _, store, p = offline()
    p.process(eml("new_request", n=1))
    p.process(eml("consultant_commands", n=1, ticket=1, commands="#priority express\n#due 2026-12-01", body=""))
    ticket = store.ticket(1)
    assert ticket is not None and (ticket.priority, ticket.due) == ("express", "2026-12-01")
    assert ticket.first_response_due == "2026-11-16T11:00+00:00"  # sla.express_first_response_hours = 2
    events = store.all("SELECT detail FROM events WHERE ticket = 1 AND kind = 'commands'")
    assert '"first_response_due": "2026-11-16T11:00+00:00"' in events[0]["detail"]
