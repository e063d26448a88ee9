"""Reply extraction: the new text of a consultant's reply, without what the customer already has.

mail-parser-reply supplies the reply-header patterns of many languages and
clients ("On … wrote:", "Dne … napsal(a):", "Am … schrieb", Outlook's
From:/Sent: and Od:/Odesláno: blocks). We use only its header patterns, to find
where the quoted history starts, because its own splitting strips every line
and cuts at words like "Děkuji," that are often part of the answer. Added
here: Slovak headers, "Původní zpráva" separators, "> " quote blocks above or
below the answer, and the "-- " signature. When the layout is not clear
(answers interleaved with quotes, or nothing left) the whole text is relayed:
losing customer-visible content is worse than repeating a quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mailparser_reply.parser import EmailMessage

_EXTRA_HEADERS = [
    r"^Dňa\s.{1,200}?\snapísal(?:\(a\))?:\s*$",              # Slovak Thunderbird
    r"^-{2,}\s*On\s.{1,200}\swrote:\s*$",                      # Yahoo: "--- On Wed, 4/4/12, X wrote:"
    r"^-{2,}\s*(?:Původní zpráva|Pôvodná správa|Original Message|Ursprüngliche Nachricht)\s*-{2,}\s*$",
    r"^(?:[* ]*(?:Od|Odoslané|Komu|Predmet|Dátum):[ *]*.*\n){3,}",  # Slovak Outlook block
    r"^_{20,}\s*$",                                           # Outlook's line before its header block
]
_SIGNATURE = re.compile(r"^-- ?$", re.M)
_SENT_FROM = re.compile(r"^(?:Sent from my .{1,40}|Odesláno z (?:mého|iPhonu).{0,40}|Odoslané z .{1,40}|"
                        r"Gesendet von meinem .{1,40}|Get Outlook for .{1,40})$", re.I)
_QUOTE = re.compile(r"^\s*>")


@dataclass(frozen=True)
class Extracted:
    """The text to relay, and whether the quoted history was found with confidence."""

    text: str
    confident: bool


@lru_cache(maxsize=1)
def _header_regex() -> re.Pattern[str]:
    library = EmailMessage(text="", languages=["cs", "de", "en"]).HEADER_REGEX.pattern
    return re.compile("|".join([library, *(f"(?:{p})" for p in _EXTRA_HEADERS)]), re.M | re.I)


def _header_line(lines: list[str]) -> int | None:
    """Index of the line where the first reply header (the library's or ours) starts."""
    normal = "\n".join(line.strip() for line in lines)
    m = _header_regex().search(normal)
    if not m:
        return None
    start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip("\n")))
    return normal.count("\n", 0, start)


def _interleaved(tail: list[str]) -> bool:
    """True when text follows quoted lines below a header: answers written between the quotes."""
    body = "\n".join(tail)
    m = _SIGNATURE.search(body)
    lines = (body[: m.start()] if m else body).split("\n")
    seen_quote = False
    for ln in lines:
        if _QUOTE.match(ln):
            seen_quote = True
        elif seen_quote and ln.strip():
            return True
    return False


def _kinds(lines: list[str]) -> list[str]:
    """'q' for quoted lines and their attribution, 't' for text, '' for blank lines."""
    kinds = ["q" if _QUOTE.match(ln) else ("t" if ln.strip() else "") for ln in lines]
    for i, k in enumerate(kinds):
        if k == "q" and i > 0 and kinds[i - 1] in ("t", ""):
            j = i - 1
            while j >= 0 and not kinds[j]:
                j -= 1
            if j >= 0 and kinds[j] == "t" and lines[j].rstrip().endswith(":"):
                # the attribution ("On … wrote:"), possibly wrapped over up to 3 lines with a date or address
                first = j
                while first > 0 and kinds[first - 1] == "t" and j - first < 2 and \
                        lines[first - 1].rstrip().endswith(("<", ",", ">")):
                    first -= 1  # an attribution wrapped inside its address: "… Name <" / "a@b> wrote:"
                for n in range(first, j + 1):
                    kinds[n] = "q"
    return kinds


def _drop_quotes(lines: list[str]) -> list[str] | None:
    """Remove one quote block above or below the answer; None when quotes and text interleave."""
    kinds = _kinds(lines)
    runs = [k for i, k in enumerate(kinds) if k and k != next((x for x in reversed(kinds[:i]) if x), None)]
    if "q" not in runs:
        return lines
    if runs.count("t") > 1 or runs.count("q") > 1:
        return None
    first_q = kinds.index("q")
    last_q = len(kinds) - 1 - kinds[::-1].index("q")
    return lines[last_q + 1:] if runs[0] == "q" else lines[:first_q]


def _drop_signature(lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    m = _SIGNATURE.search(text)
    if m:
        text = text[: m.start()]
    out = text.rstrip().split("\n")
    while out and (not out[-1].strip() or _SENT_FROM.match(out[-1].strip())):
        out.pop()
    return out


def latest_reply(text: str) -> Extracted:
    """The new part of a reply; the whole text (not confident) when the layout is unclear."""
    whole = text.replace("\r\n", "\n").strip()
    lines = whole.split("\n")
    at = _header_line(lines)
    if at:  # a header below some text: the history starts there...
        tail = lines[at + 1:]
        first = next((ln for ln in tail if ln.strip()), "")
        if _QUOTE.match(first) and _interleaved(tail):  # ...unless answers follow between the quotes
            return Extracted(whole, False)
        lines = lines[:at]
    kept = _drop_quotes(_drop_signature(lines))
    if kept is None:
        return Extracted(whole, False)
    result = "\n".join(_drop_signature(kept)).strip()
    if not result:
        return Extracted(whole, False)
    return Extracted(result, True)
