"""What the operator CLI shows: rows as plain dicts, ready for a table or JSON (shapes fixed by the README)."""

from __future__ import annotations

from typing import Any

from maildesk.store.base import StoreBase
from maildesk.store.rows import Ticket
from maildesk.store.tickets import tickets

Rows = list[dict[str, Any]]


class ReportStore(StoreBase):
    """Read-only queries for `maildesk ticket|quarantine|outbox|customer|contact ...`."""

    def ticket_rows(self) -> Rows:
        return self.all("SELECT number, status, queue, priority, customer_id AS customer, requester, assignee, "
                        "subject, created, updated FROM tickets ORDER BY number")

    def message_rows(self, ticket: int) -> Rows:
        """A ticket's mails, each with its attachments' metadata."""
        out = []
        for m in self.all("SELECT * FROM messages WHERE ticket = ? ORDER BY id", (ticket,)):
            atts = self.all("SELECT filename, size, sha256, purged FROM attachments WHERE message = ? ORDER BY id",
                            (m["id"],))
            out.append({"direction": m["direction"], "from": m["from_addr"], "to": m["to_addrs"], "date": m["date"],
                        "subject": m["subject"], "message_id": m["message_id"], "text": m["text"],
                        "attachments": atts})
        return out

    def outbox_rows(self, ticket: int | None = None) -> Rows:
        """Outgoing mails (of one ticket, or all) with their delivery state."""
        if ticket is not None:
            return self.all("SELECT id, kind, rcpt AS \"to\", subject, status, attempts, last_error, created, sent_at "
                            "FROM outbox WHERE ticket = ? ORDER BY id", (ticket,))
        return self.all("SELECT id, ticket, kind, rcpt AS \"to\", status, attempts, next_attempt, last_error, subject "
                        "FROM outbox ORDER BY id")

    def event_rows(self, *, ticket: int | None = None, key: str | None = None) -> Rows:
        """The decision log of a ticket or of one message (by its key)."""
        if ticket is not None:
            return self.all("SELECT kind, detail, created FROM events WHERE ticket = ? ORDER BY id", (ticket,))
        return self.all("SELECT created, kind, detail FROM events WHERE message_key = ? ORDER BY id", (key,))

    def held_rows(self) -> Rows:
        return self.all("SELECT id, reason, sender, subject, date, attempts, status FROM quarantine "
                        "WHERE status = 'held' ORDER BY id")

    def contact_rows(self, cid: str) -> Rows:
        return self.all("SELECT email, CASE admin WHEN 1 THEN 'yes' ELSE '' END AS admin, added_by, created "
                        "FROM contacts WHERE customer_id = ? ORDER BY created", (cid,))

    def customers_of_rows(self, email: str) -> Rows:
        return self.all("SELECT c.customer_id, cu.name, CASE c.admin WHEN 1 THEN 'yes' ELSE '' END AS admin, "
                        "c.added_by, c.created FROM contacts c JOIN customers cu ON cu.id = c.customer_id "
                        "WHERE c.email = ? ORDER BY c.created", (email,))

    def health_rows(self) -> dict[str, Any]:
        """What `maildesk status` shows: the daemon's last heartbeat, the outbox, the quarantine, the tickets."""
        outbox = self.all("SELECT status, COUNT(*) AS n, MIN(created) AS oldest FROM outbox "
                          "WHERE status IN ('pending', 'sending', 'dead') GROUP BY status")
        deferred = self.one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND attempts > 0")
        return {
            "daemon": self.one("SELECT pid, started, heartbeat, last_fetch, imap, smtp FROM daemon WHERE id = 1"),
            "outbox": {r["status"]: {"count": r["n"], "oldest": r["oldest"]} for r in outbox},
            "deferred": int(deferred["n"]) if deferred else 0,
            "quarantine": {r["reason"]: r["n"] for r in self.all(
                "SELECT reason, COUNT(*) AS n FROM quarantine WHERE status = 'held' GROUP BY reason")},
            "tickets": {r["status"]: r["n"]
                        for r in self.all("SELECT status, COUNT(*) AS n FROM tickets GROUP BY status")},
        }

    def report_tickets(self, start: str, end: str, customer: str | None = None) -> list[Ticket]:
        """Tickets opened in [start, end) or resolved in it (UTC ISO), of one customer or all."""
        sql = ("SELECT * FROM tickets WHERE ((created >= ? AND created < ?) OR (resolved_at >= ? AND resolved_at < ?))"
               + (" AND customer_id = ?" if customer else "") + " ORDER BY number")
        params: tuple[str, ...] = (start, end, start, end, *((customer,) if customer else ()))
        return tickets(self.all(sql, params))

    def report_events(self, kind: str, start: str, end: str) -> Rows:
        """Events of one kind in [start, end), with their ticket's customer."""
        return self.all("SELECT e.ticket, e.detail, e.created, t.customer_id FROM events e LEFT JOIN tickets t "
                        "ON t.number = e.ticket WHERE e.kind = ? AND e.created >= ? AND e.created < ? ORDER BY e.id",
                        (kind, start, end))

    def answers(self, start: str, end: str) -> Rows:
        """Consultants' answers relayed to customers in [start, end): who, on which ticket, when."""
        return self.all("SELECT ticket, from_addr, created FROM messages WHERE direction = 'out' AND created >= ? "
                        "AND created < ? ORDER BY id", (start, end))
