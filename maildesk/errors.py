"""The one exception tree of maildesk.

Normal outcomes (a stranger, an automatic mail, a broken message) are
*decisions* returned by the pipeline stages, never exceptions. Exceptions are
for faults, and the branch tells the caller what to do about them::

    MaildeskError
    ├── TransientError         try again later, the message stays where it is
    │   ├── MailServerDown     IMAP/SMTP unreachable, stalled, or refused the login
    │   ├── StorageBusy        SQLite locked or the disk is full
    │   ├── BlobUnreadable     a stored file failed to read while its mail went out
    │   └── ShuttingDown       a stop signal came: leave the message where it is
    └── PermanentError         retrying will not help
        ├── ConfigError        rules.toml or templates are wrong; names key and line
        ├── NotFound           an operator named a ticket, entry or customer that is not there
        └── SchemaTooNew       the database was written by a newer maildesk: never downgrade it

An SMTP 5xx is not an exception: the outbox entry is marked dead with the reason.
Any other exception while processing a message is a bug or a hostile mail: it
is counted and, after processing.max_attempts, the message is quarantined.
"""

from __future__ import annotations


class MaildeskError(Exception):
    """Root of every fault raised by maildesk."""


class TransientError(MaildeskError):
    """A fault that may go away by itself: retry with backoff."""


class MailServerDown(TransientError):
    """The IMAP or SMTP server could not be reached, timed out or answered 4xx."""


class StorageBusy(TransientError):
    """SQLite is locked by another writer or the disk refused a write."""


class BlobUnreadable(TransientError):
    """A stored file could not be read in the middle of sending the mail it belongs to: the mail is
    tried again later; it is not the SMTP server's fault, so no outage is declared."""


class ShuttingDown(TransientError):
    """SIGTERM/SIGINT arrived while a message waited on something slow; it stays in the INBOX."""


class PermanentError(MaildeskError):
    """A fault that retrying will not fix."""


class ConfigError(PermanentError):
    """Configuration or template error; the message names the key and the line."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None) -> None:
        where = ""
        if key:
            where += f"{key}: "
        if line:
            where = f"line {line}: " + where
        super().__init__(where + message)
        self.key = key
        self.line = line


class NotFound(PermanentError):
    """An operator command named something that does not exist (or is not in the state it needs)."""


class SchemaTooNew(PermanentError):
    """The database carries a schema version this maildesk does not know: a newer release wrote it."""
