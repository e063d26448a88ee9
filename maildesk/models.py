"""The small frozen values the pipeline stages hand to each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Attachment:
    """One attachment; `filename` is display data only, never a path."""

    filename: str
    content_type: str
    data: bytes
    sha256: str
    stored: int | None = None  # the size, when the parse worker wrote a big file to the blob store itself (data: b"")

    @property
    def size(self) -> int:
        return len(self.data) if self.stored is None else self.stored


@dataclass(frozen=True)
class ParsedMail:
    """What parse makes of one raw message; `key` identifies it across re-fetches."""

    key: str
    raw: bytes
    message_id: str
    from_addr: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    in_reply_to: str
    references: tuple[str, ...]
    date: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    auth_results: tuple[str, ...] = ()  # Authentication-Results headers, topmost first
    defect: str = ""  # a Reason code when the mail cannot become a ticket
    uncut: str = ""  # the whole text when `text` was cut at limits.max_body_chars
    html: str = ""  # the HTML body of an HTML-only mail (its quote structure finds the new text)
    secrets: tuple[str, ...] | None = None  # passwords in any text part, found from the parser's own parse

    @property
    def log_id(self) -> str:
        """How a mail is named in logs: its Message-ID, or its key when it has none."""
        return f"<{self.message_id}>" if self.message_id else f"key:{self.key[:16]}"

    @property
    def whole_text(self) -> str:
        """The body before any cut: where commands are read, so a cut cannot change one."""
        return self.uncut or self.text


class Reason(StrEnum):
    """The fixed list of quarantine reason codes (documented in the README)."""

    BAD_FROM = "bad-from"
    UNPARSEABLE = "unparseable"
    UNKNOWN_SENDER = "unknown-sender"
    PROCESSING_FAILED = "processing-failed"
    TOO_LARGE = "too-large"
    TOO_DEEP = "too-deep"
    TOO_MANY_PARTS = "too-many-parts"
    TOO_MANY_ATTACHMENTS = "too-many-attachments"
    ATTACHMENTS_TOO_LARGE = "attachments-too-large"
    PARSE_TIMEOUT = "parse-timeout"
    RATE_LIMITED = "rate-limited"
    BAD_CREDENTIALS = "bad-credentials"
    CREDENTIALS_BACKOFF = "credentials-backoff"
    HEADERS_TOO_LARGE = "headers-too-large"
    LICENCE_FAILED = "licence-failed"  # not a quarantine: an unverified ticket in the triage queue


class Kind(StrEnum):
    """What happened to one inbound message."""

    NEW = "new"
    FOLLOWUP = "followup"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    ADMIN = "admin"  # a customer admin's #contact mail
    PRESENCE = "presence"  # a consultant's #away / #back
    SELF_SERVICE = "self-service"  # a contact's #status or #kb: answered, no ticket


class Role(StrEnum):
    """Who a sender is to the helpdesk."""

    CONTACT = "contact"  # an address of a customer (database)
    CONSULTANT = "consultant"  # rules.toml [[consultant]]
    CREDENTIALS = "credentials"  # a stranger whose mail carried a valid customer ID and password
    STRANGER = "stranger"


class Status(StrEnum):
    """A ticket's state."""

    UNVERIFIED = "unverified"  # opened by a stranger under unknown_sender = "triage"; nobody told yet
    OPEN = "open"
    WAITING = "waiting"  # on the customer
    RESOLVED = "resolved"
    CLOSED = "closed"


class MailState(StrEnum):
    """Where an outbox mail is."""

    PENDING = "pending"  # due at next_attempt
    SENDING = "sending"  # claimed by a process (claimed_by) that is talking to the SMTP server
    SENT = "sent"
    DEAD = "dead"  # refused for good (5xx), or retried past smtp.give_up_hours
    BOUNCED = "bounced"  # accepted, then reported back as a hard bounce


class HeldState(StrEnum):
    """Where a quarantined mail is."""

    HELD = "held"
    RELEASED = "released"  # processed again by `quarantine release`
    DROPPED = "dropped"  # deleted by `quarantine drop`


class Label(StrEnum):
    """What classify makes of a mail: from a person, or automatic (never answered)."""

    HUMAN = "human"
    AUTO_REPLIED = "auto-replied"
    AUTO_GENERATED = "auto-generated"
    BOUNCE = "bounce"
    LIST = "mailing-list"
    OWN = "own-mail"


@dataclass(frozen=True)
class Sender:
    """Who wrote, as authorise sees it: a customer's contact, a consultant, or nobody known."""

    address: str
    name: str
    role: Role
    customer_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """A stage's verdict: open a ticket, follow up on one, ignore, or quarantine with a reason."""

    kind: Kind
    ticket: int | None = None
    reason: str = ""
    detail: str = ""
    parent: int | None = None  # a new ticket that continues this closed one
    customer_id: str | None = None  # the customer ID a credential mail named
    triage: bool = False  # open as unverified in the triage queue
    product: str = ""  # the product a valid licence number named
    licence_failed: bool = False  # the mail quoted a wrong licence number (counted by the action)


@dataclass(frozen=True)
class Outcome:
    """The end of one message's journey, after the commit."""

    key: str
    kind: Kind
    ticket: int | None
    reason: str = ""
    duplicate: bool = False
    replacement: bytes | None = None  # a redacted copy to keep on the IMAP server instead of the original

    @property
    def folder(self) -> str:
        """Which IMAP folder the message belongs in now: 'processed' or 'quarantine'."""
        return "quarantine" if self.kind is Kind.QUARANTINED else "processed"
