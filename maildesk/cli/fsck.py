"""`maildesk fsck`: find and remove blobs no row refers to (and temp files a crash left behind).

Blob files are written before the transaction that refers to them, so a crash,
a quarantined-then-dropped mail or an operator's delete can leave files (or
rows of the blobs table) no row needs. Only blobs older than `GRACE` count: a
younger one may belong to a message being committed right now by the daemon
or an `ingest`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from maildesk.store import Store
from maildesk.store.blobs import BlobStore

GRACE = 3600  # seconds


@dataclass(frozen=True)
class FsckResult:
    """What fsck found: unreferenced files, their bytes, and whether they were removed."""

    orphans: tuple[Path, ...]
    size: int
    removed: bool
    rows: tuple[str, ...] = ()  # sha256 of unreferenced rows of the blobs table


def fsck(store: Store, blobs: BlobStore, dry_run: bool = False, now: float | None = None) -> FsckResult:
    """Unreferenced blob files, temp files and blob rows older than GRACE; removed unless dry_run."""
    needed = store.referenced_blobs()
    cutoff = (now if now is not None else time.time()) - GRACE
    orphans = []
    if blobs.root.is_dir():
        for path in blobs.root.glob("*/*"):
            if not path.is_file() or path.stat().st_mtime > cutoff:
                continue
            if path.name.startswith(".") or path.name not in needed:  # .tmp: a write that never finished
                orphans.append(path)
    rows = [(sha, size) for sha, size, used in store.blob_rows() if sha not in needed and used <= cutoff]
    size = sum(p.stat().st_size for p in orphans) + sum(n for _, n in rows)
    if not dry_run:
        for path in orphans:
            path.unlink(missing_ok=True)
        for sha, _ in rows:
            store.blob_drop(sha, cutoff + 1e-3)  # still unput since the cut-off, or a put now keeps it
    return FsckResult(tuple(sorted(orphans)), size, not dry_run, tuple(sha for sha, _ in rows))
