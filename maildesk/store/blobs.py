"""Content-addressed blobs: raw mails and attachments, named by the sha256 of their bytes.

A blob smaller than INLINE_MAX is a row of the database's `blobs` table, written
in the same transaction as the rows that refer to it. A bigger one is a file
under data_dir/blobs/ whose path is derived from the sha256 only, so a client's
file name can never steer where anything is written. Files are written before
the SQLite commit that refers to them; an orphan after a crash is harmless and
is reused by the retry, because the same bytes land on the same path.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import io
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from maildesk.errors import StorageBusy
from maildesk.store.base import StoreBase

# Smaller blobs live in the database. A file per blob cost more than the rest of storing a mail
# (creating, renaming and syncing ~1,200 files per 1000 mails); SQLite reads and writes blobs
# of this size faster than the file system does, and commits them with the rows that need them.
INLINE_MAX = 128 * 1024


class BlobTable(StoreBase):
    """The rows of the small blobs: sha256, bytes, and when they were last put (a purge spares fresh ones)."""

    def blob_put(self, sha256: str, data: bytes, used: float) -> None:
        self._write("INSERT INTO blobs (sha256, data, used) VALUES (?, ?, ?) "
                    "ON CONFLICT (sha256) DO UPDATE SET used = excluded.used", [sha256, data, used])

    def blob_data(self, sha256: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    def blob_size(self, sha256: str) -> int | None:
        row = self.db.execute("SELECT length(data) FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        return int(row[0]) if row else None

    def blob_rows(self) -> list[tuple[str, int, float]]:
        """(sha256, size, last put) of every row, for fsck."""
        return [(r[0], int(r[1]), float(r[2]))
                for r in self.db.execute("SELECT sha256, length(data), used FROM blobs ORDER BY sha256")]

    def blob_drop(self, sha256: str, used_before: float) -> int:
        """Delete a row not put since `used_before`; its size, or 0 when it is missing or fresh."""
        with self.transaction():
            size = self.db.execute("SELECT length(data) FROM blobs WHERE sha256 = ? AND used < ?",
                                   (sha256, used_before)).fetchone()
            if size is None:
                return 0
            self._write("DELETE FROM blobs WHERE sha256 = ?", [sha256])
        return int(size[0])


class BlobStore:
    """Write-once blobs named by their sha256: small ones in the database (given one), the rest as files."""

    def __init__(self, root: Path, table: BlobTable | None = None) -> None:
        self.root = root
        self.table = table  # without one (the parse worker, a backup's folder) every blob is a file
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
                try:
                    _sync_dirs(tmp.parent for tmp in pending.values())
                except OSError as exc:
                    raise StorageBusy(f"cannot sync the blob store: {exc.strerror}") from exc

    def put(self, data: bytes) -> str:
        """Store bytes durably and return their sha256; a full disk is a transient fault.

        A small blob is a row, committed with the caller's transaction; call it inside the one
        that stores what refers to it.
        """
        digest = hashlib.sha256(data).hexdigest()
        if self.table is not None and len(data) < INLINE_MAX:
            self.table.blob_put(digest, data, time.time())
            return digest
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
                _sync_dirs([target.parent])
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
        with self.open(sha256) as fh:
            return fh.read()

    def open(self, sha256: str) -> io.BufferedIOBase:
        """The blob for reading a block at a time (a 20 MB attachment, a file, need not be in memory whole)."""
        data = self.table.blob_data(sha256) if self.table is not None else None
        return io.BytesIO(data) if data is not None else self._current(sha256).open("rb")

    def size(self, sha256: str) -> int | None:
        """Its size in bytes, or None when it is neither a row nor a file."""
        size = self.table.blob_size(sha256) if self.table is not None else None
        if size is not None:
            return size
        try:
            return os.stat(self._current(sha256)).st_size
        except FileNotFoundError:
            return None

    def remove(self, sha256: str, idle: float = 3600) -> int:
        """Delete a blob no row refers to; returns its size, or 0 when it was missing or used in the last `idle` s.

        A message being committed right now may reuse the very bytes: put() touches an existing
        row or file before its commit. A row goes only when not put for `idle` seconds (SQLite
        orders the two writes). A file is first moved aside, so a put() from then on writes a new
        copy, and the moved file is deleted only when nobody touched it recently.
        """
        row = self.table.blob_drop(sha256, time.time() - idle) if self.table is not None else 0
        return row + self._remove_file(sha256, idle)

    def _remove_file(self, sha256: str, idle: float) -> int:
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


def _sync_dirs(dirs: Iterable[Path]) -> None:
    """Make new names durable before the commit that uses them: an fsync of each directory that got one.

    ext4 happens to commit a rename with the database's next fsync; POSIX promises nothing of the kind.
    """
    for directory in set(dirs):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
