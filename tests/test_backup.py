"""Backup while mail is being committed, restore into a fresh data_dir: consistent, complete, checked."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import threading
from email.message import EmailMessage

import pytest
from conftest import cli, eml, stored_blobs

from maildesk.cli.views import ticket_record
from maildesk.config import load
from maildesk.outbound.render import Renderer
from maildesk.pipeline import Pipeline
from maildesk.store import Store
from maildesk.store.blobs import INLINE_MAX


def test_a_backup_under_a_stream_of_mail_restores_consistent_and_complete(offline, tmp_path):
    cfg, store, _ = offline()
    stop = threading.Event()

    def stream() -> None:  # another writer, as the daemon would be, with its own connection
        p = Pipeline(cfg, Store(cfg.data_dir / "maildesk.db"))
        n = 0
        while not stop.is_set() and n < 400:
            n += 1  # every third with a file too big for a row of the database: both kinds of blob
            p.process(_big(n) if n % 3 == 0 else eml("new_request_attachment", n=n))

    writer = threading.Thread(target=stream)
    writer.start()
    try:
        while store.one("SELECT COUNT(*) AS n FROM tickets")["n"] < 5:
            stop.wait(0.05)
        out = cli(cfg, "backup", str(tmp_path / "backup"))
        assert out.returncode == 0, out.stderr
    finally:
        stop.set()
        writer.join(60)
    backed = Store(tmp_path / "backup" / "maildesk.db")
    numbers = [r["number"] for r in backed.all("SELECT number FROM tickets ORDER BY number")]
    backed.close()
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 5
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "rules.toml").write_text(cfg.path.read_text())
    restored_cfg = load(fresh / "rules.toml")
    Renderer(restored_cfg)  # a start before the restore leaves the templates' compiled cache: not data
    assert list((restored_cfg.data_dir / "cache" / "templates").glob("*.cache"))
    cli(restored_cfg, "check")  # an operator checks the new machine first: that creates an empty database
    assert (restored_cfg.data_dir / "maildesk.db").is_file()
    out = cli(restored_cfg, "restore", str(tmp_path / "backup"))
    assert out.returncode == 0 and "integrity ok" in out.stdout, out.stderr
    restored = Store(restored_cfg.data_dir / "maildesk.db")
    assert restored.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for number in numbers:  # new tickets never change afterwards: what the backup holds is what the source holds
        record = ticket_record(restored, number)
        assert record == ticket_record(store, number)
        for message in record["messages"]:
            for att in message["attachments"]:
                blob = stored_blobs(restored_cfg)[att["sha256"]]
                assert hashlib.sha256(blob).hexdigest() == att["sha256"]
    kinds = {(restored_cfg.data_dir / "blobs" / sha[:2] / sha).is_file() for sha in stored_blobs(restored_cfg)}
    assert kinds == {True, False}  # files and rows both came back
    assert (tmp_path / "backup" / "config" / "rules.toml").read_text() == cfg.path.read_text()
    again = cli(restored_cfg, "restore", str(tmp_path / "backup"))
    assert again.returncode == 1 and "not empty" in again.stderr  # never over live data


def _big(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", "helpdesk@example.test", f"Dump {n}"
    msg["Message-ID"] = f"<dump-{n}@acme.test>"
    msg.set_content("The dump is attached.")
    msg.add_attachment(random.Random(n).randbytes(INLINE_MAX + n), maintype="application",
                       subtype="octet-stream", filename="core.dump")
    return msg.as_bytes()


def test_restore_refuses_a_database_with_any_row(offline_cfg, tmp_path):
    """An empty database (what `check` creates) gives way to a restore; one with a single customer is live data."""
    assert cli(offline_cfg, "backup", str(tmp_path / "backup")).returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "rules.toml").write_text(offline_cfg.path.read_text())
    cfg = load(other / "rules.toml")
    store = Store(cfg.data_dir / "maildesk.db")
    store.insert_customer("C1", "Only customer", None, None)
    out = cli(cfg, "restore", str(tmp_path / "backup"))
    assert out.returncode == 1 and "not empty" in out.stderr
    assert store.customer("C1") is not None  # untouched
    with store.transaction():
        store.db.execute("DELETE FROM customers")
    store.close()
    out = cli(cfg, "restore", str(tmp_path / "backup"))
    assert out.returncode == 0, out.stderr
    assert Store(cfg.data_dir / "maildesk.db").customer("12345678") is not None


def test_restore_refuses_a_database_it_cannot_read_and_leaves_it_as_it_is(offline_cfg, tmp_path):
    """A damaged database may be why the operator restores; it is evidence, moved aside by hand, never overwritten."""
    assert cli(offline_cfg, "backup", str(tmp_path / "backup")).returncode == 0
    other = tmp_path / "other"
    (other / "var").mkdir(parents=True)
    (other / "rules.toml").write_text(offline_cfg.path.read_text())
    cfg = load(other / "rules.toml")
    damaged = b"not a database " * 500
    (cfg.data_dir / "maildesk.db").write_bytes(damaged)
    out = cli(cfg, "restore", str(tmp_path / "backup"))
    assert out.returncode == 1 and "not empty" in out.stderr and "Traceback" not in out.stderr
    assert (cfg.data_dir / "maildesk.db").read_bytes() == damaged


@pytest.mark.parametrize("version", [16, 99])
def test_restore_refuses_an_older_or_newer_database_with_rows_and_neither_migrates_nor_crashes(offline_cfg,
                                                                                              tmp_path, version):
    """A data_dir from an older release (or a newer one) is looked at read-only: refused, left at its schema."""
    from maildesk.store.base import statements
    from maildesk.store.schema import MIGRATIONS
    assert cli(offline_cfg, "backup", str(tmp_path / "backup")).returncode == 0
    other = tmp_path / "other"
    (other / "var").mkdir(parents=True)
    (other / "rules.toml").write_text(offline_cfg.path.read_text())
    cfg = load(other / "rules.toml")
    db = sqlite3.connect(cfg.data_dir / "maildesk.db")
    for script in MIGRATIONS[:16]:
        for stmt in statements(script):
            db.execute(stmt)
    db.execute("INSERT INTO customers (id, name, created) VALUES ('C1', 'Old', '2025-01-01')")
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()
    out = cli(cfg, "restore", str(tmp_path / "backup"))
    assert out.returncode == 1 and "not empty" in out.stderr and "Traceback" not in out.stderr
    db = sqlite3.connect(cfg.data_dir / "maildesk.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == version  # not migrated
    assert db.execute("SELECT name FROM customers").fetchall() == [("Old",)]
