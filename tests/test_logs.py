"""Log lines for a terminal, the journal (no second timestamp, a priority per line) and log shippers (JSON)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

from conftest import eml

from maildesk import logs


def record(level: int, msg: str, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("maildesk.fetch", level, __file__, 1, msg, (), exc_info)


def test_journal_lines_carry_the_priority_on_every_line_and_no_timestamp():
    fmt = logs.JournalFormatter()
    assert fmt.format(record(logging.WARNING, "IMAP down")) == "<4>WARNING maildesk.fetch: IMAP down"
    lines = fmt.format(record(logging.ERROR, "failed", exc=True)).split("\n")
    assert len(lines) > 3 and all(line.startswith("<3>") for line in lines)  # the traceback is not filed as INFO
    assert [logs.priority(lv) for lv in (5, 10, 20, 25, 30, 40, 50)] == [7, 7, 6, 6, 4, 3, 2]


def test_a_mail_cannot_forge_a_journal_line_or_drive_the_terminal():
    hostile = "subject \x1b[2J\x1b]0;owned\x07 \r<0>EMERG forged \x9b31m"
    for fmt in (logs.TextFormatter(), logs.JournalFormatter(), logs.JsonFormatter()):
        out = fmt.format(record(logging.INFO, hostile))
        assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "\x9b" not in out
    journal = logs.JournalFormatter().format(record(logging.INFO, "a\n<0>forged"))
    assert journal.split("\n")[1].startswith("<6>")  # a message's own newline cannot pick a priority


def test_json_is_one_object_per_line_with_the_traceback_inside():
    out = logs.JsonFormatter().format(record(logging.ERROR, "processing failed", exc=True))
    assert "\n" not in out
    entry = json.loads(out)
    assert entry["level"] == "ERROR" and entry["priority"] == 3 and entry["logger"] == "maildesk.fetch"
    assert entry["message"] == "processing failed" and "ValueError: boom" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_the_journal_is_recognised_by_device_and_inode(tmp_path, monkeypatch):
    with open(tmp_path / "stderr", "w") as ours, open(tmp_path / "other", "w") as other:
        st = os.fstat(ours.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert logs.journal_stream(ours) and not logs.journal_stream(other)
        assert not logs.journal_stream(io.StringIO())  # no file descriptor: not the journal
        monkeypatch.setenv("JOURNAL_STREAM", "garbage")
        assert not logs.journal_stream(ours)


def run_daemon(cfg, tmp_path, *args: str, journal: bool = False) -> list[str]:
    """`maildesk [args] run --once` with stderr in a file (the journal's stream when `journal`)."""
    path = tmp_path / "stderr.log"
    with open(path, "w") as err:
        env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
        if journal:
            st = os.fstat(err.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        done = subprocess.run([sys.executable, "-m", "maildesk", "--config", str(cfg.path), *args, "run", "--once"],
                              stderr=err, env=env, timeout=120)
    assert done.returncode == 0, path.read_text()
    return path.read_text().splitlines()


def test_the_daemon_under_systemd_writes_journal_lines(cfg, customer, dovecot, smtp, tmp_path):
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    lines = run_daemon(cfg, tmp_path, journal=True)
    decision = [line for line in lines if "maildesk.pipeline" in line]
    assert decision and decision[0].startswith("<6>INFO maildesk.pipeline: <req-1@acme.test> #1 new")
    assert all(line[:3] in {"<6>", "<4>", "<3>", "<7>", "<2>"} for line in lines)
    assert not any(line[3:5] == "20" for line in lines)  # no "2026-..." timestamp of our own


def test_log_format_json_gives_one_object_per_line(cfg, customer, dovecot, smtp, tmp_path):
    dovecot.append(cfg.imap.username, eml("new_request", n=2))
    entries = [json.loads(line) for line in run_daemon(cfg, tmp_path, "--log-format", "json")]
    pipeline = [e for e in entries if e["logger"] == "maildesk.pipeline"]
    assert pipeline and pipeline[0]["message"].startswith("<req-2@acme.test> #1 new")
    assert {e["logger"] for e in entries} >= {"maildesk.pipeline", "maildesk.smtp"}
