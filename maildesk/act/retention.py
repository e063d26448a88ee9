"""`[retention]`: forget the raw mails and attachment files of tickets closed long ago.

The ticket's text, the attachments' names, sizes and hashes, and every event
stay; each purge adds a `purged` event to the ticket. `maildesk purge` runs it
by hand (`--dry-run` prints what would go), and the daemon's hourly
housekeeping runs it whenever a retention key is set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from maildesk import clock
from maildesk.config import Config
from maildesk.store import Store
from maildesk.store.blobs import BlobStore
from maildesk.store.retention import Purge

log = logging.getLogger("maildesk.retention")

IDLE = 300  # seconds: a file reused this recently may belong to a commit in flight, and stays


@dataclass(frozen=True)
class Purged:
    """A purge's result: what was dropped (or would be), the files removed and their bytes."""

    purge: Purge
    files_removed: int
    bytes_freed: int
    dry_run: bool


def cutoff(days: int) -> str | None:
    """The ISO time before which a ticket closed counts as old enough, or None for 'keep forever'."""
    return (clock.now() - timedelta(days=days)).isoformat(timespec="seconds") if days > 0 else None


def purge(cfg: Config, store: Store, *, dry_run: bool = False) -> Purged:
    """Drop what `[retention]` says is old; with dry_run, only say what would go."""
    r = cfg.retention
    result = store.purge(cutoff(r.raw_days), cutoff(r.attachment_days), clock.now().isoformat(timespec="seconds"),
                         dry_run=dry_run)
    blobs = BlobStore(cfg.data_dir / "blobs", store)
    if dry_run:
        size = sum(blobs.size(h) or 0 for h in result.unused)
        return Purged(result, len(result.unused), size, True)
    removed = freed = 0
    for sha in sorted(result.unused):
        gone = blobs.remove(sha, idle=IDLE)
        removed, freed = removed + (gone > 0), freed + gone
    for t in result.tickets:
        log.info("#%d purged (closed %s): %d raw mails, %d attachment files", t.number, t.closed[:10], len(t.raw),
                 len(t.files))
    return Purged(result, removed, freed, False)
