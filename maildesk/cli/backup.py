"""`maildesk backup DEST` and `maildesk restore SRC`: a consistent copy while the daemon runs, and its way back.

The database is copied with SQLite's online backup API, which gives one
consistent snapshot even while mail is being committed; the small blobs are
rows in it. The blob files it refers to are copied next: they are
content-addressed and written before the commit that refers to them, so every
file the snapshot names is already complete.
The config (rules.toml and the site templates) goes along for reference; a
restore puts back only the data, into an empty data_dir.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from maildesk import clock
from maildesk.act.customers import InputError
from maildesk.cli.views import say
from maildesk.config import Config
from maildesk.store import Store, holds_data
from maildesk.store.blobs import BlobStore


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def backup(cfg: Config, store: Store, dest: Path) -> int:
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"{dest} is not empty: back up into a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    store.backup_to(dest / "maildesk.db")
    copy = Store(dest / "maildesk.db")
    needed = sorted(copy.referenced_blobs())
    rows = {sha for sha, _, _ in copy.blob_rows()}  # in the snapshot already
    copy.close()
    source, blobs = BlobStore(cfg.data_dir / "blobs"), BlobStore(dest / "blobs")
    for sha in (sha for sha in needed if sha not in rows):
        blobs.path(sha).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source.path(sha), blobs.path(sha))
    (dest / "config").mkdir()
    shutil.copy2(cfg.path, dest / "config" / "rules.toml")
    if cfg.templates_dir and cfg.templates_dir.is_dir():
        shutil.copytree(cfg.templates_dir, dest / "config" / "templates")
    manifest = {"created": clock.now().isoformat(timespec="seconds"), "database": _sha256(dest / "maildesk.db"),
                "blobs": len(needed)}
    (dest / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    say(f"backup in {dest}: the database and {len(needed)} blob(s); config in {dest / 'config'}")
    return 0


def _intact(blobs: BlobStore, sha: str) -> bool:
    """The blob is there (a row or a file) and its bytes still have its sha256."""
    try:
        with blobs.open(sha) as f:
            return hashlib.file_digest(f, "sha256").hexdigest() == sha
    except FileNotFoundError:
        return False


DB_FILES = ("maildesk.db", "maildesk.db-wal", "maildesk.db-shm")


def _holds_data(data: Path) -> bool:
    """Anything in data_dir a restore would overwrite? Not: the templates' compiled cache, an empty blobs
    folder, or a database without a row (what `maildesk check` or a first start creates)."""
    if not data.exists():
        return False
    for p in data.iterdir():
        if p.name == "cache" or p.name in DB_FILES[1:] or (p.name == "blobs" and not any(p.iterdir())):
            continue
        if p.name == "maildesk.db" and not holds_data(p):
            continue
        return True
    return False


def restore(cfg: Config, src: Path) -> int:
    """Put a backup's database and blobs into the config's data_dir, which must be empty; check both."""
    data = cfg.data_dir
    if _holds_data(data):
        raise InputError(f"{data} is not empty: restore into an empty data_dir (stop the daemon, move it aside)")
    manifest = json.loads((src / "MANIFEST.json").read_text())
    if _sha256(src / "maildesk.db") != manifest["database"]:
        raise InputError(f"{src / 'maildesk.db'} does not match its MANIFEST.json: the backup is damaged")
    data.mkdir(parents=True, exist_ok=True)
    for name in DB_FILES:  # an empty database that `check` or a first start made gives way
        (data / name).unlink(missing_ok=True)
    shutil.copy2(src / "maildesk.db", data / "maildesk.db")
    if (src / "blobs").is_dir():
        shutil.copytree(src / "blobs", data / "blobs", dirs_exist_ok=True)
    store = Store(data / "maildesk.db")
    ok = store.integrity()
    blobs = BlobStore(data / "blobs", store)
    bad = [sha for sha in store.referenced_blobs() if not _intact(blobs, sha)]
    store.close()
    if ok != "ok" or bad:
        raise InputError(f"restored, but the check failed: integrity {ok}; {len(bad)} blob(s) missing or wrong")
    say(f"restored into {data}: integrity ok, {manifest['blobs']} blob(s) checked")
    return 0
