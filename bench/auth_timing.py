"""Credential check timing: a known customer ID vs an unknown one (argon2id vs the dummy hash).

    .venv/bin/python bench/auth_timing.py [--tries 60]

Both checks must cost the same, so that the time of a 'wrong credentials'
answer does not tell whether a customer ID exists. Prints medians, the
difference and the spread, on a real SQLite store.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from maildesk.act.customers import add_customer
from maildesk.decide.authorise import check_credentials
from maildesk.inbound.credentials import Credentials
from maildesk.store import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "maildesk.db")
        add_customer(store, "12345678", "ACME", [], "en", "correct-horse-battery")
        cases = {"known ID": Credentials("12345678", "wrong-password"),
                 "unknown ID": Credentials("99999999", "wrong-password")}
        times: dict[str, list[float]] = {k: [] for k in cases}
        for creds in cases.values():  # warm-up, including the dummy hash made on first use
            check_credentials(store, creds, "x@y.test")
        for i in range(args.tries):
            items = list(cases.items())
            for name, creds in items if i % 2 else items[::-1]:
                t0 = time.perf_counter()
                check_credentials(store, creds, "x@y.test")
                times[name].append((time.perf_counter() - t0) * 1000)
        med = {k: statistics.median(v) for k, v in times.items()}
        for k, v in times.items():
            print(f"{k:<11} median {med[k]:7.2f} ms   p10 {sorted(v)[len(v) // 10]:7.2f}   "
                  f"p90 {sorted(v)[len(v) * 9 // 10]:7.2f}   stdev {statistics.pstdev(v):5.2f}   n={len(v)}")
        print(f"difference of medians: {abs(med['known ID'] - med['unknown ID']):.2f} ms")


if __name__ == "__main__":
    main()
