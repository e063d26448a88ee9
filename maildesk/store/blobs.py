"""Content-addressed files under data_dir: raw mails and attachments.

A file's path is derived from the sha256 of its bytes only, so a client's file
name can never steer where anything is written. Files are written before the
SQLite commit that refers to them; an orphan after a crash is harmless and is
reused by the retry, because the same bytes land on the same path.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from pathlib import Path
from typing import BinaryIO

from maildesk.errors import StorageBusy


class BlobStore:
    """Write-once files named by their sha256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store bytes durably and return their sha256; a full disk is a transient fault."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists() and target.stat().st_size == len(data):
            try:
                os.utime(target)  # reused now: a purge or fsck running at this moment leaves it alone
                return digest
            except FileNotFoundError:
                pass  # removed between the check and now: write it again
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{digest}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                raise StorageBusy(f"cannot write {target.name[:12]}: {exc.strerror}") from exc
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def open(self, sha256: str) -> BinaryIO:
        """The file for reading a block at a time (a 20 MB attachment need not be in memory whole)."""
        return self.path(sha256).open("rb")

    def remove(self, sha256: str, idle: float = 3600) -> int:
        """Delete a file no row refers to; returns its size, or 0 when it was missing or used in the last `idle` s.

        A message being committed right now may reuse the very bytes: put() touches an existing
        file before its commit. The file is first moved aside, so a put() from then on writes a
        new copy, and the moved file is deleted only when nobody touched it recently.
        """
        target = self.path(sha256)
        aside = target.with_name(f".{sha256}.{os.getpid()}.purge")
        try:
            os.replace(target, aside)
        except FileNotFoundError:
            return 0
        st = aside.stat()
        if st.st_mtime > time.time() - idle:  # file ages are file-system time, not maildesk's clock
            if not target.exists():
                os.replace(aside, target)
            else:
                aside.unlink()
            return 0
        aside.unlink()
        return st.st_size
