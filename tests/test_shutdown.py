"""SIGTERM ends `maildesk run` within 5 seconds in every state, and nothing is lost by it."""

from __future__ import annotations

import sqlite3
import time

import pytest
from conftest import Running, eml, run_once
from servers import StallingProxy, free_port

from maildesk.daemon import open_store


def test_sigterm_while_idle(cfg, customer, dovecot, smtp):
    d = Running(cfg)
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    smtp.wait_for(1)
    time.sleep(0.3)  # back in IDLE
    took, code = d.terminate()
    assert took < 5 and code == 0, d.log.read_text()
    assert "maildesk stopped" in d.log.read_text()


def test_sigterm_mid_batch_loses_nothing(make_config, customer_factory, dovecot, smtp):
    cfg = make_config(extra="[limits]\nnew_tickets_per_hour = 100\n")
    customer_factory(cfg)
    for n in range(60):
        dovecot.append(cfg.imap.username, eml("new_request", n=n))
    d = Running(cfg)
    smtp.wait_for(3)
    took, code = d.terminate()
    assert took < 5 and code == 0, d.log.read_text()
    run_once(cfg)  # the rest is still in the INBOX and is picked up
    store = open_store(cfg)
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 60
    assert dovecot.count(cfg.imap.username, "INBOX") == 0


def test_sigterm_during_a_stuck_parse_keeps_the_message(make_config, customer_factory, dovecot, smtp):
    cfg = make_config(extra="[limits]\nparse_timeout = 120\n")
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    d = Running(cfg, env={"MAILDESK_STALL_AT": "parse"})  # the parse worker hangs on this message
    d.wait_log("maildesk running")
    time.sleep(1.5)
    took, code = d.terminate()
    assert took < 5 and code == 0, d.log.read_text()
    assert dovecot.count(cfg.imap.username, "INBOX") == 1
    assert open_store(cfg).one("SELECT COUNT(*) AS n FROM quarantine")["n"] == 0  # not mistaken for a bad mail


@pytest.mark.parametrize("down", ["imap", "smtp"])
def test_sigterm_while_a_server_is_down(make_config, customer_factory, dovecot, smtp, down):
    cfg = make_config(**{f"{down}_port": free_port()})
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    d = Running(cfg)
    d.wait_log("unreachable" if down == "smtp" else "retrying with backoff")
    took, code = d.terminate()
    assert took < 5 and code == 0, d.log.read_text()


def test_sigterm_on_a_stalled_imap_connection(make_config, customer_factory, dovecot, smtp):
    proxy = StallingProxy(dovecot.port)
    try:
        cfg = make_config(imap_port=proxy.port)
        customer_factory(cfg)
        d = Running(cfg)
        d.wait_log("maildesk running")
        time.sleep(1)
        proxy.stall_all()  # the IDLE connection now says nothing, and the socket stays open
        dovecot.append(cfg.imap.username, eml("new_request", n=1))
        time.sleep(0.5)
        took, code = d.terminate()
        assert took < 5 and code == 0, d.log.read_text()
    finally:
        proxy.close()


def test_sigterm_while_another_process_holds_the_database(cfg, customer, dovecot, smtp):
    """Blocked inside SQLite's busy wait (C code, deaf to signals): the forced exit still ends it in time."""
    d = Running(cfg)
    d.wait_log("maildesk running")
    time.sleep(0.5)
    other = sqlite3.connect(str(cfg.data_dir / "maildesk.db"))
    other.execute("BEGIN IMMEDIATE")
    try:
        dovecot.append(cfg.imap.username, eml("new_request", n=1))
        time.sleep(1.5)  # the daemon now waits for the write lock
        took, code = d.terminate()
    finally:
        other.rollback()
        other.close()
    assert took < 5, d.log.read_text()
    assert dovecot.count(cfg.imap.username, "INBOX") == 1  # nothing committed, nothing moved: nothing lost
    run_once(cfg)
    assert open_store(cfg).one("SELECT COUNT(*) AS n FROM tickets")["n"] == 1
