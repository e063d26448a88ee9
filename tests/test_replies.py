"""Reply extraction over the cases in tests/replies/ (NAME.eml + NAME.expected.txt), as bench/replies.py scores them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import replies  # noqa: E402  (bench/replies.py)

NAMES = sorted(p.name[: -len(".expected.txt")] for p in (ROOT / "tests" / "replies").glob("*.expected.txt"))


def test_the_set_is_large_and_speaks_our_customers_languages():
    assert len(NAMES) >= 120
    assert sum(n.split("-")[0] in ("cs", "sk") for n in NAMES) >= 30
    assert sum(n.endswith(tuple(f"-{k}" for k in ("html",))) or "html" in n for n in NAMES) >= 8
    langs = {n.split("-")[0] for n in NAMES}
    assert {"cs", "sk", "en", "de", "fr", "es", "it", "pt", "nl", "pl", "da", "sv", "no", "fi", "ru", "hu", "ja",
            "zh"} <= langs


@pytest.mark.parametrize("name", NAMES)
def test_no_quote_leaks_and_no_answer_is_lost(name):
    exact, soft, got, expected = replies.score(name)
    assert soft, f"got:\n{got}\n\nexpected:\n{expected}"


def test_scores_meet_the_bar(capsys):
    result = replies.run()
    assert result["soft"] >= 0.95 and result["exact"] >= 0.85, capsys.readouterr().out
