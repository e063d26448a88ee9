"""Benchmark: throughput beside the raw limit, cost as the desk grows, latency idle and under a backlog, memory.

    make bench            # or: python bench/run.py [--mails 1000] [--reps 3] [--grown 100000]

Starts a private Dovecot and an aiosmtpd sink on loopback and prints:
  1. throughput: the same generated workload (bench/workload.py: Czech/Slovak mail, replies by tag,
     attachments) drained by `maildesk run --once` (outbox delivered in the same run) and by the raw
     limit (one UID FETCH 1:*, stdlib parse of every part, one SQLite transaction), median of --reps,
     with the ratio, and maildesk's peak RSS;
  2. flat cost: per-message time of `run --once` over 300 mails on a desk seeded with 1,000 and with
     --grown tickets (bench/seed.py);
  3. latency, APPEND -> confirmation at the SMTP server under IDLE: mails one at a time, and probe
     mails that arrive while a backlog of --mails drains (they must not wait behind it);
  4. memory: peak resident memory of run --once and of its parse worker (VmRSS of the process
     and its descendants from /proc, every 20 ms) draining --memory-mails mails of which --big
     are 20 MB;
and the daemon's peak resident memory (VmHWM from /proc).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test servers (not installed)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import seed
from servers import PASSWORD, Dovecot, SmtpSink
from workload import append_all, big_mail, contacts, mails, raw_limit

ROOT = Path(__file__).resolve().parent.parent

RULES = """\
[helpdesk]
name = "Bench Support"
address = "helpdesk@example.test"
tag = "EX"
language = "cs"

[imap]
host = "127.0.0.1"
port = {imap_port}
security = "none"
username = "{user}"
password = "{password}"
poll_interval = 300

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"

[limits]
# one customer's 50 contacts open hundreds of tickets within seconds here: no flood caps
new_tickets_per_hour = 1000000
auto_per_known_day = 1000000

[[queue]]
name = "general"
default = true

[[consultant]]
email = "jana@example.test"
name = "Jana Nováková"
queues = ["general"]
"""

PROBE = ("From: Probe <probe@firma0.test>\r\nTo: helpdesk@example.test\r\nSubject: Probe {i}\r\n"
         "Message-ID: <probe-{i}-{t}@firma0.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
         "Is anybody there? {i}\r\n")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Desk:
    """A maildesk work directory with its own IMAP user, one customer and every bench contact."""

    users = iter(range(1, 10_000))

    def __init__(self, root: Path, imap: Dovecot, smtp: SmtpSink) -> None:
        self.user = f"bench{next(self.users)}"
        self.dir = root / self.user
        self.dir.mkdir()
        self.rules = self.dir / "rules.toml"
        self.rules.write_text(RULES.format(imap_port=imap.port, smtp_port=smtp.port, password=PASSWORD,
                                           user=self.user))
        self.imap = imap
        self.cli("customer", "add", "1", "--name", "Bench s.r.o.",
                 *sum((["--contact", c] for c in [*contacts(), "probe@firma0.test"]), []))

    def cli(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "maildesk", "--config", str(self.rules), *args], check=True,
                              capture_output=True, text=True).stdout

    def load(self, raws: list[bytes]) -> None:
        client = self.imap.client(self.user)
        append_all(client, raws)
        client.logout()

    def run_once(self) -> tuple[float, float]:
        """(seconds, peak RSS MiB of the process and its parse worker) of `maildesk run --once`."""
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "maildesk", "--config", str(self.rules), "run", "--once"],
                                stderr=open(self.dir / "run.log", "a"))
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 or self.imap.count(self.user, "INBOX"):
            sys.exit(f"bench: run --once failed ({proc.returncode}); see {self.dir / 'run.log'}")
        return seconds, usage.ru_maxrss / 1024


def throughput(root: Path, imap: Dovecot, smtp: SmtpSink, n: int, reps: int) -> None:
    raws = mails(n)
    md, raw, rss = [], [], []
    for _ in range(reps):
        user = f"raw{len(raw)}"
        client = imap.client(user)
        append_all(client, raws)
        client.logout()
        raw.append(raw_limit("127.0.0.1", imap.port, user, PASSWORD, root / f"{user}.db")[1])
        desk = Desk(root, imap, smtp)
        desk.load(raws)
        seconds, peak = desk.run_once()
        md.append(seconds)
        rss.append(peak)
    m, r = statistics.median(md), statistics.median(raw)
    print(f"throughput, {n} mails ({sum(b'[EX #' in x for x in raws)} replies by tag), median of {reps}:")
    print(f"  raw limit   {n / r:7.1f} msgs/s   ({r:.2f} s: one UID FETCH 1:*, stdlib parse, one transaction)")
    print(f"  maildesk    {n / m:7.1f} msgs/s   ({m:.2f} s: run --once, {len(smtp.received)} mails delivered "
          f"in all runs)")
    print(f"  ratio       {r / m:7.3f} x raw   (runs: maildesk {', '.join(f'{x:.2f}' for x in md)} s; "
          f"raw {', '.join(f'{x:.2f}' for x in raw)} s)")
    print(f"  peak RSS of run --once and its parse worker: {max(rss):.1f} MiB")


def flat_cost(root: Path, imap: Dovecot, smtp: SmtpSink, grown: int, n: int = 300) -> None:
    print(f"per-message time of run --once over {n} mails, by the size of the desk:")
    base = None
    for size in (1000, grown):
        desk = Desk(root, imap, smtp)
        took = seed(desk.rules, size)
        desk.load(mails(n, seed=7, first=size + 1))
        seconds, _ = desk.run_once()
        per = seconds / n * 1000
        base = base or per
        print(f"  {size:>7} tickets   {per:6.2f} ms/mail   ({per / base:.2f} x; seeded in {took:.1f} s)")


def latency(root: Path, imap: Dovecot, smtp: SmtpSink, one_at_a_time: int, backlog: int) -> None:
    desk = Desk(root, imap, smtp)
    daemon = subprocess.Popen([sys.executable, "-m", "maildesk", "--config", str(desk.rules), "run"],
                              stderr=open(desk.dir / "daemon.log", "w"))
    try:
        time.sleep(2)  # connected and idling
        client = imap.client(desk.user)
        idle = []
        for i in range(one_at_a_time):
            base, t0 = len(smtp.received), time.monotonic()
            client.append("INBOX", "", None, PROBE.format(i=i, t="idle").encode())
            got = smtp.wait_for(base + 2, timeout=30)  # the confirmation and Jana's copy
            if len(got) <= base:
                sys.exit(f"bench: no confirmation of probe {i} in 30 s; see {desk.dir / 'daemon.log'}")
            idle.append((min(r.at for r in got[base:]) - t0) * 1000)
        print(f"latency, APPEND -> first mail at the SMTP server, IDLE, {len(idle)} mails one at a time:")
        print(f"  p50 {pct(idle, 50):7.1f} ms   p90 {pct(idle, 90):7.1f} ms   p99 {pct(idle, 99):7.1f} ms   "
              f"max {max(idle):7.1f} ms")
        append_all(client, mails(backlog, seed=11, first=one_at_a_time + 1))
        probes, sent = 10, {}
        for i in range(probes):
            time.sleep(0.5)
            sent[f"Probe b{i}"] = time.monotonic()
            client.append("INBOX", "", None, PROBE.format(i=f"b{i}", t="backlog").encode())
        client.logout()
        deadline = time.monotonic() + 600
        arrived: dict[str, float] = {}
        seen = 0
        while len(arrived) < probes and time.monotonic() < deadline:
            got = smtp.wait_for(seen + 1, timeout=1)
            for r in got[seen:]:  # each mail parsed once: the sink's thread shares this process
                if b"probe@firma0.test" in b" ".join(x.encode() for x in r.rcpts):
                    subject = str(r.message["Subject"])
                    for name in sent:
                        if subject.endswith(name) and name not in arrived:
                            arrived[name] = r.at
            seen = len(got)
        under = [(arrived[k] - sent[k]) * 1000 for k in sent if k in arrived]
        if len(under) < probes:
            sys.exit(f"bench: only {len(under)} of {probes} probe confirmations arrived")
        print(f"latency of {probes} mails arriving while a backlog of {backlog} drains:")
        print(f"  p50 {pct(under, 50):7.1f} ms   p99 {pct(under, 99):7.1f} ms   max {max(under):7.1f} ms   "
              f"(each: {', '.join(f'{x / 1000:.1f}' for x in under)} s)")
        print(f"daemon peak RSS: {peak_rss_mib(daemon.pid):.1f} MiB")
    finally:
        daemon.terminate()
        daemon.wait(10)


def memory(root: Path, imap: Dovecot, smtp: SmtpSink, n: int, big: int) -> None:
    """Peak RSS of run --once (and of its parse worker) draining n mails of which `big` are 20 MB."""
    desk = Desk(root, imap, smtp)
    raws = mails(n, seed=23)
    for k in range(big):  # spread through the backlog, each from a contact: a ticket whose files are forwarded
        raws.insert((k + 1) * len(raws) // (big + 1), big_mail(k))
    desk.load(raws)
    total = sum(len(r) for r in raws)
    del raws
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "maildesk", "--config", str(desk.rules), "run", "--once"],
                            stderr=open(desk.dir / "run.log", "a"))
    peak = {"daemon": 0.0, "worker": 0.0, "both": 0.0, "pss": 0.0}
    while proc.poll() is None:  # VmRSS (and Pss) of the process and its descendants, every 20 ms
        rss, pss = _tree_rss(proc.pid)
        if rss:
            peak["daemon"] = max(peak["daemon"], rss[0])
            peak["worker"] = max([peak["worker"], *rss[1:]])
            peak["both"] = max(peak["both"], sum(rss))
            peak["pss"] = max(peak["pss"], pss)
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 or imap.count(desk.user, "INBOX"):
        sys.exit(f"bench: run --once failed ({proc.returncode}); see {desk.dir / 'run.log'}")
    print(f"memory, run --once over a backlog of {n + big} mails ({big} of them 20 MB; {total / 2**20:.0f} MiB "
          f"in all) in {seconds:.1f} s:")
    print(f"  peak RSS: daemon {peak['daemon']:.1f} MiB, largest other process (parse worker) "
          f"{peak['worker']:.1f} MiB, all its processes together {peak['both']:.1f} MiB "
          f"(RSS added up; Pss, where the pages they share since the fork count once: {peak['pss']:.1f} MiB)")


def _tree_rss(pid: int) -> tuple[list[float], float]:
    """VmRSS in MiB of a process and then of each of its descendants (empty when it just ended), and the
    sum of their Pss (proportional set size: a page shared by two processes counts half in each)."""
    try:
        pids, i = [pid], 0
        while i < len(pids):
            p = pids[i]
            pids += [int(k) for k in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
            i += 1
        out, pss = [], 0.0
        for p in pids:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
        return out, pss
    except (OSError, ValueError):
        return [], 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mails", type=int, default=1000, help="workload size (and the backlog for latency)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--grown", type=int, default=100_000, help="tickets of the grown desk")
    ap.add_argument("--latency-mails", type=int, default=60)
    ap.add_argument("--memory-mails", type=int, default=10_000, help="backlog of the memory section")
    ap.add_argument("--big", type=int, default=10, help="20 MB mails in that backlog")
    ap.add_argument("--only", choices=("throughput", "flat", "latency", "memory"), help="run one section")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="maildesk-bench-"))
    imap, smtp = Dovecot().start(), SmtpSink().start()
    try:
        if args.only in (None, "throughput"):
            throughput(root, imap, smtp, args.mails, args.reps)
        if args.only in (None, "flat"):
            flat_cost(root, imap, smtp, args.grown)
        if args.only in (None, "latency"):
            latency(root, imap, smtp, args.latency_mails, args.mails)
        if args.only in (None, "memory"):
            memory(root, imap, smtp, args.memory_mails, args.big)
    finally:
        smtp.stop()
        imap.destroy()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
