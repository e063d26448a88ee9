"""Content-addressed files under data_dir: raw mails and attachments.

A file's path is derived from the sha256 of its bytes only, so a client's file
name can never steer where anything is written. Files are written before the
SQLite commit that refers to them; an orphan after a crash is harmless and is
reused by the retry, because the same bytes land on the same path.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from maildesk.errors import StorageBusy


class BlobStore:
    """Write-once files named by their sha256."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pending: dict[str, Path] | None = None  # inside deferred(): digest -> its unsynced .tmp file

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside, put() writes without its own fsync; on leaving, one syncfs() makes them all durable.

        For a group commit: fifty mails' blobs cost one flush of the file system instead of fifty
        fsyncs (1.2 ms each under load). A blob becomes visible under its name only after the sync,
        so a crash before it leaves only `.tmp` files (fsck removes them), never a torn blob that a
        retry would take for whole. Leave it before the database commit that refers to the blobs.
        """
        if self._pending is not None:  # nested: the outer one syncs
            yield
            return
        self._pending = {}
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
            if pending:
                _sync(list(pending.values()))
                for digest, tmp in pending.items():
                    os.replace(tmp, self.path(digest))

    def put(self, data: bytes) -> str:
        """Store bytes durably and return their sha256; a full disk is a transient fault."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if self._pending is not None and digest in self._pending:
            return digest
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
                if self._pending is None:
                    fh.flush()
                    os.fsync(fh.fileno())
            if self._pending is not None:
                self._pending[digest] = tmp
            else:
                os.replace(tmp, target)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                raise StorageBusy(f"cannot write {target.name[:12]}: {exc.strerror}") from exc
            raise
        return digest

    def _current(self, sha256: str) -> Path:
        """Where a blob is now: still under its temporary name while a deferred() has not synced it."""
        if self._pending is not None and sha256 in self._pending:
            return self._pending[sha256]
        return self.path(sha256)

    def get(self, sha256: str) -> bytes:
        return self._current(sha256).read_bytes()

    def open(self, sha256: str) -> BinaryIO:
        """The file for reading a block at a time (a 20 MB attachment need not be in memory whole)."""
        return self._current(sha256).open("rb")

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


def _sync(files: list[Path]) -> None:
    """Make the files durable: one syncfs() of their file system (Linux), else an fsync of each.

    A failing sync is a full disk or an I/O error: a transient fault, so nothing is committed.
    """
    try:
        fd = os.open(files[0], os.O_RDONLY)
    except OSError as exc:
        raise StorageBusy(f"cannot sync the blob store: {exc.strerror}") from exc
    try:
        if _syncfs is not None and _syncfs(fd) == 0:
            return
        for path in files:
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    except OSError as exc:
        raise StorageBusy(f"cannot sync the blob store: {exc.strerror}") from exc
    finally:
        os.close(fd)


def _load_syncfs() -> ctypes._NamedFuncPointer | None:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


_syncfs = _load_syncfs()
