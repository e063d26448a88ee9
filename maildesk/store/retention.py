"""Retention: the raw mails and attachment files of tickets closed long ago, and forgetting them.

Only the references are dropped here, in one transaction with a `purged`
event per ticket; which files are then unused is answered inside the same
transaction, so a file another ticket (or an unsent mail) still needs stays.
"""

from __future__ import annotations

from dataclasses import dataclass

from maildesk.store.mail import MailStore
from maildesk.store.rows import PurgedTicket

CLOSED_BEFORE = ("SELECT number, COALESCE(resolved_at, updated) AS closed FROM tickets "
                 "WHERE status IN ('resolved', 'closed') AND COALESCE(resolved_at, updated) < ? ORDER BY number")


class DryRun(Exception):
    """Raised inside the purge transaction to roll it back after counting."""


@dataclass(frozen=True)
class Purge:
    """What a purge dropped (or would drop): per ticket, and the files no row needs any more."""

    tickets: tuple[PurgedTicket, ...]
    unused: frozenset[str]


class RetentionStore(MailStore):
    """The queries of `maildesk purge` and the daemon's hourly retention pass."""

    def purge(self, raw_before: str | None, attachments_before: str | None, at: str, *, dry_run: bool) -> Purge:
        """Drop raw-mail and attachment references of tickets closed before the cut-offs (ISO times).

        With dry_run the same work is done and rolled back, so the answer is exact either way.
        """
        result = Purge((), frozenset())
        try:
            with self.transaction():
                found: dict[int, PurgedTicket] = {}
                for ticket in self.all(CLOSED_BEFORE, (raw_before,)) if raw_before else []:
                    raw = self._drop_raw(ticket["number"])
                    if raw:
                        found[ticket["number"]] = PurgedTicket(ticket["number"], ticket["closed"], raw, ())
                for ticket in self.all(CLOSED_BEFORE, (attachments_before,)) if attachments_before else []:
                    files = self._drop_attachments(ticket["number"], at)
                    if files:
                        old = found.get(ticket["number"])
                        found[ticket["number"]] = PurgedTicket(ticket["number"], ticket["closed"],
                                                               old.raw if old else (), files)
                candidates = {h for t in found.values() for h in (*t.raw, *(a[1] for a in t.files))}
                result = Purge(tuple(found[n] for n in sorted(found)),
                               frozenset(candidates - self.referenced_blobs()))
                for t in result.tickets:
                    self.event(t.number, None, "purged", {
                        "raw_mails": len(t.raw), "attachments": [f"{name} ({size} bytes, sha256 {sha[:16]})"
                                                                 for _, sha, name, size in t.files]})
                if dry_run:
                    raise DryRun
        except DryRun:
            pass
        return result

    def _drop_raw(self, ticket: int) -> tuple[str, ...]:
        hashes = sorted({r["h"] for r in self.all(
            "SELECT raw_sha256 AS h FROM messages WHERE ticket = ? AND raw_sha256 IS NOT NULL UNION "
            "SELECT raw_sha256 AS h FROM inbound WHERE ticket = ? AND raw_sha256 IS NOT NULL", (ticket, ticket))})
        if hashes:
            self.db.execute("UPDATE messages SET raw_sha256 = NULL WHERE ticket = ?", (ticket,))
            self.db.execute("UPDATE inbound SET raw_sha256 = NULL WHERE ticket = ?", (ticket,))
        return tuple(hashes)

    def _drop_attachments(self, ticket: int, at: str) -> tuple[tuple[int, str, str, int], ...]:
        rows = self.all("SELECT a.id, a.sha256, a.filename, a.size FROM attachments a JOIN messages m "
                        "ON m.id = a.message WHERE m.ticket = ? AND a.purged IS NULL ORDER BY a.id", (ticket,))
        if rows:
            self.db.execute("UPDATE attachments SET purged = ? WHERE purged IS NULL AND message IN "
                            "(SELECT id FROM messages WHERE ticket = ?)", (at, ticket))
            # mail already sent needs its attachments no more; unsent mail keeps them (and so the files)
            self.db.execute("UPDATE outbox SET attachments = NULL WHERE ticket = ? AND status = 'sent'", (ticket,))
        return tuple((r["id"], r["sha256"], r["filename"], r["size"]) for r in rows)
