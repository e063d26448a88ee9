"""Group commit: a batch of messages is made durable by one commit, and a failing one rolls back alone.

Inside `Store.group()` each `transaction()` is a savepoint. A message that raises undoes only its
own writes; a transient fault (the disk, a lock) ends the batch early, but what was decided before
it is committed and leaves the INBOX, and the rest waits in the INBOX for the next pass.
"""

from __future__ import annotations

import sqlite3

import pytest
from conftest import eml, run_once

from maildesk import pipeline as pipeline_module
from maildesk.errors import StorageBusy
from maildesk.store import open_store


def rows(path) -> list[str]:
    """What another connection sees: only committed rows."""
    with sqlite3.connect(path) as other:
        return [r[0] for r in other.execute("SELECT kind FROM events WHERE kind LIKE 'g%' ORDER BY id")]


def test_a_group_commits_once_and_a_failing_member_rolls_back_alone(offline):
    store = offline()[1]
    with store.group():
        with store.transaction():
            store.event(None, None, "g1", "first")
        with pytest.raises(ValueError), store.transaction():
            store.event(None, None, "g2", "undone")
            raise ValueError("this message fails")
        with store.transaction():
            store.event(None, None, "g3", "third")
        assert rows(store.path) == []  # nothing is visible (or durable) before the group's one commit
    assert rows(store.path) == ["g1", "g3"]


def test_a_group_rolled_back_by_sqlite_commits_nothing_and_is_transient(offline):
    store = offline()[1]
    with pytest.raises(StorageBusy), store.group():
        with store.transaction():
            store.event(None, None, "g1", "first")
        store.db.conn.rollback()  # what SQLite does itself on a full disk or an I/O error
        with store.transaction():
            store.event(None, None, "g2", "after the rollback")
    assert rows(store.path) == []


def test_a_transient_fault_mid_batch_keeps_what_came_before_and_leaves_the_rest(cfg, customer, dovecot, smtp,
                                                                                monkeypatch):
    real = pipeline_module.Pipeline.process

    def busy_on_the_second(self, raw, **kw):
        if b"Subject: second" in raw:
            raise StorageBusy("database is locked")
        return real(self, raw, **kw)

    for n, subject in ((1, b"first"), (2, b"second"), (3, b"third")):
        dovecot.append(cfg.imap.username, eml("new_request", n=n).replace(b"Subject: Printer on fire",
                                                                          b"Subject: " + subject))
    monkeypatch.setattr(pipeline_module.Pipeline, "process", busy_on_the_second)
    with pytest.raises(StorageBusy):
        run_once(cfg)
    store = open_store(cfg)
    assert [r["subject"] for r in store.all("SELECT subject FROM tickets")] == ["first"]
    assert dovecot.count(cfg.imap.username, "INBOX") == 2  # the busy one and the one after it wait
    assert dovecot.count(cfg.imap.username, cfg.imap.processed_folder) == 1

    monkeypatch.setattr(pipeline_module.Pipeline, "process", real)
    run_once(cfg)
    assert [r["subject"] for r in store.all("SELECT subject FROM tickets ORDER BY number")] == \
        ["first", "second", "third"]
    assert dovecot.count(cfg.imap.username, "INBOX") == 0
