"""Benchmark: confirmation latency under IDLE, throughput, and the daemon's peak RSS.

    make bench            # or: python bench/latency.py [--latency-mails 60] [--batch-mails 200]

Starts a private Dovecot and an aiosmtpd sink on loopback, runs the real
daemon (`maildesk run`, IDLE on, polling every 300 s so polls cannot help),
then
  1. latency: APPENDs one mail at a time and times APPEND -> confirmation
     accepted by the SMTP server (p50/p90/p99/max);
  2. throughput: APPENDs a batch at once and times until every confirmation
     has arrived (msgs/s);
and reports the daemon's peak resident memory (VmHWM from /proc).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test servers (not installed)
from servers import PASSWORD, Dovecot, SmtpSink

ROOT = Path(__file__).resolve().parent.parent

RULES = """\
[helpdesk]
name = "Bench Support"
address = "helpdesk@example.test"
tag = "EX"

[imap]
host = "127.0.0.1"
port = {imap_port}
security = "none"
username = "bench"
password = "{password}"
poll_interval = 300

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
"""

MAIL = ("From: Customer {i} <c{i}@acme.test>\r\nTo: helpdesk@example.test\r\nSubject: Request {i}\r\n"
        "Message-ID: <bench-{i}@acme.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The printer says E-{i}.\r\n")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-mails", type=int, default=60)
    ap.add_argument("--batch-mails", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="maildesk-bench-"))
    imap, smtp = Dovecot().start(), SmtpSink().start()
    daemon = None
    try:
        (work / "rules.toml").write_text(RULES.format(imap_port=imap.port,
                                                      smtp_port=smtp.port, password=PASSWORD))
        cfg = ["--config", str(work / "rules.toml")]
        subprocess.run([sys.executable, "-m", "maildesk", *cfg, "customer", "add", "1", "--name", "ACME",
                        *sum((["--contact", f"c{i}@acme.test"] for i in range(args.latency_mails + args.batch_mails)),
                             [])], check=True, capture_output=True)
        daemon = subprocess.Popen([sys.executable, "-m", "maildesk", *cfg, "run"],
                                  stderr=open(work / "daemon.log", "w"))
        time.sleep(2)  # connected and idling

        latencies = []
        client = imap.client("bench")
        for i in range(args.latency_mails):
            t0 = time.monotonic()
            client.append("INBOX", "", None, MAIL.format(i=i).encode())
            got = smtp.wait_for(i + 1, timeout=30)
            if len(got) <= i:
                sys.exit(f"bench: confirmation {i} did not arrive")
            latencies.append((got[i].at - t0) * 1000)

        base = len(smtp.received)
        t0 = time.monotonic()
        for i in range(args.latency_mails, args.latency_mails + args.batch_mails):
            client.append("INBOX", "", None, MAIL.format(i=i).encode())
        got = smtp.wait_for(base + args.batch_mails, timeout=600)
        elapsed = time.monotonic() - t0
        if len(got) < base + args.batch_mails:
            sys.exit(f"bench: only {len(got) - base} of {args.batch_mails} confirmations arrived")
        client.logout()

        print(f"latency, APPEND -> confirmation at the SMTP server, IDLE, {len(latencies)} mails one at a time:")
        print(f"  p50 {pct(latencies, 50):7.1f} ms   p90 {pct(latencies, 90):7.1f} ms   "
              f"p99 {pct(latencies, 99):7.1f} ms   max {max(latencies):7.1f} ms   "
              f"mean {statistics.mean(latencies):.1f} ms")
        print(f"throughput, batch of {args.batch_mails} mails APPENDed at once: "
              f"{args.batch_mails / elapsed:.1f} msgs/s "
              f"({elapsed:.1f} s until the last confirmation)")
        print(f"daemon peak RSS: {peak_rss_mib(daemon.pid):.1f} MiB")
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait(10)
        smtp.stop()
        imap.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
