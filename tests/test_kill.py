"""SIGKILL at random moments while a 200-message batch is processed: nothing lost, nothing twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from conftest import cli

from maildesk.daemon import open_store

N = 200
MAIL = ("From: Customer {i} <c{i}@acme.test>\r\nTo: helpdesk@example.test\r\nSubject: Request {i}\r\n"
        "Message-ID: <kill-{i}@acme.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Printer {i} is on fire.\r\n")


def test_sigkill_during_a_batch_loses_nothing_and_duplicates_no_ticket(make_config, dovecot, smtp):
    cfg = make_config(extra="[limits]\nauto_per_recipient_day = 100\n")
    contacts = [arg for i in range(N) for arg in ("--contact", f"c{i}@acme.test")]
    assert cli(cfg, "customer", "add", "1", "--name", "ACME", *contacts).returncode == 0
    with dovecot.client(cfg.imap.username) as c:
        for i in range(N):
            c.append("INBOX", "", None, MAIL.format(i=i).encode())
    seed = int(os.environ.get("MAILDESK_KILL_SEED", "20261122"))
    rng = random.Random(seed)
    kills = 0
    cmd = [sys.executable, "-m", "maildesk", "--config", str(cfg.path), "run"]
    while dovecot.count(cfg.imap.username, "INBOX") and kills < 8:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    assert cli(cfg, "run", "--once").returncode == 0  # the survivor drains what is left
    store = open_store(cfg)
    tickets = store.one("SELECT COUNT(*) AS n FROM tickets")["n"]
    distinct = store.one("SELECT COUNT(DISTINCT message_id) AS n FROM messages")["n"]
    confirmations = store.one("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'confirmation'")["n"]
    received = len(smtp.wait_for(N, timeout=30))
    print(f"\nkill test (seed {seed}): {kills} SIGKILLs, {tickets} tickets, {distinct} distinct messages, "
          f"{confirmations} confirmations queued, {received} mails at the SMTP server")
    assert dovecot.count(cfg.imap.username, "INBOX") == 0
    assert dovecot.count(cfg.imap.username, cfg.imap.processed_folder) == N  # 0 lost
    assert tickets == N and distinct == N  # 0 duplicate tickets
    assert store.one("SELECT MAX(number) AS n FROM tickets")["n"] == N  # and no gaps
    assert confirmations == N
    assert N <= received <= N + kills  # at most one repeated mail per kill (the SMTP window)
    assert {r.rcpts[0] for r in smtp.received} == {f"c{i}@acme.test" for i in range(N)}
