"""The connection: SQLite in WAL mode with synchronous=FULL, migrations, transactions, events.

All writes of one message happen in one `transaction()` (BEGIN IMMEDIATE), so
a ticket, its message, attachments, outbox mails and events are committed
together or not at all. The daemon writes from one coroutine at a time and
never awaits inside a transaction: that is the single writer.

A `group()` commits several messages' transactions with one fsync (group
commit): inside it, each `transaction()` is a savepoint, so a message that
fails rolls back alone and the others still commit together.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import sqlite_utils

from maildesk import clock
from maildesk.errors import SchemaTooNew, StorageBusy
from maildesk.store.schema import MIGRATIONS


def now() -> str:
    """The current UTC time as ISO text, the one timestamp format in the database."""
    return clock.now().isoformat(timespec="seconds")


def statements(script: str) -> list[str]:
    """The statements of a migration script; a trigger's BEGIN ... END body stays whole."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return [s for s in out if s.strip(" ;\n")]


def _value(v: Any) -> Any:
    """A Python value as SQLite stores it: enums by value, lists and dicts as JSON (as sqlite-utils did)."""
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, (list, dict, tuple)):
        return json.dumps(v, ensure_ascii=False)
    return v


def _transient(exc: sqlite3.OperationalError) -> bool:
    """A locked database or a full disk: worth trying again later (anything else is a fault)."""
    return any(word in str(exc) for word in ("locked", "disk", "full"))


class StoreBase:
    """The maildesk database, opened with the settings the invariants need; the query mixins build on it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # How long a writer waits for another process's lock before it counts as busy (transient).
        busy = float(os.environ.get("MAILDESK_BUSY_TIMEOUT", "30"))
        conn = sqlite3.connect(str(path), timeout=busy, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute(f"PRAGMA busy_timeout = {int(busy * 1000)}")
        self._group: int | None = None  # the thread whose group() is open: its transactions are savepoints
        self._depth = 0
        with self.db.ensure_autocommit_on():
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            # freed pages are zeroed: a scrubbed secret (a reset password's mail) leaves no copy in the file
            self.db.execute("PRAGMA secure_delete = ON")
        self._migrate()

    def _migrate(self) -> None:
        """Bring an older database up to this release in one transaction; refuse one from a newer release."""
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise SchemaTooNew(f"{self.path} has schema version {version}, this maildesk knows "
                                   f"{len(MIGRATIONS)}: it was written by a newer maildesk. Run that "
                                   "release, or restore a backup taken with this one; nothing was changed")
            for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for stmt in statements(script):
                    self.db.execute(stmt)
                self.db.execute(f"PRAGMA user_version = {i}")

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        """Commit the transactions inside as one (one fsync for a batch of messages), or none of them.

        Only the opening thread's transactions join; SQLite may roll the whole group back itself
        (a full disk, an I/O error): then nothing is committed and that is a transient fault.
        """
        with self.transaction():
            self._group = threading.get_ident()
            try:
                yield
                self._check_group()
            finally:
                self._group = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One atomic write; a locked database or full disk is a transient fault."""
        if self._group is not None and self._group == threading.get_ident():
            with self._savepoint():
                yield self.db
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StorageBusy(f"database busy: {exc}") from exc
        try:
            yield self.db
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self.db.rollback()
            if _transient(exc):
                raise StorageBusy(str(exc)) from exc
            raise
        except BaseException:
            self.db.rollback()
            raise

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        """A transaction inside a group(): undone alone on a fault, committed with the group."""
        self._check_group()
        self._depth += 1
        name = f"msg{self._depth}"
        self.db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException as exc:
            try:
                self.db.execute(f"ROLLBACK TO {name}")
                self.db.execute(f"RELEASE {name}")
            except sqlite3.OperationalError:  # SQLite already rolled the whole group back
                raise StorageBusy("the batch's transaction was rolled back by SQLite") from exc
            if isinstance(exc, sqlite3.OperationalError) and _transient(exc):
                raise StorageBusy(str(exc)) from exc
            raise
        else:
            self.db.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def _check_group(self) -> None:
        """Inside a group() whose transaction SQLite rolled back, nothing may start afresh and commit alone."""
        if self._group == threading.get_ident() and not self.db.conn.in_transaction:
            raise StorageBusy("the batch's transaction was rolled back by SQLite; nothing of it is committed")

    # -- generic (tests and ad-hoc inspection; the pipeline uses the named queries) ------

    def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        cur = self.db.execute(sql, params)
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else None

    def all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    # -- plain writes (sqlite-utils' table helpers look the schema up on every call: ~50 statements a mail) --

    def insert(self, table: str, row: dict[str, Any]) -> int:
        """INSERT one row; returns its rowid (the id of an INTEGER PRIMARY KEY table)."""
        cols = ", ".join(f'"{c}"' for c in row)
        return self._write(f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(row))})',
                           [_value(v) for v in row.values()])

    def upsert(self, table: str, row: dict[str, Any], pk: str | tuple[str, ...]) -> None:
        """INSERT one row, or UPDATE the given columns of the row with the same key."""
        keys = (pk,) if isinstance(pk, str) else pk
        cols = ", ".join(f'"{c}"' for c in row)
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in row if c not in keys)
        self._write(f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(row))}) '
                    f'ON CONFLICT ({", ".join(keys)}) DO ' + (f"UPDATE SET {sets}" if sets else "NOTHING"),
                    [_value(v) for v in row.values()])

    def update(self, table: str, key: str, value: Any, changes: dict[str, Any]) -> None:
        """UPDATE some columns of the row whose `key` column is `value`."""
        if changes:
            sets = ", ".join(f'"{c}" = ?' for c in changes)
            self._write(f'UPDATE "{table}" SET {sets} WHERE "{key}" = ?',
                        [*(_value(v) for v in changes.values()), value])

    def _write(self, sql: str, params: list[Any]) -> int:
        """One statement; outside a transaction() it commits at once (as a single write should)."""
        self._check_group()
        alone = not self.db.conn.in_transaction
        cur = self.db.conn.execute(sql, params)
        if alone:
            self.db.conn.commit()
        return int(cur.lastrowid or 0)

    def event(self, ticket: int | None, key: str | None, kind: str, detail: str | dict[str, Any]) -> None:
        """Record what happened (inside the transaction of the change), for the ticket's history and the log."""
        text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False, sort_keys=True)
        self.insert("events", {"ticket": ticket, "message_key": key, "kind": kind, "detail": text,
                                        "created": now()})
