"""Thread stage: which existing ticket, if any, does a mail continue?

Two clues: the subject tag `[TAG #N]` (behind any reply/forward prefixes in
the languages our customers write in) and In-Reply-To/References naming a
message of a ticket. Whether the sender may write there is authorise's call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from maildesk.config import Config
from maildesk.models import ParsedMail
from maildesk.store import Store

PREFIXES = ("re", "fw", "fwd", "aw", "wg", "odp", "pd", "vs", "sv", "tr", "r", "rif", "antw", "fs")
_PREFIX_RE = re.compile(r"^\s*(?:(?:" + "|".join(PREFIXES) + r")\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def tag_pattern(tag: str) -> re.Pattern[str]:
    return re.compile(r"\[\s*" + re.escape(tag) + r"\s*#\s*(\d{1,9})(?:-([a-z0-9]{3}))?\s*\]", re.I)


def check_code(secret: str, text: str, length: int = 3) -> str:
    """A short HMAC of `text`, in lower-case base32 (no padding)."""
    mac = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode().lower()[:length]


def format_tag(cfg: Config, number: int) -> str:
    """[EX #42], or [EX #42-k7f] with helpdesk.tag_secret set."""
    tag, secret = cfg.helpdesk.tag, cfg.helpdesk.tag_secret
    return f"[{tag} #{number}-{check_code(secret, f'{tag}#{number}')}]" if secret else f"[{tag} #{number}]"


def strip_prefixes(subject: str) -> str:
    """The subject without Re:/Fwd:/AW:/Odp:/PD:/VS: ... prefixes."""
    return _PREFIX_RE.sub("", subject).strip()


def strip_tag(subject: str, tag: str) -> str:
    """The subject without prefixes and without our tag: the ticket's own subject."""
    return re.sub(r"\s{2,}", " ", tag_pattern(tag).sub("", strip_prefixes(subject))).strip()


def tagged_number(subject: str, tag: str) -> int | None:
    m = tag_pattern(tag).search(subject)
    return int(m.group(1)) if m else None


def tag_is_genuine(subject: str, cfg: Config) -> bool:
    """With a tag_secret: does the subject's tag carry the right check code?"""
    m = tag_pattern(cfg.helpdesk.tag).search(subject)
    if not m or not cfg.helpdesk.tag_secret:
        return False
    expected = check_code(cfg.helpdesk.tag_secret, f"{cfg.helpdesk.tag}#{int(m.group(1))}")
    return hmac.compare_digest((m.group(2) or "").lower(), expected)


def find_ticket(mail: ParsedMail, store: Store, cfg: Config) -> tuple[int | None, str]:
    """(ticket number, clue) for the ticket the mail names, or (None, '') when it names none."""
    number = tagged_number(mail.subject, cfg.helpdesk.tag)
    if number is not None and store.ticket(number):
        return number, "tag"
    ids = [*mail.references, mail.in_reply_to] if mail.in_reply_to else list(mail.references)
    found = store.ticket_for_ids([i for i in ids if i])
    if found is not None:
        return found, "references"
    return None, ""
