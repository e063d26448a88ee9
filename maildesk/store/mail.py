"""Mail in and out: inbound outcomes, quarantine, outbox, bounce flags, notice limits, IMAP watermarks."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from maildesk import clock
from maildesk.models import HeldState, MailState
from maildesk.store.base import StoreBase, now
from maildesk.store.rows import BounceFlag, Held, Inbound, OutboxMail, Watermark, from_row


class MailStore(StoreBase):
    """The bookkeeping of messages (writes: inside transaction(), unless a method says it holds its own)."""

    # -- inbound ------------------------------------------------------------------

    def inbound(self, key: str) -> Inbound | None:
        return from_row(Inbound, self.one("SELECT * FROM inbound WHERE key = ?", (key,)))

    def record_inbound(self, key: str, **facts: Any) -> None:
        """Write (or update) what became of one message."""
        self.upsert("inbound", {"key": key, **facts, "updated": now()}, pk="key")

    def count_processing_failure(self, key: str, error: str, **facts: Any) -> int:
        """Count one failed processing attempt of a message (own transaction); returns the attempts so far."""
        with self.transaction():
            row = self.inbound(key)
            attempts = (row.attempts if row else 0) + 1
            self.record_inbound(key, attempts=attempts, last_error=error[:2000], **facts)
        return attempts

    # -- quarantine ---------------------------------------------------------------

    def hold(self, *, key: str, reason: str, sender: str, subject: str, date: str, raw_sha256: str,
             attempts: int) -> int:
        """Quarantine a message; returns its quarantine ID."""
        return self.insert("quarantine", {
            "key": key, "reason": reason, "sender": sender, "subject": subject, "date": date,
            "raw_sha256": raw_sha256, "attempts": attempts, "status": HeldState.HELD.value, "created": now(),
        })

    def held(self, qid: int) -> Held | None:
        return from_row(Held, self.one("SELECT * FROM quarantine WHERE id = ?", (qid,)))

    def set_held_status(self, qid: int, status: HeldState) -> None:
        self.update("quarantine", "id", qid, {"status": status.value})

    # -- outbox -------------------------------------------------------------------

    def enqueue(self, *, ticket: int | None, kind: str, message_id: str, mail_from: str, rcpt: str, subject: str,
                raw: bytes, attachments: str | None, priority: int = 0) -> None:
        """Queue a mail; priority 1 (a backlog's mail) goes after every due mail of priority 0."""
        self.insert("outbox", {
            "ticket": ticket, "kind": kind, "message_id": message_id, "mail_from": mail_from, "rcpt": rcpt,
            "subject": subject, "raw": raw, "attachments": attachments, "status": MailState.PENDING.value,
            "attempts": 0, "next_attempt": now(), "created": now(), "priority": priority,
        })

    def heartbeat(self, pid: int | None, *, started: str | None = None, last_fetch: str | None = None,
                  imap: str = "", smtp: str = "") -> None:
        """The running daemon's liveness, for `maildesk status` (own transaction; pid None: stopped)."""
        with self.transaction():
            row = {"id": 1, "pid": pid, "heartbeat": now(), "last_fetch": last_fetch, "imap": imap, "smtp": smtp}
            if started:
                row["started"] = started
            self.upsert("daemon", row, pk="id")

    def pending_mail_count(self) -> int:
        row = self.one("SELECT COUNT(*) AS n FROM outbox WHERE status IN ('pending', 'sending')")
        return int(row["n"]) if row else 0

    def outbox_mail(self, oid: int) -> OutboxMail | None:
        return from_row(OutboxMail, self.one("SELECT * FROM outbox WHERE id = ?", (oid,)))

    def outbox_by_message_id(self, message_id: str) -> OutboxMail | None:
        return from_row(OutboxMail, self.one("SELECT * FROM outbox WHERE message_id = ?", (message_id,)))

    def due_mail(self, limit: int = 50, max_priority: int = 1) -> list[OutboxMail]:
        """Pending mails whose time has come: live mail first, then a backlog's; oldest first within each."""
        rows = self.all("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt <= ? AND priority <= ? "
                        "ORDER BY priority, id LIMIT ?", (now(), max_priority, limit))
        return [OutboxMail(**r) for r in rows]

    def claim_mails(self, ids: list[int], pid: int) -> set[int]:
        """Mark pending mails as being sent by process `pid`, in one transaction; returns those it got."""
        got = set()
        with self.transaction():
            at = now()
            for oid in ids:
                cur = self.db.execute("UPDATE outbox SET status = 'sending', next_attempt = ?, claimed_by = ? "
                                      "WHERE id = ? AND status = 'pending'", (at, pid, oid))
                if cur.rowcount == 1:
                    got.add(oid)
        return got

    def unclaim_mails(self, ids: list[int], pid: int) -> None:
        """Give back claimed mails that were never tried (one transaction): pending again, due now."""
        if ids:
            with self.transaction():
                for oid in ids:
                    self.db.execute("UPDATE outbox SET status = 'pending', claimed_by = NULL "
                                    "WHERE id = ? AND status = 'sending' AND claimed_by = ?", (oid, pid))

    def sending(self) -> list[OutboxMail]:
        return [OutboxMail(**r) for r in self.all("SELECT * FROM outbox WHERE status = 'sending'")]

    def update_mail(self, oid: int, **changes: Any) -> None:
        self.update("outbox", "id", oid, changes)

    def count_mail(self, *, rcpt: str | None = None, ticket: int | None = None, kinds: tuple[str, ...] = (),
                   not_kind: str | None = None, since: datetime) -> int:
        """Outbox mails created since `since`, filtered by recipient, ticket and kind (for the caps)."""
        where: list[str] = ["created >= ?"]
        params: list[object] = [since.isoformat(timespec="seconds")]
        for column, value in (("rcpt", rcpt), ("ticket", ticket)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        if not_kind is not None:
            where.append("kind != ?")
            params.append(not_kind)
        row = self.one(f"SELECT COUNT(*) AS n FROM outbox WHERE {' AND '.join(where)}", params)
        return int(row["n"]) if row else 0

    # -- bounce flags and notice limits ---------------------------------------------

    def bounce_flag(self, address: str) -> BounceFlag | None:
        return from_row(BounceFlag, self.one("SELECT * FROM bounced WHERE address = ?", (address.lower(),)))

    def flag_bounced(self, address: str, outbox: int) -> None:
        self.upsert("bounced", {"address": address.lower(), "at": now(), "outbox": outbox}, pk="address")

    def clear_bounce_flag(self, address: str) -> bool:
        return bool(self.db.execute("DELETE FROM bounced WHERE address = ?", (address.lower(),)).rowcount)

    def notice_allowed(self, address: str, kind: str, interval_hours: int) -> bool:
        """True (and remembered) when `address` got no `kind` notice in the interval."""
        row = self.one("SELECT last_sent FROM notices WHERE address = ? AND kind = ?", (address, kind))
        if row and (clock.now() - datetime.fromisoformat(row["last_sent"])).total_seconds() < interval_hours * 3600:
            return False
        self.upsert("notices", {"address": address, "kind": kind, "last_sent": now()}, pk=("address", "kind"))
        return True

    def forget_notices(self, before: datetime) -> int:
        """Drop notice entries older than `before` (own transaction); returns how many."""
        with self.transaction():
            return int(self.db.execute("DELETE FROM notices WHERE last_sent < ?",
                                       (before.isoformat(timespec="seconds"),)).rowcount)

    # -- IMAP watermarks and blobs ----------------------------------------------------

    def watermark(self, mailbox: str) -> Watermark | None:
        return from_row(Watermark, self.one("SELECT * FROM watermarks WHERE mailbox = ?", (mailbox,)))

    def set_watermark(self, mailbox: str, uidvalidity: int, uid: int) -> None:
        """Raise the watermark of a mailbox (own transaction); it never moves back under the same UIDVALIDITY."""
        with self.transaction():
            mark = self.watermark(mailbox)
            if mark and mark.uidvalidity == uidvalidity and mark.last_uid >= uid:
                return
            self.upsert("watermarks", {"mailbox": mailbox, "uidvalidity": uidvalidity, "last_uid": uid},
                                         pk="mailbox")

    def referenced_blobs(self) -> set[str]:
        """Every blob hash a row still needs: raw mails, attachments, held mail, outbox attachments."""
        refs: set[str] = set()
        for sql in ("SELECT raw_sha256 AS h FROM messages", "SELECT sha256 AS h FROM attachments WHERE purged IS NULL",
                    "SELECT raw_sha256 AS h FROM quarantine WHERE status != 'dropped'",
                    "SELECT raw_sha256 AS h FROM inbound WHERE key NOT IN "
                    "(SELECT key FROM quarantine WHERE status = 'dropped')"):
            refs.update(r["h"] for r in self.all(sql) if r["h"])
        for row in self.all("SELECT attachments FROM outbox WHERE attachments IS NOT NULL"):
            refs.update(a["sha256"] for a in json.loads(row["attachments"]))
        return refs

    def scrub_mail(self, oid: int, note: str) -> None:
        """Replace a sent mail's stored bytes (it held a secret) and fold the WAL away, so no copy remains."""
        with self.transaction():
            self.db.execute("UPDATE outbox SET raw = ? WHERE id = ?", (note.encode(), oid))
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def recent_event(self, kind: str, detail_like: str, since: datetime) -> bool:
        """Was there an event of this kind, its detail containing the text, since then?"""
        return self.one("SELECT 1 AS x FROM events WHERE kind = ? AND detail LIKE ? AND created >= ? LIMIT 1",
                        (kind, f"%{detail_like}%", since.isoformat(timespec="seconds"))) is not None

    def backup_to(self, path: Path) -> None:
        """A consistent copy of the whole database (SQLite's online backup API), even while others write."""
        target = sqlite3.connect(str(path))
        try:
            with target:
                self.db.conn.backup(target)
        finally:
            target.close()

    def integrity(self) -> str:
        """PRAGMA integrity_check: 'ok', or what is wrong."""
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    def checkpoint(self) -> None:
        """Fold the WAL back into the database file, so it stays small."""
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
