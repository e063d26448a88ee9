"""The outbox claims a chunk of mails in one commit; what was never on the wire goes back.

A claim keeps another maildesk process (ingest, the CLI) from sending the same mail. Claiming a
chunk at once saves a commit per mail, so the sender must give back what it never tried (the
server went away) and must not hold a claim so long that another process takes it for stale.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest
from conftest import eml

from maildesk.outbound.smtp import OutboxSender
from maildesk.pipeline import Pipeline
from maildesk.store import open_store


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_gives_back_every_mail_it_never_tried(offline):
    cfg, store, pipeline = offline(extra=f'[smtp]\nhost = "127.0.0.1"\nport = {closed_port()}\ntimeout = 2\n')
    for n in (1, 2, 3):
        pipeline.process(eml("new_request", n=n))
    queued = store.all("SELECT id FROM outbox ORDER BY id")
    assert len(queued) >= 3

    assert asyncio.run(OutboxSender(cfg, store).flush()) == 0
    rows = store.all("SELECT status, claimed_by, attempts FROM outbox ORDER BY id")
    assert all(r["status"] == "pending" and r["claimed_by"] is None for r in rows)  # nothing left 'sending'
    assert [r["attempts"] for r in rows] == [1] + [0] * (len(rows) - 1)  # one was tried, the rest never were


def test_a_slow_server_never_lets_a_claim_grow_stale(cfg, customer, smtp, frozen_clock, monkeypatch):
    store = open_store(cfg)
    pipeline = Pipeline(cfg, store)
    for n in (1, 2, 3):
        pipeline.process(eml("new_request", n=n))
    total = len(store.all("SELECT id FROM outbox"))
    sender = OutboxSender(cfg, store)
    real, claims = sender._transmit, []

    async def slow(row, data, args, lane=0, settle=None):  # every mail takes longer than the SMTP timeout to go out
        await real(row, data, args, lane, settle)
        frozen_clock["now"] += timedelta(seconds=cfg.smtp.timeout + 1)

    monkeypatch.setattr(sender, "_transmit", slow)
    real_claim = store.claim_mails
    monkeypatch.setattr(store, "claim_mails", lambda ids, pid: claims.append(len(ids)) or real_claim(ids, pid))

    assert asyncio.run(sender.flush()) == total
    assert len(smtp.wait_for(total)) == total  # each once
    assert len(claims) == total + 1  # after every slow mail the rest was claimed afresh (then: nothing left)
    assert store.all("SELECT id FROM outbox WHERE status != 'sent'") == []


def test_an_address_that_cannot_go_on_the_wire_is_dead_and_the_rest_goes_out(cfg, customer, smtp):
    """A UTF-8 local part (a contact added before check_email refused them, a hand-edited row) or an
    address that would smuggle SMTP parameters: that one mail is dead with its reason, never a crash."""
    store = open_store(cfg)
    pipeline = Pipeline(cfg, store)
    for n in (1, 2, 3):
        pipeline.process(eml("new_request", n=n))
    ids = [r["id"] for r in store.all("SELECT id FROM outbox ORDER BY id")]
    bad = {ids[0]: "müller@example.test", ids[1]: "alice@acme.test> NOTIFY=NEVER"}
    with store.transaction():
        for oid, rcpt in bad.items():
            store.update_mail(oid, rcpt=rcpt)
    assert asyncio.run(OutboxSender(cfg, store).flush()) == len(ids) - 2
    assert len(smtp.wait_for(len(ids) - 2)) == len(ids) - 2
    for oid in bad:
        row = store.outbox_mail(oid)
        assert row.status == "dead" and "address" in row.last_error, row.last_error
    assert not any(r in bad.values() for m in smtp.received for r in m.rcpts)


def test_a_server_that_knows_only_helo_still_gets_the_mail(cfg, customer, smtp):
    """EHLO answered 502: HELO instead (as aiosmtplib's sendmail did), and no SIZE, which HELO does not offer."""
    smtp.helo_only = True
    store = open_store(cfg)
    Pipeline(cfg, store).process(eml("new_request", n=1))
    total = len(store.all("SELECT id FROM outbox"))
    assert asyncio.run(OutboxSender(cfg, store).flush()) == total
    assert len(smtp.wait_for(total)) == total
    assert store.all("SELECT id FROM outbox WHERE status != 'sent'") == []


@pytest.mark.parametrize(("answer", "status"), [("550 5.1.1 no such user", "dead"), ("451 4.2.0 try later", "pending")])
def test_a_refused_recipient_is_the_servers_answer_and_the_session_goes_on(cfg, customer, smtp, answer, status):
    """RCPT TO answered 5xx: dead with the server's words; 4xx: retried later. The next mail still goes out."""
    store = open_store(cfg)
    Pipeline(cfg, store).process(eml("new_request", n=1))
    first, *rest = [r["id"] for r in store.all("SELECT id FROM outbox ORDER BY id")]
    smtp.rcpt_answer = answer
    sender = OutboxSender(cfg, store)
    with store.transaction():  # only the first is due now
        for oid in rest:
            store.update_mail(oid, next_attempt="2999-01-01T00:00:00+00:00")
    assert asyncio.run(sender.flush()) == 0
    row = store.outbox_mail(first)
    assert row.status == status and answer[:3] in row.last_error
    smtp.rcpt_answer = None
    with store.transaction():
        for oid in rest:
            store.update_mail(oid, next_attempt="2000-01-01T00:00:00+00:00")
    assert asyncio.run(sender.flush()) == len(rest)
    assert len(smtp.wait_for(len(rest))) == len(rest)
