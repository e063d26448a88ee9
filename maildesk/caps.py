"""Loop and flood caps: how much automatic mail one address gets, how many tickets one sender opens.

- Never send to mailer-daemon@, postmaster@, noreply@-style addresses, our own
  address, or an address that hard-bounced.
- Per ticket and recipient: `limits.auto_caps` windows (Zammad-style, e.g.
  10 per 10 minutes and 25 per hour) for every mail except a consultant's answer.
- Per outside recipient: at most `limits.auto_per_recipient_day` automatic
  replies (confirmations, explanations) in 24 hours, so a bot that answers
  every mail with a fresh Message-ID gets at most that many a day.
- Per sender: a token bucket of `limits.new_tickets_per_hour` new tickets.
A suppressed mail is not queued; the suppression is an event on the ticket.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from . import clock
from .config import Config
from .store import Store

AUTO_REPLIES = ("confirmation", "unknown_sender", "bad_credentials", "too_large")
HUMAN_KINDS = ("answer",)
_NEVER = re.compile(r"^(mailer-daemon|mailerdaemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+-].*)?@", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _window(spec: str) -> tuple[int, timedelta]:
    count, span = spec.split("/")
    return int(count), timedelta(seconds=int(span[:-1]) * _UNITS[span[-1]])


def _since(delta: timedelta) -> str:
    return (clock.now() - delta).isoformat(timespec="seconds")


def refusal(store: Store, cfg: Config, kind: str, rcpt: str, ticket: int | None) -> str:
    """Why this mail must not be sent now ('' when it may)."""
    addr = rcpt.lower()
    if _NEVER.match(addr) or addr == cfg.helpdesk.address.lower():
        return "never-send address"
    if store.one("SELECT 1 AS x FROM bounced WHERE address = ?", (addr,)) and kind not in HUMAN_KINDS:
        return "address bounced before"
    if kind in HUMAN_KINDS:
        return ""
    if ticket is not None:
        for spec in cfg.limits.auto_caps:
            count, span = _window(spec)
            n = store.one("SELECT COUNT(*) AS n FROM outbox WHERE rcpt = ? AND ticket = ? AND kind != 'answer' "
                          "AND created >= ?", (rcpt, ticket, _since(span)))["n"]
            if n >= count:
                return f"cap {spec} per ticket and recipient reached"
    if kind in AUTO_REPLIES and cfg.consultant_by_email(addr) is None:
        n = store.one(f"SELECT COUNT(*) AS n FROM outbox WHERE rcpt = ? AND kind IN ({','.join('?' * len(AUTO_REPLIES))}) "
                      "AND created >= ?", (rcpt, *AUTO_REPLIES, _since(timedelta(days=1))))["n"]
        if n >= cfg.limits.auto_per_recipient_day:
            return f"{cfg.limits.auto_per_recipient_day} automatic replies per day reached"
    return ""


def _tokens(store: Store, cfg: Config, sender: str) -> float:
    cap = float(cfg.limits.new_tickets_per_hour)
    row = store.one("SELECT tokens, updated FROM buckets WHERE sender = ?", (sender,))
    if row is None:
        return cap
    elapsed = (clock.now() - datetime.fromisoformat(row["updated"])).total_seconds()
    return min(cap, row["tokens"] + elapsed * cap / 3600)


def may_open(store: Store, cfg: Config, sender: str) -> bool:
    """Has this sender a new-ticket token left?"""
    return _tokens(store, cfg, sender) >= 1


def take_token(store: Store, cfg: Config, sender: str) -> None:
    """Spend one token (inside the transaction that opens the ticket)."""
    store.db["buckets"].upsert({"sender": sender, "tokens": _tokens(store, cfg, sender) - 1,
                                "updated": clock.now().isoformat(timespec="seconds")}, pk="sender")
