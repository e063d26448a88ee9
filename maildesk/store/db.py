"""The Store: one object over one SQLite file, assembled from the query mixins.

All writes of one message happen in one `transaction()` (BEGIN IMMEDIATE), so
a ticket, its message, attachments, outbox mails and events are committed
together or not at all. The daemon writes from one coroutine at a time and
never awaits inside a transaction: that is the single writer. No module
outside `maildesk/store/` writes SQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from maildesk.config import Config
from maildesk.store.articles import ArticleStore
from maildesk.store.base import now
from maildesk.store.blobs import BlobTable
from maildesk.store.mail import MailStore
from maildesk.store.people import PeopleStore
from maildesk.store.reports import ReportStore
from maildesk.store.retention import RetentionStore
from maildesk.store.tickets import TicketStore

__all__ = ["Store", "holds_data", "now", "open_store"]


class Store(TicketStore, PeopleStore, RetentionStore, MailStore, ReportStore, ArticleStore, BlobTable):
    """The maildesk database: tickets, people, mail bookkeeping and the operator's reports."""


def open_store(cfg: Config) -> Store:
    """The database of a config: data_dir/maildesk.db."""
    return Store(cfg.data_dir / "maildesk.db")


def holds_data(path: Path) -> bool:
    """Does any table of the database at `path` hold a row? Read-only, at whatever schema it has: never
    migrated or changed. A database that `check` or a first start just created holds none (the daemon's
    heartbeat and the full-text index's own bookkeeping do not count); one SQLite cannot read counts as data.
    """
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)  # as_uri: a "?" or "#" in a folder name
    except sqlite3.DatabaseError:
        return True
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                            "NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts%' AND name != 'daemon'")]
        return any(conn.execute(f'SELECT 1 FROM "{n}" LIMIT 1').fetchone() for n in names)
    except sqlite3.DatabaseError:
        return True
    finally:
        conn.close()
