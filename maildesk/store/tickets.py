"""Tickets, their messages, attachments and thread IDs."""

from __future__ import annotations

from typing import Any

from maildesk.models import Attachment, Status
from maildesk.store.base import StoreBase, now
from maildesk.store.rows import Ticket, from_row


def tickets(rows: list[dict[str, Any]]) -> list[Ticket]:
    """Ticket rows of a SELECT * (columns the dataclass does not name, such as sla_check_at, are left out)."""
    return [t for r in rows if (t := from_row(Ticket, r)) is not None]


class TicketStore(StoreBase):
    """Reads and writes of tickets and what hangs on them (writes: inside transaction())."""

    def ticket(self, number: int) -> Ticket | None:
        return from_row(Ticket, self.one("SELECT * FROM tickets WHERE number = ?", (number,)))

    def next_ticket_number(self) -> int:
        """The next number; called inside the transaction that inserts it, so there are no gaps."""
        return int(self.db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM tickets").fetchone()[0])

    def insert_ticket(self, **fields: Any) -> Ticket:
        """A new ticket row (every column named in the schema's tickets table)."""
        self.insert("tickets", {"created": now(), "updated": now(), **fields})
        ticket = self.ticket(fields["number"])
        assert ticket is not None
        return ticket

    def update_ticket(self, number: int, **changes: Any) -> Ticket:
        """Change some fields; `updated` is stamped. Returns the row as it is now.

        Any change makes the escalation job look at the ticket again on its next pass
        (sla_check_at ''): a moved target, a pause, an answer, a new plan all change its moments.
        """
        self.update("tickets", "number", number, {**changes, "updated": now(), "sla_check_at": ""})
        ticket = self.ticket(number)
        assert ticket is not None
        return ticket

    def ticket_for_ids(self, ids: list[str]) -> int | None:
        """The ticket a set of Message-IDs (In-Reply-To, References) points at, newest reference first."""
        for mid in reversed(ids):
            row = self.one("SELECT ticket FROM thread_ids WHERE message_id = ?", (mid,))
            if row:
                return int(row["ticket"])
        return None

    def link_message_id(self, message_id: str, ticket: int) -> None:
        """A Message-ID that threads replies onto the ticket (ours or the customer's)."""
        self.upsert("thread_ids", {"message_id": message_id, "ticket": ticket}, pk="message_id")

    def add_message(self, ticket: int, *, direction: str, message_id: str, message_key: str, from_addr: str,
                    to_addrs: str, date: str, subject: str, text: str, original_text: str | None, raw_sha256: str,
                    attachments: tuple[Attachment, ...]) -> int:
        """A mail on a ticket with its attachments' metadata (the bytes are blobs); returns the message's id."""
        mid = self.insert("messages", {
            "ticket": ticket, "direction": direction, "message_id": message_id, "message_key": message_key,
            "from_addr": from_addr, "to_addrs": to_addrs, "date": date, "subject": subject, "text": text,
            "original_text": original_text, "raw_sha256": raw_sha256, "created": now(),
        })
        for att in attachments:
            self.insert("attachments", {"message": mid, "filename": att.filename,
                                           "content_type": att.content_type, "size": att.size, "sha256": att.sha256})
        if message_id:
            self.link_message_id(message_id, ticket)
        return mid

    def first_message_id(self, ticket: int) -> str:
        """The Message-ID of the mail that opened the ticket ('' when it had none)."""
        row = self.one("SELECT message_id FROM messages WHERE ticket = ? ORDER BY id LIMIT 1", (ticket,))
        return str(row["message_id"] or "") if row else ""

    def last_customer_message_id(self, ticket: int) -> str:
        """The Message-ID of the customer's latest mail on the ticket, which an answer replies to."""
        row = self.one("SELECT message_id FROM messages WHERE ticket = ? AND direction = 'in' AND message_id != '' "
                       "ORDER BY id DESC LIMIT 1", (ticket,))
        return str(row["message_id"]) if row else ""

    def queue_position(self, queue: str, number: int, priority: str = "normal") -> int:
        """How many open tickets of the queue are ahead of this one, plus one: express tickets go first.

        Counted from the indexes (queue, status) and (queue, status, priority), which hold the number
        too: index entries only, never a ticket row, however many tickets the queue has.
        """
        def count(where: str, *params: object) -> int:
            row = self.one(f"SELECT COUNT(*) AS n FROM tickets WHERE queue = ? AND status = ? AND {where}",
                           (queue, Status.OPEN.value, *params))
            return int(row["n"]) if row else 0

        express_before = count("priority = 'express' AND number < ?", number)
        if priority == "express":
            return express_before + 1
        express_after = count("priority = 'express' AND number > ?", number)
        return count("number < ?", number) + express_after + 1

    def has_customer_ticket(self, address: str) -> bool:
        """Did the address request (or receive mail of) a ticket of a customer, e.g. by credentials?"""
        return self.one("SELECT 1 AS x FROM tickets WHERE (requester = ? OR comm_address = ?) "
                        "AND customer_id IS NOT NULL LIMIT 1", (address, address)) is not None

    def sla_tickets(self, now: str) -> list[Ticket]:
        """Open tickets the escalation job must look at (`now`: UTC, to the minute, as stamped): those
        changed since its last pass and those whose next warning or breach moment has come."""
        return tickets(self.all("SELECT * FROM tickets WHERE status = ? AND sla_check_at <= ? ORDER BY number",
                                (Status.OPEN.value, now)))

    def set_sla_checks(self, checks: list[tuple[int, str | None]]) -> None:
        """When the escalation job must look at each ticket next (None: nothing is left to tell)."""
        for number, at in checks:
            self.update("tickets", "number", number, {"sla_check_at": at})

    def sla_basis(self, fingerprint: str) -> None:
        """The stored moments were computed from hours, plans and thresholds; when those changed
        (a reload, a new release), every open ticket is looked at again."""
        row = self.one("SELECT value FROM settings WHERE key = 'sla'")
        if row is None or row["value"] != fingerprint:
            self._write("UPDATE tickets SET sla_check_at = '' WHERE status = ?", [Status.OPEN.value])
            self.upsert("settings", {"key": "sla", "value": fingerprint}, "key")

    def has_event(self, ticket: int, kind: str) -> bool:
        return self.one("SELECT 1 AS x FROM events WHERE ticket = ? AND kind = ? LIMIT 1", (ticket, kind)) is not None

    def due_rows(self, before: str) -> list[dict[str, Any]]:
        """Unfinished tickets with a target due before `before` (UTC ISO), soonest first."""
        return self.all(
            "SELECT number, status, queue, priority, plan, customer_id AS customer, requester, assignee, subject, "
            "first_response_due, resolution_due, created, updated FROM tickets WHERE status NOT IN ('resolved', "
            "'closed') AND ((first_response_at IS NULL AND first_response_due < ?) OR "
            "(resolved_at IS NULL AND resolution_due < ?)) ORDER BY MIN(COALESCE(first_response_due, resolution_due), "
            "COALESCE(resolution_due, first_response_due))", (before, before))

    def open_counts(self, emails: list[str]) -> dict[str, int]:
        """Open tickets assigned to each of these consultants (for least-open assignment)."""
        counts = dict.fromkeys(emails, 0)
        for r in self.all("SELECT assignee, COUNT(*) AS n FROM tickets WHERE status = ? AND assignee IS NOT NULL "
                          "GROUP BY assignee", (Status.OPEN.value,)):
            if r["assignee"] in counts:
                counts[r["assignee"]] = int(r["n"])
        return counts

    def last_assignee(self, queue: str) -> str | None:
        """Who got the queue's newest assigned ticket (for round-robin)."""
        row = self.one("SELECT assignee FROM tickets WHERE queue = ? AND assignee IS NOT NULL ORDER BY number DESC "
                       "LIMIT 1", (queue,))
        return str(row["assignee"]) if row else None

    def open_tickets_of(self, customer_id: str | None, address: str) -> list[Ticket]:
        """Unfinished tickets of a customer (or, without one, of the address), oldest first (#status)."""
        who, value = ("customer_id = ?", customer_id) if customer_id else ("customer_id IS NULL AND requester = ?",
                                                                          address)
        rows = self.all(f"SELECT * FROM tickets WHERE {who} AND status NOT IN ('resolved', 'closed') ORDER BY number",
                        (value,))
        return tickets(rows)
