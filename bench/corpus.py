"""Every message of ../shared/corpus through the real pipeline: the outcome table.

    .venv/bin/python bench/corpus.py [--corpus ../shared/corpus]

Prints counts per index.tsv category x outcome, the messages whose outcome
contradicts their category guess, and the time taken. Uses a throwaway
SQLite store; nothing is sent (the outbox is only counted). Anyone may open
tickets (unknown_sender = "open") and the per-sender rate limit is lifted, so
that the table shows what classification alone does.
"""

from __future__ import annotations

import argparse
import collections
import csv
import tempfile
import time
from pathlib import Path

from maildesk.config import load
from maildesk.daemon import Daemon

RULES = """\
[helpdesk]
name = "Corpus"
address = "helpdesk@example.test"
tag = "EX"
[imap]
enabled = false
[smtp]
host = "127.0.0.1"
port = 9
security = "none"
[authorise]
unknown_sender = "open"
[limits]
new_tickets_per_hour = 100000
"""
ROOT = Path(__file__).resolve().parent.parent


def run(corpus: Path, workdir: Path) -> list[dict]:
    """Process every message; one row per message with its category, outcome and mails caused."""
    (workdir / "rules.toml").write_text(RULES.format())
    daemon = Daemon(load(workdir / "rules.toml"))
    rows = []
    for entry in csv.DictReader(open(corpus / "index.tsv", encoding="utf-8"), delimiter="\t"):
        before = daemon.store.one("SELECT COUNT(*) AS n FROM outbox")["n"]
        outcome = daemon.handle((corpus / entry["file"]).read_bytes())
        mails = daemon.store.one("SELECT COUNT(*) AS n FROM outbox")["n"] - before
        label = "FAILED" if outcome is None else outcome.kind.value + (f"/{outcome.reason}" if outcome.reason else "")
        rows.append({"file": entry["file"], "category": entry["category"], "outcome": label,
                     "kind": outcome.kind.value if outcome else "", "mails": mails})
    daemon.pipeline.parse.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    args = ap.parse_args()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(Path(args.corpus), Path(tmp))
    table = collections.Counter((r["category"], r["outcome"]) for r in rows)
    print(f"{len(rows)} messages in {time.monotonic() - t0:.1f} s\n")
    print(f"{'category':<11} {'outcome':<36} count")
    for (cat, out), n in sorted(table.items()):
        print(f"{cat:<11} {out:<36} {n}")
    odd = [r for r in rows
           if r["category"] in ("bounce", "autoreply") and (r["kind"] in ("new", "followup") or r["mails"])]
    print(f"\nbounces/auto-replies that opened a ticket or caused mail: {len(odd)}")
    for r in odd:
        print(f"  {r['file']}: {r['outcome']}, {r['mails']} mail(s)")


if __name__ == "__main__":
    main()
