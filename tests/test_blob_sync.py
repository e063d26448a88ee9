"""A batch's blobs are made durable by one file-system sync before the commit that refers to them.

Inside `BlobStore.deferred()` a blob is written under a temporary name without its own fsync;
leaving it syncs them all at once and only then gives them their names. So a crash before the
sync leaves only `.tmp` files, never a named blob with torn content that a retry would reuse.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import random
import stat
import time
from email.message import EmailMessage

import pytest
from conftest import run_once

from maildesk.cli.fsck import GRACE, fsck
from maildesk.errors import StorageBusy
from maildesk.store import blobs as blobs_module
from maildesk.store import open_store
from maildesk.store.blobs import INLINE_MAX, BlobStore


def named(root) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def temporary(root) -> list[str]:
    return sorted(p.name for p in root.rglob(".*.tmp"))


def test_deferred_blobs_get_their_names_only_after_the_sync(tmp_path, monkeypatch):
    syncs: list[int] = []
    real = blobs_module._syncfs
    monkeypatch.setattr(blobs_module, "_syncfs", lambda fd: syncs.append(fd) or (real(fd) if real else 0))
    dirs: list[str] = []
    real_dirs = blobs_module._sync_dirs
    monkeypatch.setattr(blobs_module, "_sync_dirs", lambda ds: real_dirs(dirs.extend(map(str, ds)) or dirs))
    store = BlobStore(tmp_path)
    with store.deferred():
        a, b = store.put(b"first mail"), store.put(b"an attachment")
        assert store.put(b"first mail") == a  # the same bytes again in the batch: one file
        assert named(tmp_path) == [] and len(temporary(tmp_path)) == 2
        assert store.get(a) == b"first mail"  # readable in the batch all the same
        with store.open(b) as fh:
            assert fh.read() == b"an attachment"
    assert len(syncs) == 1
    assert named(tmp_path) == sorted([a, b]) and temporary(tmp_path) == []
    assert sorted(dirs) == sorted({str(tmp_path / a[:2]), str(tmp_path / b[:2])})  # their names made durable
    assert store.get(b) == b"an attachment"


def test_outside_a_batch_every_put_is_durable_at_once(tmp_path, monkeypatch):
    fsyncs: list[int] = []
    real = os.fsync
    monkeypatch.setattr(blobs_module.os, "fsync", lambda fd: fsyncs.append(os.fstat(fd).st_mode) or real(fd))
    store = BlobStore(tmp_path)
    digest = store.put(b"alone")
    assert named(tmp_path) == [digest]
    assert [stat.S_ISDIR(mode) for mode in fsyncs] == [False, True]  # the file, then the directory with its name


def _crash_inside(root) -> None:
    store = BlobStore(root)
    with store.deferred():
        store.put(b"x" * 100_000)
        os._exit(3)  # killed in the middle of the batch, before the sync


def test_a_crash_before_the_sync_leaves_no_named_blob_and_the_retry_writes_it_whole(tmp_path):
    child = multiprocessing.get_context("fork").Process(target=_crash_inside, args=(tmp_path,))
    child.start()
    child.join()
    assert child.exitcode == 3
    assert named(tmp_path) == [] and len(temporary(tmp_path)) == 1
    store = BlobStore(tmp_path)
    digest = store.put(b"x" * 100_000)
    assert store.get(digest) == b"x" * 100_000


def test_a_failing_sync_is_transient_and_names_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(blobs_module, "_syncfs", lambda fd: -1)

    def eio(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(blobs_module.os, "fsync", eio)
    store = BlobStore(tmp_path)
    with pytest.raises(StorageBusy, match="sync"), store.deferred():
        store.put(b"lost with the disk")
    assert named(tmp_path) == []


def test_a_fetched_batch_is_one_sync_and_fsck_clears_what_a_crash_left(cfg, customer, dovecot, smtp, monkeypatch):
    syncs: list[int] = []
    real = blobs_module._syncfs
    monkeypatch.setattr(blobs_module, "_syncfs", lambda fd: syncs.append(fd) or (real(fd) if real else 0))
    for n in range(1, 6):  # big enough to be files, not rows of the database: the raw mail and its log
        dovecot.append(cfg.imap.username, _with_log(n))
    run_once(cfg)
    assert len(syncs) == 1  # five mails' blobs, one sync
    assert dovecot.count(cfg.imap.username, "INBOX") == 0
    root = cfg.data_dir / "blobs"
    assert len(named(root)) == 10
    orphan = root / "ab" / f".{'ab' * 32}.999.tmp"  # what a crash before the sync leaves
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"torn")
    fsck(open_store(cfg), BlobStore(root), now=time.time() + GRACE + 60)
    assert not orphan.exists() and len(named(root)) == 10


def _with_log(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", "helpdesk@example.test", f"Crash log {n}"
    msg["Message-ID"] = f"<log-{n}@acme.test>"
    msg.set_content("The log is attached.")
    msg.add_attachment(random.Random(n).randbytes(INLINE_MAX), maintype="application", subtype="octet-stream",
                       filename="crash.log")
    return msg.as_bytes()
