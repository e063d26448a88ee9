"""Small blobs are rows of the database: committed with what refers to them, or not at all."""

from __future__ import annotations

import email
import email.policy
import json
import multiprocessing
import os

import pytest

from maildesk.outbound.message import attach, build
from maildesk.store import Store
from maildesk.store.blobs import INLINE_MAX, BlobStore


@pytest.fixture
def desk(offline_cfg):
    store = Store(offline_cfg.data_dir / "maildesk.db")
    return offline_cfg, store, BlobStore(offline_cfg.data_dir / "blobs", store)


def test_below_the_limit_a_row_from_it_a_file(desk):
    _, store, blobs = desk
    small, big = os.urandom(INLINE_MAX - 1), os.urandom(INLINE_MAX)
    with store.transaction():
        a, b = blobs.put(small), blobs.put(big)
    assert store.blob_size(a) == len(small) and not blobs.path(a).is_file()
    assert store.blob_size(b) is None and blobs.path(b).is_file()
    assert blobs.get(a) == small and blobs.get(b) == big
    with blobs.open(a) as fa, blobs.open(b) as fb:
        assert fa.read() == small and fb.read() == big


def test_a_row_is_undone_with_the_transaction_that_stored_it(desk):
    _, store, blobs = desk
    with pytest.raises(RuntimeError), store.transaction():
        sha = blobs.put(b"a raw mail whose ticket failed")
        raise RuntimeError("the action failed")
    assert blobs.size(sha) is None and store.blob_rows() == []


def _crash_after_put(path) -> None:
    store = Store(path)
    with store.transaction():
        BlobStore(path.parent / "blobs", store).put(b"half a batch")
        os._exit(3)  # killed before the commit


def test_a_crash_before_the_commit_leaves_no_row_and_the_retry_stores_it(desk):
    cfg, store, blobs = desk
    child = multiprocessing.get_context("fork").Process(target=_crash_after_put, args=(store.path,))
    child.start()
    child.join()
    assert child.exitcode == 3 and store.blob_rows() == []
    with store.transaction():
        sha = blobs.put(b"half a batch")
    assert blobs.get(sha) == b"half a batch"


def test_a_file_from_before_is_still_read_and_removed(desk):
    _, store, blobs = desk
    sha = BlobStore(blobs.root).put(b"stored as a file by an older release")  # no table: a file
    assert blobs.path(sha).is_file() and blobs.get(sha) == b"stored as a file by an older release"
    assert blobs.size(sha) == len(b"stored as a file by an older release")
    assert blobs.remove(sha, idle=0) == len(b"stored as a file by an older release") and blobs.size(sha) is None


def test_an_outgoing_mail_takes_its_attachment_from_a_row(desk):
    cfg, store, blobs = desk
    with store.transaction():
        sha = blobs.put(b"%PDF-1.4 small invoice")
    out = build(cfg, kind="consultant_new", rcpt="jana@example.test", subject="x", body="see the file\n", ticket=1)
    refs = json.dumps([{"sha256": sha, "filename": "invoice.pdf", "content_type": "application/pdf"}])
    msg = email.message_from_bytes(attach(out.raw, refs, blobs), policy=email.policy.default)
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == "invoice.pdf" and part.get_content() == b"%PDF-1.4 small invoice"
