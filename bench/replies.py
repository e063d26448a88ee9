"""Reply extraction scores over tests/replies/ (NAME.eml + NAME.expected.txt pairs).

    .venv/bin/python bench/replies.py [-v]

exact: the extracted text equals the expected text.
soft:  every expected line is there and no line of the quoted history leaked
       (the history being the lines of the mail that are neither expected nor
       part of a "-- " signature block). -v lists the cases that are not exact.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from maildesk.config import Limits  # noqa: E402
from maildesk.inbound.extract import new_text  # noqa: E402
from maildesk.inbound.parse import parse  # noqa: E402

CASES = ROOT / "tests" / "replies"


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.split("\n") if ln.strip()]


def _signature(text: str) -> set[str]:
    out, inside = set(), False
    for ln in text.split("\n"):
        if ln.rstrip() == "--":
            inside = True
        elif inside and not ln.strip():
            inside = False
        elif inside:
            out.add(ln.strip())
    return out


def score(name: str) -> tuple[bool, bool, str, str]:
    """(exact, soft, got, expected) for one case."""
    mail = parse((CASES / f"{name}.eml").read_bytes(), Limits(parse_timeout=0))
    text = mail.text
    expected = (CASES / f"{name}.expected.txt").read_text(encoding="utf-8").strip()
    got = new_text(text, mail.html).text.strip()  # what maildesk relays and stores
    want = set(_lines(expected))
    history = set(_lines(text)) - want - _signature(text)
    soft = want <= set(_lines(got)) and not (set(_lines(got)) & history)
    return got == expected, soft, got, expected


def run(verbose: bool = False) -> dict[str, float]:
    names = sorted(p.name[: -len(".expected.txt")] for p in CASES.glob("*.expected.txt"))
    exact = soft = 0
    by_lang: Counter[str] = Counter()
    soft_lang: Counter[str] = Counter()
    for name in names:
        e, s, got, expected = score(name)
        exact += e
        soft += s
        lang = name.split("-")[0]
        by_lang[lang] += 1
        soft_lang[lang] += s
        if verbose and not e:
            print(f"--- {name} ({'soft' if s else 'FAIL'})\n got: {got!r}\nwant: {expected!r}")
    n = len(names)
    print(f"{n} cases: exact {exact}/{n} = {100 * exact / n:.1f}%, soft {soft}/{n} = {100 * soft / n:.1f}%")
    print("soft by language: " + ", ".join(f"{k} {soft_lang[k]}/{v}" for k, v in sorted(by_lang.items())))
    return {"cases": n, "exact": exact / n, "soft": soft / n}


if __name__ == "__main__":
    run(verbose="-v" in sys.argv)
