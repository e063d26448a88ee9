"""How well the knowledge base answers before a consultant reads the mail: precision@3 and false suggestions.

    .venv/bin/python bench/kb.py [-v]

Loads bench/kb_set.py into a throwaway database (published articles), asks the
suggestion code (decide.kb.suggest, with the default [kb] thresholds) for each
labelled request, and prints:
- precision@3: of the requests that have an answer, the share whose answer is
  among the (at most three) suggestions;
- false suggestions: of the requests without an answer, the share that got any
  suggestion at all.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kb_set import ARTICLES, REQUESTS

from maildesk.config import load
from maildesk.decide import kb
from maildesk.store import open_store


def measure(verbose: bool = False) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.toml"
        rules.write_text('[helpdesk]\nname = "X"\naddress = "help@x.test"\ntag = "X"\n[imap]\nenabled = false\n')
        cfg = load(rules)
        store = open_store(cfg)
        ids = {}
        with store.transaction():
            for key, lang, text in ARTICLES:
                title, _, body = text.partition("\n")
                ids[store.add_article(title=title, body=body, language=lang, status="published")] = key
        hit = answerable = false = unanswerable = 0
        for lang, text, key in REQUESTS:
            got = [ids[a.id] for a in kb.suggest(cfg, store, text, None)]
            if key is None:
                unanswerable += 1
                false += bool(got)
            else:
                answerable += 1
                hit += key in got
            if verbose:
                print(f"{'ok ' if (key in got if key else not got) else 'MISS'} {lang} {text.splitlines()[0]!r}: "
                      f"{got} (want {key})")
        store.close()
    return hit / answerable, false / unanswerable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    p3, fp = measure(args.verbose)
    answerable = sum(1 for r in REQUESTS if r[2])
    print(f"{len(REQUESTS)} requests ({answerable} with an answer among {len(ARTICLES)} articles)")
    print(f"precision@3: {p3:.0%}   false suggestions for requests without an answer: {fp:.0%}")


if __name__ == "__main__":
    main()
