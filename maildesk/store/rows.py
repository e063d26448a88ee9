"""The rows the store hands out: frozen, typed, one class per table the pipeline reads.

A row is a snapshot; to change one, call the store. `from_row` builds a
dataclass from an SQL result and ignores columns it does not name, so a
migration that adds a column breaks no reader.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from maildesk.models import HeldState, Kind, MailState, Status

R = TypeVar("R")


def from_row(cls: type[R], row: dict[str, Any] | None) -> R | None:
    """The dataclass `cls` of an SQL row (None stays None)."""
    if row is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class Ticket:
    """One ticket. `due` is the deadline a consultant agreed (#due); `first_response_due` the response target."""

    number: int
    subject: str
    status: Status
    queue: str
    priority: str
    customer_id: str | None
    requester: str
    comm_address: str
    assignee: str | None
    price: str | None
    due: str | None
    first_response_due: str | None
    language: str
    created: str
    updated: str
    parent: int | None = None
    plan: str | None = None  # the service plan whose targets the ticket got (None: from before plans)
    resolution_due: str | None = None
    first_response_at: str | None = None  # a consultant's first answer to the customer
    resolved_at: str | None = None
    paused_at: str | None = None  # the SLA clock stands still while the ticket waits on the customer
    tags: str | None = None  # labels set by routing rules, comma-separated

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))

    def is_from(self, address: str) -> bool:
        """Is `address` the requester or the communication address?"""
        return address.lower() in (self.requester.lower(), self.comm_address.lower())


@dataclass(frozen=True)
class Customer:
    """A customer; the password only as its argon2 hash, never shown."""

    id: str
    name: str
    language: str | None
    created: str
    password_hash: str | None = field(default=None, repr=False)
    plan: str | None = None
    contract_address: str | None = None  # the one address that may ask for a new password (#password)


@dataclass(frozen=True)
class Inbound:
    """What became of one inbound message (by its key): the first outcome, attempts, where it was fetched."""

    key: str
    updated: str
    message_id: str | None = None
    sender: str | None = None
    subject: str | None = None
    outcome: str | None = None
    ticket: int | None = None
    reason: str | None = None
    attempts: int = 0
    last_error: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    raw_sha256: str | None = None
    redacted: int = 0

    @property
    def kind(self) -> Kind | None:
        return Kind(self.outcome) if self.outcome else None


@dataclass(frozen=True)
class Held:
    """A quarantined message, waiting for an operator."""

    id: int
    key: str
    reason: str
    sender: str | None
    subject: str | None
    date: str | None
    raw_sha256: str | None
    attempts: int
    status: HeldState
    created: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", HeldState(self.status))


@dataclass(frozen=True)
class OutboxMail:
    """One outgoing mail and its delivery state."""

    id: int
    ticket: int | None
    kind: str
    message_id: str
    mail_from: str
    rcpt: str
    subject: str
    raw: bytes
    status: MailState
    attempts: int
    next_attempt: str
    last_error: str | None
    created: str
    sent_at: str | None = None
    claimed_by: int | None = None
    attachments: str | None = None  # JSON: blob hashes and display data
    priority: int = 0  # 1: caused by a backlog, sent after live mail

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", MailState(self.status))


@dataclass(frozen=True)
class BounceFlag:
    """An address that hard-bounced (automatic mail to it stops while the flag lasts)."""

    address: str
    at: str
    outbox: int | None


@dataclass(frozen=True)
class Watermark:
    """The highest UID processed in a mailbox, under its UIDVALIDITY."""

    mailbox: str
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class Article:
    """A knowledge-base article: a published answer (or a draft of one)."""

    id: int
    title: str
    body: str
    language: str
    queues: str  # comma-separated; empty: every queue
    status: str  # draft | published
    created: str
    updated: str
    source_ticket: int | None = None
    author: str | None = None


@dataclass(frozen=True)
class PurgedTicket:
    """A ticket's files a retention purge dropped: raw-mail hashes and (id, sha256, filename, size) per attachment."""

    number: int
    closed: str
    raw: tuple[str, ...]
    files: tuple[tuple[int, str, str, int], ...]
