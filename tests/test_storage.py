"""Storage cannot be amplified: limits before writes, raw-only quarantine, fsck, outbox by reference."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from email.message import EmailMessage

from conftest import age_blobs, cli, eml, run_once, stored_blobs
from test_robust import tnef

from maildesk.cli.fsck import GRACE, fsck
from maildesk.daemon import open_store
from maildesk.store.blobs import INLINE_MAX, BlobStore


def blob_files(cfg) -> list:
    """Every stored blob's name: database rows and files."""
    return sorted(stored_blobs(cfg))


def test_a_winmail_dat_bomb_from_a_stranger_writes_nothing_but_its_raw_mail(cfg, dovecot, smtp):
    bomb = tnef([(f"f{i}.txt", b"x%d" % i) for i in range(3000)])  # TNEF members count as attachments
    raw = eml("winmail", n=1, tnef_b64=base64.encodebytes(bomb).decode()).replace(b"alice@acme.test",
                                                                                  b"evil@nowhere.test")
    dovecot.append(cfg.imap.username, raw)
    run_once(cfg)
    store = open_store(cfg)
    assert store.one("SELECT reason FROM quarantine")["reason"] == "too-many-attachments"
    assert len(blob_files(cfg)) == 1  # the raw mail, nothing it carries
    assert cli(cfg, "quarantine", "drop", "1", "--yes").returncode == 0
    assert blob_files(cfg) == []


def test_many_attachments_from_a_contact_are_held_raw_and_released_whole(make_config, customer_factory, dovecot,
                                                                         smtp):
    cfg = make_config(extra="[limits]\nmax_attachments = 3\n")
    customer_factory(cfg)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", "helpdesk@example.test", "Logs"
    msg["Message-ID"] = "<logs-1@acme.test>"
    msg.set_content("All the logs.")
    for i in range(5):
        msg.add_attachment(f"log {i}".encode(), maintype="text", subtype="plain", filename=f"log{i}.txt")
    dovecot.append(cfg.imap.username, msg.as_bytes())
    run_once(cfg)
    assert len(blob_files(cfg)) == 1
    held = smtp.wait_for(1) and smtp.to("alice@acme.test")
    assert held and "held" in held[0]["Subject"]  # a known sender is told, never silenced


def test_fsck_removes_only_old_unreferenced_files(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("new_request_attachment", n=1))
    run_once(cfg)
    store = open_store(cfg)
    blobs = BlobStore(cfg.data_dir / "blobs", store)
    kept = set(blob_files(cfg))
    assert len(kept) == 2  # raw mail and its photo
    with store.transaction():
        old_row = blobs.put(b"orphan, old")  # small: a row of the blobs table
    old_file = blobs.put(os.urandom(INLINE_MAX))  # big: a file
    tmp = blobs.path(old_file).parent / f".{'0' * 64}.123.tmp"
    tmp.write_bytes(b"half a write")
    age_blobs(cfg, days=GRACE / 86400 + 0.01)
    os.utime(tmp, (time.time() - GRACE - 60,) * 2)
    young_row, young_file = blobs.put(b"orphan, just written"), blobs.put(os.urandom(INLINE_MAX))
    dry = cli(cfg, "fsck", "--dry-run")
    assert dry.returncode == 0 and "3 unreferenced blob(s) (2 file(s), 1 database row(s))" in dry.stdout, dry.stdout
    assert f"would remove database blob {old_row}" in dry.stdout and blobs.size(old_row)
    result = fsck(store, blobs)
    assert set(result.orphans) == {blobs.path(old_file), tmp} and result.rows == (old_row,)
    assert result.size == len(b"orphan, old") + INLINE_MAX + len(b"half a write")
    assert blobs.size(old_row) is None and blobs.size(old_file) is None and not tmp.exists()
    assert blobs.size(young_row) and blobs.size(young_file) and set(blob_files(cfg)) >= kept
    assert all(blobs.get(sha) for sha in kept)
    assert "0 unreferenced" in cli(cfg, "fsck").stdout


def test_consultant_copies_refer_to_the_attachment_instead_of_storing_it_again(make_config, customer_factory,
                                                                                dovecot, smtp):
    cfg = make_config(jana_queues='"general"', extra='[[consultant]]\nemail = "petr@example.test"\nname = "Petr"\n'
                                                     'queues = ["general"]\n')
    customer_factory(cfg)
    big = os.urandom(3 * 2**20)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", "helpdesk@example.test", "Dump"
    msg["Message-ID"] = "<dump-1@acme.test>"
    msg.set_content("The crash dump.")
    msg.add_attachment(big, maintype="application", subtype="octet-stream", filename="core.dmp")
    dovecot.append(cfg.imap.username, msg.as_bytes())
    run_once(cfg)
    rows = open_store(cfg).all("SELECT kind, length(raw) AS n, attachments FROM outbox ORDER BY id")
    assert sorted(r["kind"] for r in rows) == ["confirmation", "consultant_new", "consultant_new"]
    assert all(r["n"] < 20_000 for r in rows)  # no copy of the 3 MiB, base64 or otherwise
    for rcpt in ("jana@example.test", "petr@example.test"):
        [copy] = smtp.wait_for(3) and smtp.to(rcpt)
        [att] = list(copy.iter_attachments())
        assert att.get_filename() == "core.dmp"
        assert hashlib.sha256(att.get_content()).hexdigest() == hashlib.sha256(big).hexdigest()
