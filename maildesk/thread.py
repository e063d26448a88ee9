"""Thread stage: which existing ticket, if any, does a mail continue?

Two clues: the subject tag `[TAG #N]` (behind any reply/forward prefixes in
the languages our customers write in) and In-Reply-To/References naming a
message of a ticket. Whether the sender may write there is authorise's call.
"""

from __future__ import annotations

import re

from .models import ParsedMail
from .store import Store

PREFIXES = ("re", "fw", "fwd", "aw", "wg", "odp", "pd", "vs", "sv", "tr", "r", "rif", "antw", "fs")
_PREFIX_RE = re.compile(r"^\s*(?:(?:" + "|".join(PREFIXES) + r")\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def tag_pattern(tag: str) -> re.Pattern[str]:
    return re.compile(r"\[\s*" + re.escape(tag) + r"\s*#\s*(\d{1,9})\s*\]", re.I)


def format_tag(tag: str, number: int) -> str:
    return f"[{tag} #{number}]"


def strip_prefixes(subject: str) -> str:
    """The subject without Re:/Fwd:/AW:/Odp:/PD:/VS: ... prefixes."""
    return _PREFIX_RE.sub("", subject).strip()


def strip_tag(subject: str, tag: str) -> str:
    """The subject without prefixes and without our tag: the ticket's own subject."""
    return re.sub(r"\s{2,}", " ", tag_pattern(tag).sub("", strip_prefixes(subject))).strip()


def tagged_number(subject: str, tag: str) -> int | None:
    m = tag_pattern(tag).search(subject)
    return int(m.group(1)) if m else None


def find_ticket(mail: ParsedMail, store: Store, tag: str) -> tuple[int | None, str]:
    """(ticket number, clue) for the ticket the mail names, or (None, '') when it names none."""
    number = tagged_number(mail.subject, tag)
    if number is not None and store.ticket(number):
        return number, "tag"
    ids = [*mail.references, mail.in_reply_to] if mail.in_reply_to else list(mail.references)
    found = store.ticket_for_ids([i for i in ids if i])
    if found is not None:
        return found, "references"
    return None, ""
