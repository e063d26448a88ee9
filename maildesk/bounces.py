"""Bounces of mail we sent: which outbox entry failed, and for whom (flufl.bounce).

A bounce never opens a ticket and is never answered. When it carries one of
our Message-IDs (DSNs quote the original headers), the outbox entry is
marked `bounced` on a permanent failure and the address is remembered, so
the operator sees it in `outbox list` and `ticket show`.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re

from flufl.bounce import all_failures

from .config import Config
from .models import ParsedMail
from .store import Store, now

log = logging.getLogger("maildesk.bounce")


def failed_recipients(raw: bytes) -> tuple[set[str], set[str]]:
    """(temporary, permanent) failed addresses that the bounce names; empty when none is recognised."""
    try:
        temporary, permanent = all_failures(email.message_from_bytes(raw, policy=email.policy.compat32))
    except Exception as exc:  # flufl's heuristic detectors meet every kind of broken bounce
        log.debug("bounce not understood: %s", exc.__class__.__name__)
        return set(), set()
    norm = lambda xs: {(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)).lower() for x in xs}  # noqa
    return norm(temporary), norm(permanent)


def our_message_ids(raw: bytes, cfg: Config) -> set[str]:
    domain = re.escape(cfg.helpdesk.address.rpartition("@")[2].encode())
    return {m.decode() for m in re.findall(rb"md\.\d+\.[0-9a-f]{20}(?:\.[0-9a-f]{12})?@" + domain, raw)}


def record(store: Store, cfg: Config, mail: ParsedMail) -> int | None:
    """Mark the outbox entries a bounce is about; returns their ticket, if any. Call inside a transaction."""
    temporary, permanent = failed_recipients(mail.raw)
    ticket = None
    for mid in our_message_ids(mail.raw, cfg):
        row = store.one("SELECT id, ticket, rcpt, status FROM outbox WHERE message_id = ?", (mid,))
        if row is None:
            continue
        ticket = row["ticket"] if row["ticket"] is not None else ticket
        hard = row["rcpt"].lower() in permanent or (not temporary and not permanent and mail.headers.get(
            "x-failed-recipients", "").lower().find(row["rcpt"].lower()) >= 0)
        if hard:
            store.db["outbox"].update(row["id"], {"status": "bounced", "last_error": f"hard bounce: {mail.subject}"[:500]})
            store.db["bounced"].upsert({"address": row["rcpt"].lower(), "at": now(), "outbox": row["id"]}, pk="address")
            log.warning("<%s> #%s outbox %d to %s bounced (permanent)", mid, row["ticket"] or "-", row["id"], row["rcpt"])
        store.event(row["ticket"], mail.key, "bounce", {"outbox": row["id"], "to": row["rcpt"],
                                                        "permanent": hard, "subject": mail.subject})
    return ticket
