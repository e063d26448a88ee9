"""The schema carries a version: an older database is migrated in one transaction, a newer one is refused."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from conftest import OFFLINE_RULES, cli

from maildesk.config import Config, load
from maildesk.errors import SchemaTooNew
from maildesk.store import schema
from maildesk.store.base import StoreBase

FIXTURES = Path(__file__).parent / "fixtures"


def version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db, db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


@pytest.fixture
def old_cfg(tmp_path) -> Config:
    """A config whose data_dir holds nothing yet (the release's database goes there)."""
    (tmp_path / "rules.toml").write_text(OFFLINE_RULES.format(helpdesk='data_dir = "old"', limits="", extra=""))
    return load(tmp_path / "rules.toml")


def put_release_database(cfg: Config) -> Path:
    """The database the previous release (commit ef67c54, schema 10) wrote: one ticket, a reply, a stranger."""
    path = cfg.data_dir / "maildesk.db"
    assert not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(FIXTURES / "release-ef67c54.db.gz") as src, path.open("wb") as dest:
        shutil.copyfileobj(src, dest)
    return path


def test_a_database_written_by_the_previous_release_is_migrated_and_reads_the_same(old_cfg):
    path = put_release_database(old_cfg)
    assert version(path) == 10
    shown = cli(old_cfg, "ticket", "show", "1", "--json")
    assert shown.returncode == 0, shown.stderr
    assert version(path) == len(schema.MIGRATIONS)
    now = json.loads(shown.stdout)
    now.pop("sla")  # ok / warning / breached depends on today's date, not on the migration
    then = json.loads((FIXTURES / "release-ef67c54-ticket-1.json").read_text())
    for message in then["messages"]:  # what this release adds: an attachment's file may be purged (retention)
        for attachment in message["attachments"]:
            attachment["purged"] = None
    assert now == then
    held = cli(old_cfg, "quarantine", "list")
    assert "unknown-sender" in held.stdout and "stranger@nowhere.test" in held.stdout
    status = cli(old_cfg, "status")  # the new table of this release is there and empty
    assert "not running" in status.stdout + status.stderr
    with closing(sqlite3.connect(path)) as db, db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_database_from_a_newer_maildesk_is_refused_and_left_alone(old_cfg):
    path = put_release_database(old_cfg)
    StoreBase(path).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(f"PRAGMA user_version = {len(schema.MIGRATIONS) + 1}")
    before = path.read_bytes()
    for args in (("ticket", "show", "1"), ("run", "--once"), ("status",)):
        done = cli(old_cfg, *args)
        assert done.returncode == 78, (args, done.stderr)
        assert "written by a newer maildesk" in done.stderr
    assert version(path) == len(schema.MIGRATIONS) + 1
    assert path.read_bytes() == before
    ingest = cli(old_cfg, "ingest", str(FIXTURES / "new_request.eml"))
    assert ingest.returncode == 75  # the MTA keeps the mail until the right release runs


def test_a_migration_that_fails_half_way_changes_nothing(old_cfg, monkeypatch):
    path = put_release_database(old_cfg)
    broken = [*schema.MIGRATIONS, "CREATE TABLE half (x);\nINSERT INTO nowhere VALUES (1);"]
    monkeypatch.setattr("maildesk.store.base.MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError):
        StoreBase(path)
    assert version(path) == 10  # not even the good migration 11 stayed: one transaction
    with closing(sqlite3.connect(path)) as db, db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half" not in tables and "daemon" not in tables


def test_opening_a_newer_database_raises_a_permanent_error(tmp_path):
    path = tmp_path / "maildesk.db"
    StoreBase(path).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA user_version = 999")
    with pytest.raises(SchemaTooNew, match="999"):
        StoreBase(path)
