"""A backlog drains in bounded batches, and mail that arrives meanwhile does not wait behind it."""

from __future__ import annotations

import asyncio

from conftest import eml

from maildesk import daemon as daemon_module
from maildesk.daemon import Daemon, open_store
from maildesk.inbound.fetch import BATCH_BYTES, BATCH_COUNT, fetch_batches, literals_by_uid, uid_set


def test_uid_sets_fold_runs():
    assert uid_set([9, 1, 2, 3, 7, 10, 3]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"


def test_each_literal_gets_the_uid_named_before_or_after_it():
    lines = [b"1 FETCH (UID 11 BODY[] {3}", bytearray(b"one"), b")",
             b"2 FETCH (BODY[] {3}", bytearray(b"two"), b" UID 12)",  # a server may name the UID after the body
             b"3 FETCH (BODY[] {5}", bytearray(b"three"), b")",  # no UID at all: not guessed
             b"Fetch completed."]
    assert literals_by_uid(lines) == {11: b"one", 12: b"two"}


def test_batches_are_bounded_in_count_and_bytes_and_a_huge_mail_comes_alone():
    small = dict.fromkeys(range(1, 2 * BATCH_COUNT + 2), 1000)
    assert [len(b) for b in fetch_batches(small, too_large=10**9)] == [BATCH_COUNT, BATCH_COUNT, 1]
    sizes = {1: 1000, 2: BATCH_BYTES, 3: 1000, 4: 3 * BATCH_BYTES, 5: 1000}
    assert fetch_batches(sizes, too_large=10**9) == [[1], [2], [3], [4], [5]]
    assert fetch_batches(sizes, too_large=BATCH_BYTES - 1) == [[1, 2, 3, 4, 5]]  # headers only: they weigh nothing


def test_a_mail_arriving_during_a_backlog_goes_first_and_so_does_its_answer(make_config, customer_factory, dovecot,
                                                                             smtp, monkeypatch):
    cfg = make_config(extra="[limits]\nnew_tickets_per_hour = 1000\nauto_per_known_day = 1000\n")
    customer_factory(cfg)
    for n in range(1, 121):
        dovecot.append(cfg.imap.username, eml("new_request", n=n))
    monkeypatch.setattr(daemon_module, "FRESH_EVERY", 0.0)  # look for new mail between every two windows
    d = Daemon(cfg)
    take, calls = d.take, []

    async def take_and_meanwhile_a_customer_writes(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 1:
            dovecot.append(cfg.imap.username, eml("new_request", n=999).replace(b"Printer on fire", b"Urgent"))
        return await take(*args, **kwargs)

    monkeypatch.setattr(d, "take", take_and_meanwhile_a_customer_writes)
    asyncio.run(d.run(once=True))
    store = open_store(cfg)
    urgent = store.one("SELECT number FROM tickets WHERE subject = 'Urgent'")["number"]
    assert urgent == daemon_module.WINDOW + 1  # right after the first window, not after all 120
    assert max(len(batch) for batch in calls) <= BATCH_COUNT
    priorities = {r["ticket"]: r["priority"] for r in store.all("SELECT ticket, priority FROM outbox")}
    assert priorities[urgent] == 0 and priorities[1] == 1  # the backlog's confirmations wait behind its
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 121
    assert dovecot.count(cfg.imap.username, "INBOX") == 0
    assert len(smtp.wait_for(121)) == 121
