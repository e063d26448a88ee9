"""Nothing twice under concurrency: one message delivered by many processes at once makes one ticket."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, cli, eml

from maildesk.daemon import open_store


@pytest.mark.parametrize("processes", [3, 12])
def test_same_message_piped_into_ingest_at_once_opens_one_ticket(make_config, customer_factory, smtp, tmp_path,
                                                                 processes):
    cfg = make_config(jana_queues='"general"')
    customer_factory(cfg)
    (tmp_path / "m.eml").write_bytes(eml("new_request_attachment", n=1))
    argv = [sys.executable, "-m", "maildesk", "--config", str(cfg.path), "ingest", str(tmp_path / "m.eml")]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
             for _ in range(processes)]
    results = [(p.wait(timeout=100), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _, _ in results), results
    outcomes = [json.loads(out) for _, out, _ in results]
    assert {(o["outcome"], o["ticket"]) for o in outcomes} == {("new", 1)}
    assert sum(not o["duplicate"] for o in outcomes) == 1
    store = open_store(cfg)
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 1
    assert store.one("SELECT COUNT(*) AS n FROM messages")["n"] == 1
    assert store.one("SELECT COUNT(*) AS n FROM attachments")["n"] == 1
    kinds = sorted(r["kind"] for r in store.all("SELECT kind FROM outbox"))
    assert kinds == ["confirmation", "consultant_new"]
    assert len(smtp.wait_for(3, timeout=0.3)) == 2  # one confirmation, one notification: nothing twice


def test_the_same_message_twice_in_the_inbox_opens_one_ticket(cfg, customer, dovecot, smtp):
    from conftest import run_once
    raw = (FIXTURES / "new_request.eml").read_bytes().replace(b"{n}", b"1").replace(b"\n", b"\r\n")
    dovecot.append(cfg.imap.username, raw)
    dovecot.append(cfg.imap.username, raw)
    run_once(cfg)
    store = open_store(cfg)
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 1
    assert dovecot.count(cfg.imap.username, cfg.imap.processed_folder) == 2
    assert [r["kind"] for r in store.all("SELECT kind FROM outbox")] == ["confirmation"]


def test_one_message_delivered_through_two_aliases_opens_one_ticket(cfg, customer, smtp, tmp_path):
    """Each delivery adds its own trace fields (and an MTA pipe may use LF where IMAP uses CRLF)."""
    raw = eml("new_request", n=1)
    first = b"Return-Path: <alice@acme.test>\r\nDelivered-To: helpdesk@example.test\r\n" \
            b"Received: from mx1.example.test by mail.example.test;\r\n Mon, 16 Nov 2026 09:00:01 +0100\r\n" + raw
    second = (b"Return-Path: <alice@acme.test>\r\nDelivered-To: support@example.test\r\nX-Original-To: "
              b"support@example.test\r\nReceived: from mx2.example.test by mail.example.test;\r\n"
              b" Mon, 16 Nov 2026 09:00:07 +0100\r\nX-Spam-Score: 0.1\r\n" + raw).replace(b"\r\n", b"\n")
    outcomes = []
    for n, data in enumerate((first, second)):
        (tmp_path / f"{n}.eml").write_bytes(data)
        out = cli(cfg, "ingest", str(tmp_path / f"{n}.eml"))
        assert out.returncode == 0, out.stderr
        outcomes.append(json.loads(out.stdout))
    assert [(o["outcome"], o["ticket"], o["duplicate"]) for o in outcomes] == [("new", 1, False), ("new", 1, True)]
    assert open_store(cfg).one("SELECT COUNT(*) AS n FROM tickets")["n"] == 1


def test_a_different_body_is_a_different_message():
    from maildesk.inbound.headers import message_key
    raw = eml("new_request", n=1)
    assert message_key(b"Received: from x;\r\n by y\r\n" + raw) == message_key(raw.replace(b"\r\n", b"\n"))
    assert message_key(raw) != message_key(raw.replace(b"on fire", b"on ice"))
    assert message_key(raw) != message_key(raw.replace(b"Subject: Printer", b"Subject: Scanner"))


def test_a_message_processed_before_the_key_change_is_still_a_duplicate(cfg, customer, smtp, tmp_path):
    """Mail committed by an older maildesk (key = sha256 of the bytes) but not yet moved is not processed again."""
    import hashlib
    raw = b"Received: from mx1.example.test;\r\n Mon, 16 Nov 2026 09:00:01 +0100\r\n" + eml("new_request", n=1)
    store = open_store(cfg)
    with store.transaction():
        store.db["inbound"].insert({"key": hashlib.sha256(raw).hexdigest(), "outcome": "new", "ticket": 7,
                                    "updated": "2026-11-16T08:00:00+00:00"})
    (tmp_path / "m.eml").write_bytes(raw)
    out = json.loads(cli(cfg, "ingest", str(tmp_path / "m.eml")).stdout)
    assert (out["outcome"], out["ticket"], out["duplicate"]) == ("new", 7, True)
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 0
