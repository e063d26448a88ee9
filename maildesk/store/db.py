"""Store stage: the SQLite database (WAL, synchronous=FULL) and its schema.

All writes of one message happen in one `transaction()` (BEGIN IMMEDIATE), so
a ticket, its message, attachments, outbox mails and events are committed
together or not at all. The daemon writes from one coroutine at a time and
never awaits inside a transaction: that is the single writer.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from maildesk import clock
from maildesk.config import Config
from maildesk.errors import StorageBusy

MIGRATIONS: list[str] = [
    """
    CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, language TEXT,
        password_hash TEXT, created TEXT NOT NULL);
    CREATE TABLE contacts (customer_id TEXT NOT NULL REFERENCES customers(id), email TEXT NOT NULL,
        admin INTEGER NOT NULL DEFAULT 0, added_by TEXT, created TEXT NOT NULL,
        PRIMARY KEY (customer_id, email));
    CREATE INDEX contacts_email ON contacts(email);
    CREATE TABLE tickets (number INTEGER PRIMARY KEY, subject TEXT NOT NULL, status TEXT NOT NULL,
        queue TEXT NOT NULL, priority TEXT NOT NULL, customer_id TEXT, requester TEXT NOT NULL,
        comm_address TEXT NOT NULL, assignee TEXT, price TEXT, due TEXT, first_response_due TEXT,
        language TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
    CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket INTEGER NOT NULL REFERENCES tickets(number),
        direction TEXT NOT NULL, message_id TEXT, message_key TEXT, from_addr TEXT NOT NULL,
        to_addrs TEXT NOT NULL, date TEXT NOT NULL, subject TEXT NOT NULL, text TEXT NOT NULL,
        raw_sha256 TEXT, created TEXT NOT NULL);
    CREATE INDEX messages_ticket ON messages(ticket);
    CREATE TABLE attachments (id INTEGER PRIMARY KEY, message INTEGER NOT NULL REFERENCES messages(id),
        filename TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL);
    CREATE INDEX attachments_message ON attachments(message);
    CREATE TABLE thread_ids (message_id TEXT PRIMARY KEY, ticket INTEGER NOT NULL);
    CREATE TABLE inbound (key TEXT PRIMARY KEY, message_id TEXT, sender TEXT, subject TEXT,
        outcome TEXT, ticket INTEGER, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, uidvalidity INTEGER, uid INTEGER, raw_sha256 TEXT, updated TEXT NOT NULL);
    CREATE TABLE quarantine (id INTEGER PRIMARY KEY, key TEXT NOT NULL, reason TEXT NOT NULL,
        sender TEXT, subject TEXT, date TEXT, raw_sha256 TEXT, attempts INTEGER NOT NULL DEFAULT 1,
        status TEXT NOT NULL DEFAULT 'held', created TEXT NOT NULL);
    CREATE TABLE outbox (id INTEGER PRIMARY KEY, ticket INTEGER, kind TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE, mail_from TEXT NOT NULL, rcpt TEXT NOT NULL, subject TEXT NOT NULL,
        raw BLOB NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL, last_error TEXT, created TEXT NOT NULL, sent_at TEXT);
    CREATE INDEX outbox_due ON outbox(status, next_attempt);
    CREATE TABLE events (id INTEGER PRIMARY KEY, ticket INTEGER, message_key TEXT, kind TEXT NOT NULL,
        detail TEXT NOT NULL, created TEXT NOT NULL);
    CREATE INDEX events_ticket ON events(ticket);
    CREATE TABLE notices (address TEXT NOT NULL, kind TEXT NOT NULL, last_sent TEXT NOT NULL,
        PRIMARY KEY (address, kind));
    CREATE TABLE watermarks (mailbox TEXT PRIMARY KEY, uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL);
    """,
    """
    ALTER TABLE tickets ADD COLUMN parent INTEGER;
    ALTER TABLE messages ADD COLUMN original_text TEXT;
    """,
    """
    CREATE TABLE auth_failures (scope TEXT NOT NULL, subject TEXT NOT NULL, at TEXT NOT NULL);
    CREATE INDEX auth_failures_subject ON auth_failures(scope, subject, at);
    CREATE TABLE auth_blocks (scope TEXT NOT NULL, subject TEXT NOT NULL, until TEXT NOT NULL,
        level INTEGER NOT NULL, PRIMARY KEY (scope, subject));
    ALTER TABLE inbound ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0;
    """,
    """
    CREATE TABLE bounced (address TEXT PRIMARY KEY, at TEXT NOT NULL, outbox INTEGER);
    CREATE INDEX outbox_rcpt ON outbox(rcpt, created);
    CREATE TABLE buckets (sender TEXT PRIMARY KEY, tokens REAL NOT NULL, updated TEXT NOT NULL);
    ALTER TABLE outbox ADD COLUMN claimed_by INTEGER;
    """,
    """
    CREATE INDEX tickets_requester ON tickets(requester);
    CREATE INDEX tickets_comm_address ON tickets(comm_address);
    CREATE INDEX outbox_kind_created ON outbox(kind, created);
    ALTER TABLE outbox ADD COLUMN attachments TEXT;
    """,
]


def open_store(cfg: Config) -> Store:
    """The database of a config: data_dir/maildesk.db."""
    return Store(cfg.data_dir / "maildesk.db")


def now() -> str:
    """The current UTC time as ISO text, the one timestamp format in the database."""
    return clock.now().isoformat(timespec="seconds")


class Store:
    """The maildesk database, opened with the settings the invariants need."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # How long a writer waits for another process's lock before it counts as busy (transient).
        busy = float(os.environ.get("MAILDESK_BUSY_TIMEOUT", "30"))
        conn = sqlite3.connect(str(path), timeout=busy, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute(f"PRAGMA busy_timeout = {int(busy * 1000)}")
        with self.db.ensure_autocommit_on():
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def _migrate(self) -> None:
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for stmt in filter(str.strip, script.split(";")):
                    self.db.execute(stmt)
                self.db.execute(f"PRAGMA user_version = {i}")

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One atomic write; a locked database or full disk is a transient fault."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StorageBusy(f"database busy: {exc}") from exc
        try:
            yield self.db
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self.db.rollback()
            if "locked" in str(exc) or "disk" in str(exc) or "full" in str(exc):
                raise StorageBusy(str(exc)) from exc
            raise
        except BaseException:
            self.db.rollback()
            raise

    # -- reading -----------------------------------------------------------

    def one(self, sql: str, params: Any = ()) -> dict | None:
        cur = self.db.execute(sql, params)
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row)) if row else None

    def all(self, sql: str, params: Any = ()) -> list[dict]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def ticket(self, number: int) -> dict | None:
        return self.one("SELECT * FROM tickets WHERE number = ?", (number,))

    def ticket_for_ids(self, ids: list[str]) -> int | None:
        """The ticket a set of Message-IDs (In-Reply-To, References) points at, newest reference first."""
        for mid in reversed(ids):
            row = self.one("SELECT ticket FROM thread_ids WHERE message_id = ?", (mid,))
            if row:
                return row["ticket"]
        return None

    def customers_of(self, address: str) -> list[str]:
        rows = self.all("SELECT customer_id FROM contacts WHERE email = ? ORDER BY created", (address.lower(),))
        return [r["customer_id"] for r in rows]

    def inbound(self, key: str) -> dict | None:
        return self.one("SELECT * FROM inbound WHERE key = ?", (key,))

    # -- writing (call inside transaction()) ---------------------------------

    def event(self, ticket: int | None, key: str | None, kind: str, detail: str | dict) -> None:
        text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False, sort_keys=True)
        self.db["events"].insert({"ticket": ticket, "message_key": key, "kind": kind, "detail": text, "created": now()})

    def next_ticket_number(self) -> int:
        """The next number; called inside the transaction that inserts it, so there are no gaps."""
        return (self.db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM tickets").fetchone()[0])

    def notice_allowed(self, address: str, kind: str, interval_hours: int) -> bool:
        """True (and remembered) when `address` got no `kind` notice in the interval."""
        row = self.one("SELECT last_sent FROM notices WHERE address = ? AND kind = ?", (address, kind))
        stamp = now()
        if row:
            last = datetime.fromisoformat(row["last_sent"])
            if (clock.now() - last).total_seconds() < interval_hours * 3600:
                return False
        self.db["notices"].upsert({"address": address, "kind": kind, "last_sent": stamp}, pk=("address", "kind"))
        return True

    def count_processing_failure(self, key: str, error: str, **facts: Any) -> int:
        """Count one failed processing attempt of a message; returns the attempts so far."""
        with self.transaction():
            row = self.inbound(key)
            attempts = (row["attempts"] if row else 0) + 1
            self.db["inbound"].upsert({"key": key, "attempts": attempts, "last_error": error[:2000],
                                       "updated": now(), **facts}, pk="key")
        return attempts

    def set_watermark(self, mailbox: str, uidvalidity: int, uid: int) -> None:
        with self.transaction():
            row = self.one("SELECT * FROM watermarks WHERE mailbox = ?", (mailbox,))
            if row and row["uidvalidity"] == uidvalidity and row["last_uid"] >= uid:
                return
            self.db["watermarks"].upsert({"mailbox": mailbox, "uidvalidity": uidvalidity, "last_uid": uid},
                                         pk="mailbox")

    def referenced_blobs(self) -> set[str]:
        """Every blob hash a row still needs: raw mails, attachments, held mail, outbox attachments."""
        refs: set[str] = set()
        for sql in ("SELECT raw_sha256 AS h FROM messages", "SELECT sha256 AS h FROM attachments",
                    "SELECT raw_sha256 AS h FROM quarantine WHERE status != 'dropped'",
                    "SELECT raw_sha256 AS h FROM inbound WHERE key NOT IN "
                    "(SELECT key FROM quarantine WHERE status = 'dropped')"):
            refs.update(r["h"] for r in self.all(sql) if r["h"])
        for row in self.all("SELECT attachments FROM outbox WHERE attachments IS NOT NULL"):
            refs.update(a["sha256"] for a in json.loads(row["attachments"]))
        return refs

    def watermark(self, mailbox: str) -> dict | None:
        return self.one("SELECT * FROM watermarks WHERE mailbox = ?", (mailbox,))
