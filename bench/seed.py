"""Seed a maildesk database with N old tickets quickly (a desk that has grown for years).

    python bench/seed.py rules.toml 100000

Each ticket gets the rows a real one has: the ticket (most resolved, one in 50 open,
with response and resolution targets), its first message, an inbound row, two events
and a thread id. Then the escalation job looks at the open ones once, as a running desk's
job did long ago, so their next moments are stored (a grown desk's steady state; the first
pass after an upgrade or a change of [[hours]] costs about 0.2 ms an open ticket, once).
Rows go in with executemany in one transaction; 100,000 tickets take a few seconds.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

from maildesk.act.escalate import escalate
from maildesk.config import load
from maildesk.pipeline import Pipeline
from maildesk.store import open_store


def seed(rules: Path, count: int, customer: str = "1") -> float:
    cfg = load(rules)
    open_store(cfg).close()  # the schema, migrated
    t0 = time.perf_counter()
    db = sqlite3.connect(cfg.data_dir / "maildesk.db")
    start = db.execute("SELECT COALESCE(MAX(number), 0) FROM tickets").fetchone()[0]
    stamp = "2025-01-01T09:00:00+00:00"
    tickets, messages, inbound, events, threads = [], [], [], [], []
    for k in range(start + 1, start + count + 1):
        status = "open" if k % 50 == 0 else "resolved"
        sender = f"old{k % 500}@seed.test"
        # an open ticket has its targets (far ahead: the escalation job looks at it every run, and sends nothing)
        due = ("2030-01-01T09:00:00+00:00", "2030-06-01T09:00:00+00:00") if status == "open" else (None, None)
        tickets.append((k, f"Old request {k}", status, "general", "normal", customer, sender, sender, "cs", stamp,
                        stamp, *due))
        messages.append((k, k, "in", f"<seed-{k}@seed.test>", f"seedkey{k}", sender, "helpdesk@example.test", stamp,
                         f"Old request {k}", "text " * 40, stamp))
        inbound.append((f"seedkey{k}", f"seed-{k}@seed.test", sender, f"Old request {k}", "new", k, stamp))
        events += [(k, f"seedkey{k}", "new", "{}", stamp), (k, None, "status", "{}", stamp)]
        threads.append((f"seed-{k}@seed.test", k))
    with db:
        db.executemany("INSERT INTO tickets (number, subject, status, queue, priority, customer_id, requester, "
                       "comm_address, language, created, updated, first_response_due, resolution_due) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", tickets)
        db.executemany("INSERT INTO messages (id, ticket, direction, message_id, message_key, from_addr, to_addrs, "
                       "date, subject, text, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)", messages)
        db.executemany("INSERT INTO inbound (key, message_id, sender, subject, outcome, ticket, updated) "
                       "VALUES (?,?,?,?,?,?,?)", inbound)
        db.executemany("INSERT INTO events (ticket, message_key, kind, detail, created) VALUES (?,?,?,?,?)", events)
        db.executemany("INSERT INTO thread_ids (message_id, ticket) VALUES (?,?)", threads)
    db.close()
    store = open_store(cfg)
    escalate(Pipeline(cfg, store).desk)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the measured run must not pay for the seeding's WAL
    store.close()
    return time.perf_counter() - t0


if __name__ == "__main__":
    n = int(sys.argv[2])
    print(f"seeded {n} tickets in {seed(Path(sys.argv[1]), n):.1f} s")
