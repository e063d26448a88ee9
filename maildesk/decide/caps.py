"""Loop and flood caps: how much automatic mail one address gets, how many tickets one sender opens.

Caps are for bots and strangers; a known contact always hears back.
- Never send to mailer-daemon@, postmaster@, noreply@-style addresses, our own
  address, or an address with a live hard-bounce flag (bounces.flagged).
- Per ticket and recipient: `limits.auto_caps` windows (Zammad-style, e.g.
  10 per 10 minutes and 25 per hour) for every mail except a consultant's answer.
- Per recipient and day: `limits.auto_per_recipient_day` automatic replies to
  an unknown address (a bot answering every mail with a fresh Message-ID),
  `limits.auto_per_known_day` to a contact or requester (only a broken bot gets there).
- All unknown addresses together: `limits.stranger_notices_per_hour`
  explanations, so forged senders cannot turn the helpdesk into a backscatter source.
- Per sender: a token bucket of `limits.new_tickets_per_hour` new tickets.
A suppressed mail is not queued; the suppression is an event on the ticket.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from maildesk import clock
from maildesk.config import Config
from maildesk.decide import bounces
from maildesk.store import Store

AUTO_REPLIES = ("confirmation", "unknown_sender", "bad_credentials", "too_large", "held", "status_reply",
                "kb_reply", "password_reset", "password_neutral")
STRANGER_NOTICES = ("unknown_sender", "bad_credentials", "password_neutral")
HUMAN_KINDS = ("answer",)
_NEVER = re.compile(r"^(mailer-daemon|mailerdaemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+-].*)?@", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _window(spec: str) -> tuple[int, timedelta]:
    count, span = spec.split("/")
    return int(count), timedelta(seconds=int(span[:-1]) * _UNITS[span[-1]])


def _since(delta: timedelta) -> datetime:
    return clock.now() - delta


def never_send(addr: str) -> bool:
    """Addresses no person reads: mailer-daemon@, postmaster@, noreply@ and the like."""
    return bool(_NEVER.match(addr))


def known(store: Store, cfg: Config, addr: str) -> bool:
    """A consultant, a customer's contact, or the requester of a customer's ticket (e.g. by credentials)."""
    return cfg.consultant_by_email(addr) is not None or bool(store.customers_of(addr)) \
        or store.has_customer_ticket(addr)


def refusal(store: Store, cfg: Config, kind: str, rcpt: str, ticket: int | None) -> str:
    """Why this mail must not be sent now ('' when it may)."""
    addr = rcpt.lower()
    if _NEVER.match(addr) or addr == cfg.helpdesk.address.lower():
        return "never-send address"
    if kind in HUMAN_KINDS:
        return ""
    flag = bounces.flagged(store, cfg, addr)
    if flag:
        return f"address hard-bounced at {flag.at} (until it writes again or {cfg.limits.bounce_expiry_days} days pass)"
    if ticket is not None:
        for spec in cfg.limits.auto_caps:
            count, span = _window(spec)
            if store.count_mail(rcpt=rcpt, ticket=ticket, not_kind="answer", since=_since(span)) >= count:
                return f"cap {spec} per ticket and recipient reached"
    if kind not in AUTO_REPLIES or cfg.consultant_by_email(addr) is not None:
        return ""
    is_known = known(store, cfg, addr)
    limit = cfg.limits.auto_per_known_day if is_known else cfg.limits.auto_per_recipient_day
    if store.count_mail(rcpt=rcpt, kinds=AUTO_REPLIES, since=_since(timedelta(days=1))) >= limit:
        return f"{limit} automatic replies per day to {'a known' if is_known else 'an unknown'} address reached"
    if kind in STRANGER_NOTICES and not is_known:
        if store.count_mail(kinds=STRANGER_NOTICES, since=_since(timedelta(hours=1))) \
                >= cfg.limits.stranger_notices_per_hour:
            return f"{cfg.limits.stranger_notices_per_hour} notices to unknown addresses per hour reached"
    return ""


def _tokens(store: Store, cfg: Config, sender: str) -> float:
    cap = float(cfg.limits.new_tickets_per_hour)
    bucket = store.bucket(sender)
    if bucket is None:
        return cap
    tokens, updated = bucket
    return min(cap, tokens + (clock.now() - updated).total_seconds() * cap / 3600)


def may_open(store: Store, cfg: Config, sender: str) -> bool:
    """Has this sender a new-ticket token left?"""
    return _tokens(store, cfg, sender) >= 1


def take_token(store: Store, cfg: Config, sender: str) -> None:
    """Spend one token (inside the transaction that opens the ticket)."""
    store.set_bucket(sender, _tokens(store, cfg, sender) - 1)
