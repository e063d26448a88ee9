"""The outbox goes out over several SMTP connections at once (smtp.connections), and still in order.

A backlog's answers are sent side by side, so the server's round trips overlap. Mails to one
recipient about one ticket keep their order; a server that is down is tried once, not once per
connection; a server that takes fewer connections than configured is used with what it takes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from conftest import eml
from servers import SmtpSink

from maildesk.config import Config, load
from maildesk.errors import ConfigError
from maildesk.outbound.smtp import OutboxSender
from maildesk.pipeline import Pipeline
from maildesk.store import open_store


class SlowSink(SmtpSink):
    """A sink that takes a while (random, seeded) over each recipient and each end of DATA, and counts
    the mails in flight at once (from RCPT to the answer after the final dot) and those at the end of
    DATA at once (where the server takes the mail: maildesk lets one lane at a time through there)."""

    def __init__(self, delay: float = 0.03, seed: int = 1) -> None:
        super().__init__()
        self.delay, self.rng = delay, random.Random(seed)
        self.in_flight = self.most = self.settling = self.most_settling = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(self.rng.uniform(0, self.delay))
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.settling += 1
        self.most_settling = max(self.most_settling, self.settling)
        try:
            await asyncio.sleep(self.rng.uniform(0, self.delay / 3))
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.settling -= 1
            self.in_flight -= 1


class OneConnection(SMTP):
    """A server that, like many smarthosts, allows a client only so many connections: here one."""

    open = 0

    def connection_made(self, transport) -> None:
        self.refused = OneConnection.open >= 1
        if self.refused:
            transport.write(b"421 too many connections from your address\r\n")
            transport.close()
            return
        OneConnection.open += 1
        super().connection_made(transport)

    def connection_lost(self, exc) -> None:
        if not self.refused:
            OneConnection.open -= 1
            super().connection_lost(exc)


class OneConnectionController(Controller):
    def factory(self):
        return OneConnection(self.handler)


def with_connections(cfg: Config, value: str) -> Config:
    """The test's rules.toml with [smtp] connections = value, loaded again."""
    text = re.sub(r"\nconnections = \S+", "", cfg.path.read_text())
    cfg.path.write_text(text.replace("retry_max = 2\n", f"retry_max = 2\nconnections = {value}\n", 1))
    return load(cfg.path)


def queue(store, rows: list[tuple[str, int | None]], first: int = 0) -> list[str]:
    """Queue one plain mail per (recipient, ticket), in this order; returns their Subjects."""
    subjects = []
    for n, (rcpt, ticket) in enumerate(rows, start=first):
        subject = f"mail {n} to {rcpt} about #{ticket}"
        raw = (f"From: helpdesk@example.test\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
               f"Message-ID: <lane-{n}@example.test>\r\n\r\nbody {n}\r\n").encode()
        store.enqueue(ticket=ticket, kind="test", message_id=f"lane-{n}@example.test",
                      mail_from="helpdesk@example.test", rcpt=rcpt, subject=subject, raw=raw, attachments=None)
        subjects.append(subject)
    return subjects


def test_a_backlog_of_answers_goes_out_over_several_connections_at_once(make_config, customer_factory):
    sink = SlowSink().start()
    try:
        cfg = make_config(smtp_port=sink.port, jana_queues='"general"')
        customer_factory(cfg)
        store = open_store(cfg)
        pipeline = Pipeline(cfg, store)
        for n in range(1, 9):
            pipeline.process(eml("new_request", n=n))
        total = len(store.all("SELECT id FROM outbox"))
        assert total == 16  # a confirmation to Alice and a notification to Jana per ticket

        assert asyncio.run(OutboxSender(cfg, store).flush()) == total
        got = sink.wait_for(total)
        assert len({r.message["Message-ID"] for r in got}) == len(got) == total  # each once
        assert 2 <= sink.most <= cfg.smtp.connections == 4
        assert sink.most_settling == 1  # but one at a time past the final dot: a crash repeats at most one
        assert store.all("SELECT id FROM outbox WHERE status != 'sent'") == []
    finally:
        sink.stop()


def test_one_connection_sends_one_mail_at_a_time(make_config, customer_factory):
    sink = SlowSink().start()
    try:
        cfg = with_connections(make_config(smtp_port=sink.port, jana_queues='"general"'), "1")
        customer_factory(cfg)
        store = open_store(cfg)
        pipeline = Pipeline(cfg, store)
        for n in range(1, 5):
            pipeline.process(eml("new_request", n=n))
        assert asyncio.run(OutboxSender(cfg, store).flush()) == 8
        assert sink.most == 1
    finally:
        sink.stop()


def test_mails_to_one_recipient_about_one_ticket_arrive_in_the_order_they_were_queued(make_config, customer_factory):
    sink = SlowSink(delay=0.02, seed=7).start()
    try:
        cfg = make_config(smtp_port=sink.port)
        customer_factory(cfg)
        store = open_store(cfg)
        pipeline = Pipeline(cfg, store)
        for n in (1, 2):
            pipeline.process(eml("new_request", n=n))
        asyncio.run(OutboxSender(cfg, store).flush())
        sink.received.clear()
        rng = random.Random(3)
        keys = [("alice@acme.test", 1), ("alice@acme.test", 2), ("bob@acme.test", 1), ("carol@else.test", None)]
        subjects = queue(store, [rng.choice(keys) for _ in range(40)])

        assert asyncio.run(OutboxSender(cfg, store).flush()) == 40
        arrived = [r.message["Subject"] for r in sink.wait_for(40)]
        assert sorted(arrived) == sorted(subjects)
        for rcpt, ticket in keys:
            mine = [s for s in subjects if s.endswith(f"to {rcpt} about #{ticket}")]
            assert [s for s in arrived if s in mine] == mine, (rcpt, ticket)
        assert sink.most >= 2  # and they did go side by side
    finally:
        sink.stop()


def test_a_server_that_is_down_is_tried_once_not_once_per_connection(offline, monkeypatch):
    import aiosmtplib
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg, store, pipeline = offline(extra=f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 2\n')
    subjects = queue(store, [(f"c{n}@else.test", None) for n in range(8)])
    connects: list[int] = []
    real_connect = aiosmtplib.SMTP.connect

    async def counted(self, *args, **kwargs):
        connects.append(1)
        return await real_connect(self, *args, **kwargs)

    monkeypatch.setattr(aiosmtplib.SMTP, "connect", counted)
    assert asyncio.run(OutboxSender(cfg, store).flush()) == 0
    assert len(connects) == 1  # the other lanes wait for the first one's answer: none came
    rows = store.all("SELECT attempts, status, claimed_by FROM outbox ORDER BY id")
    assert len(rows) == len(subjects)
    assert sum(r["attempts"] for r in rows) == 1
    assert all(r["status"] == "pending" and r["claimed_by"] is None for r in rows)


def test_a_server_that_allows_one_connection_gets_everything_over_that_one(make_config, customer_factory, caplog):
    caplog.set_level(logging.INFO, logger="maildesk.smtp")
    handler = SmtpSink()
    controller = OneConnectionController(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        cfg = make_config(smtp_port=handler.port)
        customer_factory(cfg)
        store = open_store(cfg)
        subjects = queue(store, [(f"c{n}@else.test", None) for n in range(12)])
        sender = OutboxSender(cfg, store)
        assert asyncio.run(sender.flush()) == 12
        assert sorted(r.message["Subject"] for r in handler.wait_for(12)) == sorted(subjects)
        rows = store.all("SELECT attempts, status, last_error FROM outbox")
        assert all(r["status"] == "sent" and r["attempts"] == 1 and r["last_error"] is None for r in rows)
        refusals = [r for r in caplog.records if "refused connection" in r.getMessage()]
        assert len(refusals) == 3  # lanes 2-4, each logged once

        queue(store, [(f"d{n}@else.test", None) for n in range(6)], first=100)
        caplog.clear()
        assert asyncio.run(sender.flush()) == 6  # the next flush: not logged again
        assert not [r for r in caplog.records if "refused connection" in r.getMessage()]
    finally:
        controller.stop()


def test_connections_outside_1_to_16_is_a_config_error_naming_the_key(make_config):
    cfg = make_config()
    for bad in ("0", "17", "-2"):
        with pytest.raises(ConfigError, match=r"smtp\.connections.*line \d+|line \d+.*smtp\.connections"):
            with_connections(cfg, bad)


def test_an_empty_outbox_reads_no_smtp_password(offline, monkeypatch):
    """The password is read once per flush that has mail to send, never for an empty outbox."""
    from maildesk.outbound import smtp as smtp_module
    cfg, store, _ = offline()
    reads: list[int] = []
    monkeypatch.setattr(smtp_module, "smtp_args", lambda c: reads.append(1) or {})
    assert asyncio.run(OutboxSender(cfg, store).flush()) == 0
    assert reads == []
