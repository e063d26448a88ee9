"""Finding the articles that answer a mail: FTS5 over diacritics-free text, light Czech/Slovak stemming.

Why this and not a stemmer library: the FTS5 tokenizer `unicode61
remove_diacritics 2` already folds case and diacritics ("Tiskárna" is
"tiskarna"), and Czech and Slovak inflect mostly at the end of a word. So each
query word loses its usual case ending ("faktury", "faktura", "fakturou" ->
"faktur") and becomes a prefix query ("faktur*"). No dictionary is needed, and
the index stays one SQLite table.
FTS5's bm25 ranks the candidates. An article is suggested only when it shares
at least `kb.min_terms` of the mail's words and `kb.min_coverage` % of them,
so a mail that matches nothing gets no list at all (calibrated in tests).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from maildesk.config import Config
from maildesk.store import Store
from maildesk.store.rows import Article

# Endings of Czech and Slovak nouns, adjectives and verbs (longest first); English plurals and verb forms.
_ENDINGS = sorted({
    "ami", "ach", "ech", "ich", "ych", "imi", "ymi", "emi", "ove", "ovi", "ovy", "ova", "ovo", "iho", "eho", "ymu",
    "imu", "ata", "aty", "ete", "ite", "ame", "ime", "eme", "aji", "eji", "ou", "em", "im", "om", "am", "um", "ho",
    "mu", "ej", "ov", "ky", "ka", "ku", "ke", "ce", "ci", "es", "ed", "ing", "ly",
    "a", "e", "i", "o", "u", "y", "s",
}, key=len, reverse=True)
_STOP = frozenset("""a aby ale ani ano asi az bez bude by byl byla bylo co do ho i jak jake je jeho jej jsem jsme
jsou jste k kde kdy ktera ktere ktery mate me mi mne mu na nam nas ne nebo neni nez o od pak po pro proc prosim s se
si sme so ta tak tam te to tu ty u uz v vam vas ve vsak z za ze and are but can for from has have how not our please
that the this with you your dobry den hello dekuji dakujem thanks thank regards pozdravem pozdravom""".split())


def fold(text: str) -> str:
    """Lower case without diacritics: what the index compares."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


_BY_LENGTH = tuple((n, frozenset(e for e in _ENDINGS if len(e) == n)) for n in sorted({len(e) for e in _ENDINGS},
                                                                                     reverse=True))


def stem(word: str) -> str:
    """A word without its usual ending, at least four letters long ("faktury" -> "faktur").

    The longest ending that leaves four letters wins; one set lookup per ending length, not a
    test of every ending (that was 50 `endswith` calls a word, a fifth of a mail's decision time).
    """
    for n, endings in _BY_LENGTH:
        if len(word) - n >= 4 and word[-n:] in endings:
            return word[:-n]
    return word


def stems(text: str, limit: int = 24) -> list[str]:
    """The distinct stems of a text's words that can carry meaning."""
    out: list[str] = []
    for word in re.findall(r"[a-z0-9]+", fold(text)):
        if len(word) < 3 or word in _STOP or word.isdigit():
            continue
        s = stem(word)
        if s not in out:
            out.append(s)
        if len(out) >= limit:
            break
    return out


@dataclass(frozen=True)
class Hit:
    article: Article
    rank: float  # bm25: lower is better
    matched: int  # how many of the query's stems the article contains


def search(store: Store, text: str, language: str | None, limit: int = 20,
           terms: list[str] | None = None) -> list[Hit]:
    """Published articles (in a language, or any) ranked for a text (or for its stems, when known)."""
    terms = stems(text) if terms is None else terms
    if not terms:
        return []
    match = " OR ".join(f'"{t}"*' for t in terms)
    hits = []
    for article, rank in store.search_articles(match, language, limit=limit):
        words = set(re.findall(r"[a-z0-9]+", fold(f"{article.title} {article.body}")))
        matched = sum(1 for t in terms if any(w.startswith(t) for w in words))
        hits.append(Hit(article, rank, matched))
    return hits


def suggest(cfg: Config, store: Store, text: str, language: str | None) -> list[Article]:
    """Up to kb.suggest articles that answer the text well enough; none when nothing does.

    A desk without a published article in the language asks one indexed question, not the stems
    of the whole text (a third of a millisecond a new ticket) and a full-text search."""
    k = cfg.kb
    if k.suggest <= 0 or not store.has_published_article(language):
        return []
    terms = stems(text)
    if not terms:
        return []
    good = [h for h in search(store, text, language, terms=terms)
            if h.matched >= k.min_terms and 100 * h.matched / len(terms) >= k.min_coverage]
    return [h.article for h in good[: k.suggest]]


def link(cfg: Config, article: Article) -> str:
    """The article's address on the published site ('' without kb.public_url)."""
    return f"{cfg.kb.public_url.rstrip('/')}/{article.language}/{article.id}.html" if cfg.kb.public_url else ""
