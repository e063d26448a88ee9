"""[retention] and `maildesk purge`: raw mails and attachment files of tickets closed long ago go; text stays."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

from conftest import age_blobs, cli, eml, run_once

from maildesk import schedule
from maildesk.daemon import open_store
from maildesk.outbound.smtp import OutboxSender
from maildesk.store.blobs import BlobStore

RETENTION = "[retention]\nraw_days = 30\nattachment_days = 200\n"


def age_files(blobs: BlobStore, days: int = 2) -> None:
    """The blob files were written long ago (purge leaves a file touched in the last minutes alone)."""
    old = time.time() - days * 86400
    for path in blobs.root.glob("*/*"):
        os.utime(path, (old, old))


def test_purge_drops_old_raw_mail_then_attachments_and_keeps_what_others_need(make_config, customer_factory,
                                                                             dovecot, smtp, frozen_clock):
    cfg = make_config(jana_queues='"general"', extra=RETENTION)
    customer_factory(cfg)
    store, user = open_store(cfg), cfg.imap.username
    blobs = BlobStore(cfg.data_dir / "blobs", store)
    frozen_clock["now"] = datetime.now(UTC) - timedelta(days=100)  # the tickets are 100 days old
    dovecot.append(user, eml("new_request_attachment", n=1))
    run_once(cfg)
    dovecot.append(user, eml("reply_with_attachment", n=1, ticket=1))  # printer.log: only ticket 1 has it
    dovecot.append(user, eml("new_request_attachment", n=2).replace(b"Printer on fire", b"Scanner too"))
    run_once(cfg)
    close = eml("consultant_commands", n=1, ticket=1, commands="#status closed", body="Fixed, closing.")
    dovecot.append(user, close)
    run_once(cfg)
    assert store.ticket(1).status == "closed" and store.ticket(2).status == "open"
    raw1 = {r["h"] for r in store.all("SELECT raw_sha256 AS h FROM messages WHERE ticket = 1")} - {None}
    raw2 = {r["h"] for r in store.all("SELECT raw_sha256 AS h FROM messages WHERE ticket = 2")} - {None}
    files = {r["filename"]: r["sha256"] for r in store.all("SELECT filename, sha256 FROM attachments")}
    assert len(raw1) >= 2 and raw2 and set(files) == {"fire.jpg", "printer.log"}
    age_blobs(cfg)
    before = cli(cfg, "ticket", "show", "1", "--json").stdout

    # 100 days after closing (the CLI reads the real clock): raw mail is past 30 days, attachments not yet 200
    dry = cli(cfg, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"#1 closed {frozen_clock['now']:%Y-%m-%d}: would drop {len(raw1)} raw mail(s), 0 attachment file(s)" \
        in dry.stdout
    assert "#2" not in dry.stdout and "(dry run: nothing changed)" in dry.stdout
    assert all(blobs.size(h) is not None for h in raw1) and cli(cfg, "ticket", "show", "1", "--json").stdout == before

    done = cli(cfg, "purge")
    assert done.returncode == 0 and f"dropped {len(raw1)} raw mail(s)" in done.stdout, done.stdout + done.stderr
    assert all(blobs.size(h) is None for h in raw1)
    assert all(blobs.size(h) is not None for h in (*raw2, *files.values()))
    shown = json.loads(cli(cfg, "ticket", "show", "1", "--json").stdout)
    assert "The printer is on fire" in shown["messages"][0]["text"]  # the text stays
    purged = [e for e in shown["events"] if e["kind"] == "purged"]
    assert len(purged) == 1 and json.loads(purged[0]["detail"])["raw_mails"] == len(raw1)
    again = cli(cfg, "purge")
    assert "0 ticket(s); 0 file(s)" in again.stdout  # nothing twice, no second event

    # 250 days after closing, the daemon's hourly housekeeping drops the attachment files too
    frozen_clock["now"] = datetime.now(UTC) + timedelta(days=150)
    schedule.housekeeping(store, cfg, OutboxSender(cfg, store))
    assert blobs.size(files["printer.log"]) is None
    assert blobs.size(files["fire.jpg"]) is not None  # ticket 2, still open, has the same photo
    text = cli(cfg, "ticket", "show", "1").stdout
    assert "printer.log" in text and "(file purged" in text
    shown = json.loads(cli(cfg, "ticket", "show", "1", "--json").stdout)
    atts = [a for m in shown["messages"] for a in m["attachments"]]
    assert {a["filename"] for a in atts} == {"fire.jpg", "printer.log"} and all(a["purged"] for a in atts)
    assert len([e for e in shown["events"] if e["kind"] == "purged"]) == 2
    backup = cli(cfg, "backup", str(cfg.path.parent / "bk"))
    assert backup.returncode == 0, backup.stderr  # a purged file is not missed by a backup


def test_a_file_reused_by_a_commit_in_flight_is_not_removed(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    sha = blobs.put(b"the same photo")
    age_files(blobs)
    assert blobs.put(b"the same photo") == sha  # a new mail with the same bytes touches the file ...
    assert blobs.remove(sha, idle=300) == 0 and blobs.path(sha).read_bytes() == b"the same photo"
    age_files(blobs)  # ... and once nobody reused it for a while, it goes
    assert blobs.remove(sha, idle=300) == len(b"the same photo") and not blobs.path(sha).exists()
    assert blobs.remove(sha) == 0  # already gone: nothing to do
    assert blobs.put(b"the same photo") == sha and blobs.size(sha) is not None  # and comes back when needed
    assert not list(blobs.root.glob("*/.*"))  # nothing left aside


def test_retention_off_keeps_everything_and_bad_values_name_the_key(offline, tmp_path):
    cfg = offline()[0]
    assert "retention is off" in cli(cfg, "purge").stdout
    cfg.path.write_text(cfg.path.read_text() + "[retention]\nraw_days = -1\n")
    bad = cli(cfg, "purge")
    assert bad.returncode == 78 and "retention.raw_days: must be 0 (keep forever) or more days" in bad.stderr


HOSTILE = b"""From: Alice Customer <alice@acme.test>
To: helpdesk@example.test
Subject: Logs
Message-ID: <hostile-name@acme.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

See attached.
--b
Content-Type: text/plain
Content-Disposition: attachment; filename*=utf-8''%1B%5D0%3Bowned%07%1B%5B2Jlog%E2%80%AEtxt.exe

log
--b--
"""


def test_purge_output_escapes_what_a_mail_named(offline):
    cfg, store, pipeline = offline(extra="[retention]\nattachment_days = 1\n")
    outcome = pipeline.process(HOSTILE.replace(b"\n", b"\r\n"))
    store.update_ticket(outcome.ticket, status="closed", resolved_at="2020-01-01T00:00:00+00:00")
    out = cli(cfg, "purge", "--dry-run").stdout
    assert f"#{outcome.ticket} closed 2020-01-01: would drop 0 raw mail(s), 1 attachment file(s)" in out
    assert not any(c in out for c in "\x1b\x07\u202e") and "logtxt.exe" in out


def test_a_row_reused_by_a_commit_in_flight_is_not_removed(offline_cfg):
    """The same race for a small blob, a row of the database: a put since the cut-off keeps it."""
    store = open_store(offline_cfg)
    blobs = BlobStore(offline_cfg.data_dir / "blobs", store)
    sha = blobs.put(b"the same photo")
    assert blobs.size(sha) == len(b"the same photo") and not blobs.path(sha).is_file()
    age_blobs(offline_cfg)
    assert blobs.put(b"the same photo") == sha  # a new mail with the same bytes touches the row ...
    assert blobs.remove(sha, idle=300) == 0 and blobs.get(sha) == b"the same photo"
    age_blobs(offline_cfg)  # ... and once nobody reused it for a while, it goes
    assert blobs.remove(sha, idle=300) == len(b"the same photo") and blobs.size(sha) is None
    assert blobs.remove(sha) == 0
    assert blobs.put(b"the same photo") == sha and blobs.get(sha) == b"the same photo"
