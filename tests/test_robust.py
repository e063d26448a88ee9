"""Robust against the real world: automatic mail, caps, limits, hostile MIME, outages (real servers)."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import shutil
import sqlite3
import struct
import subprocess
import time
from datetime import timedelta

import pytest
from conftest import cli, eml, run_once, stored_blobs, until
from servers import StallingProxy

from maildesk.cli.views import ticket_record
from maildesk.daemon import Daemon, open_store
from maildesk.outbound.render import Renderer


def outcome_counts(cfg) -> dict:
    store = open_store(cfg)
    return {"tickets": store.one("SELECT COUNT(*) AS n FROM tickets")["n"],
            "outbox": store.one("SELECT COUNT(*) AS n FROM outbox")["n"]}


@pytest.mark.parametrize("subject, header, expected", [
    ("Out of office", "Auto-Submitted: auto-replied", "auto-replied"),
    ("Digest", "Auto-Submitted: auto-generated", "auto-generated"),
    ("Newsletter", "Precedence: bulk", "mailing-list"),
    ("List mail", "List-Id: <users.lists.acme.test>", "mailing-list"),
    ("Away", "X-Autoreply: yes", "auto-replied"),
    ("Abwesend", "X-Auto-Response-Suppress: All", "auto-replied"),
    ("Automatic reply: Printer", "X-Mailer: Exchange", "auto-replied"),
    ("Own mail back", "X-Maildesk-Loop: helpdesk@example.test", "own-mail"),
    ("Empty return path", "Return-Path: <>", "bounce"),
])
def test_automatic_mail_opens_nothing_and_gets_no_reply(cfg, customer, dovecot, smtp, subject, header, expected):
    dovecot.append(cfg.imap.username, eml("auto_headers", n=1, subject=subject, header=header))
    run_once(cfg)
    assert outcome_counts(cfg) == {"tickets": 0, "outbox": 0}
    store = open_store(cfg)
    assert store.one("SELECT outcome, reason FROM inbound") == {"outcome": "ignored", "reason": expected}
    assert dovecot.count(cfg.imap.username, cfg.imap.processed_folder) == 1


def test_human_mail_with_auto_submitted_no_is_human(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("auto_headers", n=2, subject="Help", header="Auto-Submitted: no"))
    run_once(cfg)
    assert outcome_counts(cfg)["tickets"] == 1


def test_auto_reply_on_a_ticket_is_an_event_not_a_message(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("new_request", n=3))
    run_once(cfg)
    dovecot.append(cfg.imap.username, eml("auto_headers", n=3, subject="Re: [EX #1] Printer on fire",
                                          header="Auto-Submitted: auto-replied"))
    run_once(cfg)
    rec = ticket_record(open_store(cfg), 1)
    assert len(rec["messages"]) == 1 and rec["status"] == "open"
    assert any(e["kind"] == "automatic-mail" and "auto-replied" in e["detail"] for e in rec["events"])
    assert len(smtp.wait_for(2, timeout=0.3)) == 1  # only the first confirmation


def test_hard_bounce_marks_the_outbox_entry_and_address(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("new_request", n=4))
    run_once(cfg)
    [conf] = smtp.wait_for(1)
    original = conf.message["Message-ID"].strip("<>")
    dovecot.append(cfg.imap.username, eml("dsn_bounce", n=4, rcpt="alice@acme.test", original=original))
    run_once(cfg)
    store = open_store(cfg)
    row = store.one("SELECT status, last_error FROM outbox WHERE message_id = ?", (original,))
    assert row["status"] == "bounced" and "hard bounce" in row["last_error"]
    assert store.one("SELECT address FROM bounced")["address"] == "alice@acme.test"
    assert "bounced" in cli(cfg, "outbox", "list").stdout
    rec = ticket_record(store, 1)
    assert any(e["kind"] == "bounce" for e in rec["events"]) and rec["mails"][0]["status"] == "bounced"
    assert outcome_counts(cfg)["tickets"] == 1


def test_caps_per_ticket_and_recipient_with_an_injected_clock(make_config, customer_factory, dovecot, smtp,
                                                              frozen_clock):
    cfg = make_config(extra='[limits]\nauto_caps = ["2/10m", "3/1h"]\n', jana_queues='"general"')
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml("new_request", n=5))
    run_once(cfg)  # Jana: 1 notification
    for n in range(6, 10):  # four follow-ups, each notifying Jana: capped at 2 per 10 min, then 3 per hour
        frozen_clock["now"] += timedelta(minutes=4)
        dovecot.append(cfg.imap.username, eml("reply_with_attachment", n=n, ticket=1))
        run_once(cfg)
    store = open_store(cfg)
    sent = store.all("SELECT created FROM outbox WHERE rcpt = 'jana@example.test' ORDER BY id")
    assert len(sent) == 3
    suppressed = [e for e in ticket_record(store, 1)["events"] if e["kind"] == "mail-suppressed"]
    assert len(suppressed) == 2 and "per ticket and recipient" in suppressed[0]["detail"]


def _twelve_mails(cfg, dovecot, frozen_clock, fixture: str) -> None:
    for n in range(12):  # half an hour apart: within the new-ticket bucket
        mail = eml(fixture, n=f"bot{n}").replace(b"Subject: ", f"Subject: Ticket received {n} ".encode(), 1)
        dovecot.append(cfg.imap.username, mail)
        run_once(cfg)
        frozen_clock["now"] += timedelta(minutes=30)


def test_a_known_contact_hears_back_for_every_ticket_of_the_day(cfg, customer, dovecot, smtp, frozen_clock):
    """Confirmations of distinct new tickets are what a helpdesk exists to send: no per-day cap of 3."""
    _twelve_mails(cfg, dovecot, frozen_clock, "new_request")
    assert len(smtp.wait_for(12) and smtp.to("alice@acme.test")) == 12


def test_a_contacts_broken_bot_is_capped_at_the_known_level(make_config, customer_factory, dovecot, smtp,
                                                           frozen_clock):
    cfg = make_config(extra="[limits]\nauto_per_known_day = 5\n")
    customer_factory(cfg)
    _twelve_mails(cfg, dovecot, frozen_clock, "new_request")
    assert len(smtp.wait_for(6, timeout=0.3) and smtp.to("alice@acme.test")) == 5
    assert open_store(cfg).one("SELECT COUNT(*) AS n FROM tickets")["n"] == 12  # every ticket still opens


def test_a_bot_at_an_unknown_address_gets_at_most_three_a_day(make_config, dovecot, smtp, frozen_clock):
    """A stranger's auto-responder without RFC 3834 headers answers each mail with a fresh one."""
    cfg = make_config(extra='[authorise]\nunknown_sender = "open"\n')
    _twelve_mails(cfg, dovecot, frozen_clock, "stranger")
    assert len(smtp.wait_for(4, timeout=0.3) and smtp.to("stranger@nowhere.test")) == 3
    frozen_clock["now"] += timedelta(hours=24)
    dovecot.append(cfg.imap.username, eml("stranger", n="next-day"))
    run_once(cfg)
    assert len(smtp.wait_for(4) and smtp.to("stranger@nowhere.test")) == 4  # a new day, a new allowance


def test_new_tickets_per_sender_are_rate_limited(make_config, customer_factory, dovecot, smtp, frozen_clock):
    cfg = make_config(extra="[limits]\nnew_tickets_per_hour = 2\n")
    customer_factory(cfg)
    for n in range(4):
        dovecot.append(cfg.imap.username, eml("new_request", n=f"rl{n}").replace(b"Printer", f"P{n}".encode()))
    run_once(cfg)
    store = open_store(cfg)
    assert outcome_counts(cfg)["tickets"] == 2
    assert [q["reason"] for q in store.all("SELECT reason FROM quarantine")] == ["rate-limited"] * 2
    frozen_clock["now"] += timedelta(minutes=31)  # one token back
    assert cli(cfg, "quarantine", "release", "1").returncode == 0
    assert outcome_counts(cfg)["tickets"] == 3


def test_never_sends_to_daemons_and_noreply(make_config, dovecot, smtp):
    cfg = make_config(extra='[authorise]\nunknown_sender = "open"\n')
    for n, addr in enumerate(["noreply@shop.test", "no-reply@shop.test", "postmaster@shop.test"]):
        dovecot.append(cfg.imap.username, eml("stranger", n=n).replace(b"stranger@nowhere.test", addr.encode()))
    run_once(cfg)
    assert outcome_counts(cfg) == {"tickets": 2, "outbox": 0}  # postmaster@ is a bounce, the others open tickets
    assert smtp.wait_for(1, timeout=0.3) == []


@pytest.mark.parametrize("extra, fixture, reason", [
    ("max_message_bytes = 200", "new_request", "too-large"),
    ("max_attachments = 0", "reply_with_attachment", "too-many-attachments"),
    ("max_attachment_bytes = 5", "reply_with_attachment", "attachments-too-large"),
    ("max_parts = 2", "reply_with_attachment", "too-many-parts"),
    ("max_mime_depth = 1", "reply_with_attachment", "too-deep"),
])
def test_each_limit_quarantines_with_its_reason(make_config, customer_factory, dovecot, smtp, extra, fixture, reason):
    cfg = make_config(extra=f"[limits]\n{extra}\n")
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml(fixture, n=1, ticket=1))
    run_once(cfg)
    store = open_store(cfg)
    assert store.one("SELECT reason FROM quarantine")["reason"] == reason
    assert dovecot.count(cfg.imap.username, cfg.imap.quarantine_folder) == 1
    if reason == "too-large":  # one notice to the known sender; the full message is in the quarantine folder
        [notice] = smtp.wait_for(1) and smtp.to("alice@acme.test")
        assert "too large" in notice["Subject"]
        assert b"room 3 is on fire" in dovecot.messages(cfg.imap.username, cfg.imap.quarantine_folder)[0]


def test_parse_timeout_kills_the_worker(make_config, customer_factory, dovecot, smtp, monkeypatch):
    cfg = make_config(extra="[limits]\nparse_timeout = 1\n")
    customer_factory(cfg)
    monkeypatch.setenv("MAILDESK_STALL_AT", "parse")  # the forked parse worker hangs like on a hostile mail
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    t0 = time.monotonic()
    run_once(cfg)
    assert time.monotonic() - t0 < 10
    assert open_store(cfg).one("SELECT reason FROM quarantine")["reason"] == "parse-timeout"


def test_long_body_is_kept_whole_as_request_full_txt(make_config, customer_factory, dovecot, smtp):
    cfg = make_config(extra="[limits]\nmax_body_chars = 40\n")
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    run_once(cfg)
    m = ticket_record(open_store(cfg), 1)["messages"][0]
    assert "request-full.txt" in m["text"] and len(m["text"]) < 120
    [att] = m["attachments"]
    assert att["filename"] == "request-full.txt"
    data = stored_blobs(cfg)[att["sha256"]].decode()
    assert "Error: E-42" in data and data.rstrip().endswith("Alice")


def tnef(files: list[tuple[str, bytes]]) -> bytes:
    """A minimal winmail.dat (TNEF) carrying `files`."""
    def attr(level: int, name: int, typ: int, data: bytes) -> bytes:
        return struct.pack("<BHHI", level, name, typ, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)
    out = struct.pack("<IH", 0x223E9F78, 1) + attr(1, 0x9006, 0x0009, struct.pack("<I", 0x10000))
    for name, data in files:
        out += attr(2, 0x9002, 0x0006, b"\x00" * 14) + attr(2, 0x8010, 0x0001, name.encode() + b"\x00")
        out += attr(2, 0x800F, 0x0006, data)
    return out + attr(1, 0x9003, 0x0006, b"\x00" * 8)


def test_winmail_dat_is_unpacked_and_kept(cfg, customer, dovecot, smtp):
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
    blob = tnef([("report.pdf", b"%PDF-1.4 fake report\n"), ("chart.png", png)])
    dovecot.append(cfg.imap.username, eml("winmail", n=1, tnef_b64=base64.encodebytes(blob).decode()))
    run_once(cfg)
    atts = {a["filename"]: a for a in ticket_record(open_store(cfg), 1)["messages"][0]["attachments"]}
    assert set(atts) == {"winmail.dat", "report.pdf", "chart.png"}
    store = open_store(cfg)
    types = {r["filename"]: r["content_type"] for r in store.all("SELECT filename, content_type FROM attachments")}
    assert types["chart.png"] == "image/png" and types["report.pdf"] == "application/pdf"  # sniffed


def test_traversal_name_never_becomes_a_path(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("traversal_name"))
    run_once(cfg)
    [att] = ticket_record(open_store(cfg), 1)["messages"][0]["attachments"]
    assert "/" not in att["filename"] and "\\" not in att["filename"] and not att["filename"].startswith(".")
    assert att["filename"].endswith("evil")  # still recognisable for people
    stored = stored_blobs(cfg)
    assert att["sha256"] in stored and all(re.fullmatch("[0-9a-f]{64}", name) for name in stored)
    assert all(p.parent.name == p.name[:2] for p in (cfg.data_dir / "blobs").rglob("*") if p.is_file())
    assert not any("evil" in str(p) for p in cfg.data_dir.rglob("*"))


async def test_stalled_connection_is_detected_and_reconnected(make_config, customer_factory, dovecot, smtp, caplog):
    caplog.set_level(logging.INFO, logger="maildesk")
    proxy = StallingProxy(dovecot.port)
    cfg = make_config(poll=1, imap_port=proxy.port)
    customer_factory(cfg)
    task = asyncio.create_task(Daemon(cfg).run())
    try:
        await asyncio.sleep(1.5)
        proxy.stall_all()
        await asyncio.to_thread(dovecot.append, cfg.imap.username, eml("new_request", n=1))
        await until(lambda: smtp.received, timeout=30)
        assert len(smtp.received) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        proxy.close()
    warnings = [r for r in caplog.records if r.name == "maildesk.fetch" and "retrying with backoff" in r.getMessage()]
    assert len(warnings) == 1, [w.getMessage() for w in warnings]


def test_uidvalidity_change_causes_no_duplicates(cfg, customer, dovecot, smtp, caplog):
    caplog.set_level(logging.WARNING, logger="maildesk.fetch")
    raw = eml("new_request", n=1)
    dovecot.append(cfg.imap.username, raw)
    run_once(cfg)
    subprocess.run(["doveadm", "-c", str(dovecot.conf), "mailbox", "update", "-u", cfg.imap.username,
                    "--uid-validity", "4242", "INBOX"], check=True)
    dovecot.append(cfg.imap.username, raw)  # the restored mailbox hands us the same mail again
    run_once(cfg)
    assert outcome_counts(cfg) == {"tickets": 1, "outbox": 1}
    assert any("UIDVALIDITY" in r.getMessage() for r in caplog.records)
    assert open_store(cfg).watermark("INBOX").uidvalidity == 4242


def test_disk_full_keeps_the_message_in_inbox_until_there_is_room(make_config, customer_factory, dovecot, smtp,
                                                                   tmp_path, caplog):
    cfg = make_config()
    customer_factory(cfg)
    blobs = cfg.data_dir / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=640k", "tmpfs", str(blobs)], check=True)
    try:
        (blobs / "filler").write_bytes(b"x" * 560 * 1024)
        # an attachment too big for a row of the database: the raw mail and it are files
        raw = eml("reply_with_attachment", n=1, ticket=1).replace(b"RTQyIGZ1c2VyIG92ZXJoZWF0Cg==",
                                                                   base64.encodebytes(b"y" * 200_000))
        dovecot.append(cfg.imap.username, raw)
        out = cli(cfg, "run", "--once")
        assert out.returncode == 75 and "No space left" in out.stderr, out.stderr
        assert dovecot.count(cfg.imap.username, "INBOX") == 1
        assert outcome_counts(cfg)["tickets"] == 0
        (blobs / "filler").unlink()
        assert cli(cfg, "run", "--once").returncode == 0
        assert outcome_counts(cfg)["tickets"] == 1
        assert dovecot.count(cfg.imap.username, "INBOX") == 0
    finally:
        subprocess.run(["umount", "-l", str(blobs)], check=False)


def test_a_full_disk_under_the_database_keeps_the_message_in_inbox_until_there_is_room(make_config,
                                                                                       customer_factory, dovecot,
                                                                                       smtp):
    """Small blobs are rows: a disk too full for the database's growth is the same transient fault."""
    cfg = make_config()
    customer_factory(cfg)
    Renderer(cfg)  # the templates' cache is written now, not on the full disk
    conn = sqlite3.connect(cfg.data_dir / "maildesk.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    aside = cfg.data_dir.with_name("aside")
    cfg.data_dir.rename(aside)
    cfg.data_dir.mkdir()
    used = sum(-(-p.stat().st_size // 4096) * 4096 for p in aside.rglob("*")) + 4096  # in tmpfs pages
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={used + 96 * 1024}", "tmpfs", str(cfg.data_dir)],
                   check=True)
    try:
        shutil.copytree(aside, cfg.data_dir, dirs_exist_ok=True)
        raw = eml("reply_with_attachment", n=1, ticket=1).replace(b"RTQyIGZ1c2VyIG92ZXJoZWF0Cg==",
                                                                   base64.encodebytes(b"y" * 60_000))
        dovecot.append(cfg.imap.username, raw)
        out = cli(cfg, "run", "--once")
        assert out.returncode == 75 and "full" in out.stderr, out.stderr
        assert "#1 new (contact bob@acme.test)" in out.stderr  # decided, then its commit failed: not at start
        assert dovecot.count(cfg.imap.username, "INBOX") == 1
        assert outcome_counts(cfg)["tickets"] == 0
        subprocess.run(["mount", "-o", "remount,size=8m", str(cfg.data_dir)], check=True)
        assert cli(cfg, "run", "--once").returncode == 0
        assert outcome_counts(cfg)["tickets"] == 1
        assert dovecot.count(cfg.imap.username, "INBOX") == 0
    finally:
        subprocess.run(["umount", "-l", str(cfg.data_dir)], check=False)
