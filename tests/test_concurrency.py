"""Nothing twice under concurrency: one message delivered by many processes at once makes one ticket."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, eml

from maildesk.daemon import open_store


@pytest.mark.parametrize("processes", [3, 12])
def test_same_message_piped_into_ingest_at_once_opens_one_ticket(make_config, customer_factory, smtp, tmp_path,
                                                                 processes):
    cfg = make_config(jana_queues='"general"')
    customer_factory(cfg)
    (tmp_path / "m.eml").write_bytes(eml("new_request_attachment", n=1))
    argv = [sys.executable, "-m", "maildesk.cli", "--config", str(cfg.path), "ingest", str(tmp_path / "m.eml")]
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
