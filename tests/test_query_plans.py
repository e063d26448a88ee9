"""Flat cost as the desk grows: no statement a mail causes scans tickets, messages, outbox or events.

The caps' counts over the outbox are answered from a covering index: the rows under one
address (a consultant is told of every new ticket) are never read one by one.

Every statement the pipeline runs for a mix of mails (new requests, replies by tag and by
References, a consultant's answer and commands, a stranger, attachments, credentials, a
password reset request), the outbox sender's queries, the caps, the queue position and the
escalation job (every minute) is captured from SQLite itself and its plan checked with
EXPLAIN QUERY PLAN.
"""

from __future__ import annotations

import re

from conftest import eml

from maildesk.act.escalate import escalate
from maildesk.outbound.smtp import OutboxSender

BIG = ("tickets", "messages", "outbox", "events", "inbound", "attachments", "thread_ids", "quarantine")
SCAN = re.compile(rf"\bSCAN ({'|'.join(BIG)})\b")


def test_no_statement_of_a_mail_scans_a_growing_table(offline):
    cfg, store, pipeline = offline(extra='[[consultant]]\nemail = "petr@example.test"\nname = "Petr"\n'
                                         'queues = ["general"]\n')
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    first = pipeline.process(eml("new_request_attachment", n=1))
    for raw in (eml("reply_with_attachment", n=1, ticket=first.ticket), eml("references_only"), eml("stranger"),
                eml("credentials_plain"), eml("new_request", n=2), eml("reply_gmail_en", ticket=first.ticket),
                eml("consultant_commands", n=1, ticket=first.ticket, commands="#status waiting\n#take",
                    body="Looking into it."),
                eml("new_request", n=3).replace(b"Subject: Printer on fire", b"Subject: #status")):
        pipeline.process(raw)
    store.due_mail()
    sender = OutboxSender(cfg, store)
    sender.release_stale_claims()
    row = store.due_mail()[0]
    sender._claim([row])
    store.unclaim_mails([row.id], 0)
    sender._mark(row, row.status, None)
    store.set_watermark("INBOX", 1, 9)
    escalate(pipeline.desk)  # every minute: it reads the tickets that are due, not every open one
    escalate(pipeline.desk)
    store.db.conn.set_trace_callback(None)

    checked, scans = set(), []
    for sql in statements:
        text = sql.strip()
        if not re.match(r"(?is)(WITH|SELECT|UPDATE|DELETE)\b", text) or "sqlite_master" in text:
            continue
        shape = re.sub(r"'[^']*'|\b\d+(\.\d+)?\b", "?", text)
        if shape in checked:
            continue
        checked.add(shape)
        plan = " / ".join(r[3] for r in store.db.conn.execute("EXPLAIN QUERY PLAN " + text))
        if SCAN.search(plan):
            scans.append(f"{shape[:140]}\n    -> {plan}")
        if text.startswith("SELECT COUNT(*)") and " FROM outbox " in text and "COVERING INDEX" not in plan:
            scans.append(f"a cap's count reads outbox rows: {shape[:140]}\n    -> {plan}")  # thousands for a consultant
    assert len(checked) >= 30  # the capture saw the whole flow, not a corner of it
    assert scans == [], "\n".join(scans)


def test_queue_position_counts_express_first_then_by_number(offline):
    store = offline()[1]
    tickets = [(1, "normal", "open"), (2, "express", "open"), (3, "normal", "open"), (4, "normal", "resolved"),
               (5, "express", "open"), (6, "normal", "open"), (7, "normal", "open")]
    for number, priority, status in tickets:
        store.insert("tickets", {"number": number, "subject": "s", "status": status, "queue": "general",
                                 "priority": priority, "requester": "a@b.test", "comm_address": "a@b.test",
                                 "language": "en", "created": "2026-01-01", "updated": "2026-01-01"})
    store.insert("tickets", {"number": 8, "subject": "s", "status": "open", "queue": "other", "priority": "express",
                             "requester": "a@b.test", "comm_address": "a@b.test", "language": "en",
                             "created": "2026-01-01", "updated": "2026-01-01"})
    order = {n: store.queue_position("general", n, p) for n, p, s in tickets if s == "open"}
    assert order == {2: 1, 5: 2, 1: 3, 3: 4, 6: 5, 7: 6}  # express by number, then the rest by number
