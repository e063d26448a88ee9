"""The Store: one object over one SQLite file, assembled from the query mixins.

All writes of one message happen in one `transaction()` (BEGIN IMMEDIATE), so
a ticket, its message, attachments, outbox mails and events are committed
together or not at all. The daemon writes from one coroutine at a time and
never awaits inside a transaction: that is the single writer. No module
outside `maildesk/store/` writes SQL.
"""

from __future__ import annotations

from maildesk.config import Config
from maildesk.store.articles import ArticleStore
from maildesk.store.base import now
from maildesk.store.blobs import BlobTable
from maildesk.store.mail import MailStore
from maildesk.store.people import PeopleStore
from maildesk.store.reports import ReportStore
from maildesk.store.retention import RetentionStore
from maildesk.store.tickets import TicketStore

__all__ = ["Store", "now", "open_store"]


class Store(TicketStore, PeopleStore, RetentionStore, MailStore, ReportStore, ArticleStore, BlobTable):
    """The maildesk database: tickets, people, mail bookkeeping and the operator's reports."""


def open_store(cfg: Config) -> Store:
    """The database of a config: data_dir/maildesk.db."""
    return Store(cfg.data_dir / "maildesk.db")
