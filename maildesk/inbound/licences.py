"""Licence numbers in a mail: `Licence: 123456` (also `License:`, `Licenční číslo:`, `Licenčné číslo:`).

A licence number at the top of a mail names the customer and the product it
is about (decide.steps.licence). It is no password, but it is treated like
one where it is kept: every labelled licence number anywhere in the mail is
redacted from every stored form before anything is stored.
"""

from __future__ import annotations

import re

SCAN_LINES = 3  # "a mail whose body begins with": the licence line is among the first lines of the text
_LABEL = re.compile(r"^(?:licen[cs]e(?:\s+(?:no|number))?|licen[cč]n[ií]\s+[cč][ií]slo|licen[cč]n[eé]\s+[cč][ií]slo)"
                    r"\s*\.?\s*:\s*([A-Za-z0-9][A-Za-z0-9/-]{2,39})\s*$", re.I)
_QUOTE = re.compile(r"^(?:\s*>)+")


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if ln.strip()]


def find(text: str) -> str:
    """The licence number a mail begins with ('' when it names none); quoted history names none."""
    for line in _lines(text)[:SCAN_LINES]:
        m = _LABEL.match(line) if not _QUOTE.match(line) else None
        if m:
            return m.group(1)
    return ""


def numbers_in(text: str) -> set[str]:
    """Every labelled licence number anywhere in a text, quoted lines included (what redaction removes)."""
    return {m.group(1) for line in _lines(text) if (m := _LABEL.match(_QUOTE.sub("", line).strip()))}
