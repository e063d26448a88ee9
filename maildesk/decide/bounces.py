"""Bounces of mail we sent: which outbox entry failed, for whom, and whether for good.

A bounce never opens a ticket and is never answered. It counts only when it
names one of our own Message-IDs (DSNs quote the original headers) *and* that
mail's recipient among the failed addresses, so a forged bounce cannot
silence a customer. A hard failure (unknown user, domain gone) flags the
address: automatic mail to it stops until the flag expires
(`limits.bounce_expiry_days`) or a new mail from that address clears it. A
soft one (mailbox full, over quota, any 4.x.x) is only recorded.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from collections.abc import Iterable
from datetime import timedelta

from flufl.bounce import all_failures

from maildesk import clock
from maildesk.config import Config
from maildesk.models import MailState, ParsedMail
from maildesk.store import Store
from maildesk.store.rows import BounceFlag

log = logging.getLogger("maildesk.bounce")

# RFC 3463: X.2.2 mailbox full, X.2.3 message too long, X.3.4 message too big for the system,
# X.4.x network and routing trouble, X.7.x policy (often spam filters judging one mail, not the address).
_SOFT_STATUS = re.compile(r"^(4\.\d{1,3}\.\d{1,3}|5\.2\.[23]|5\.3\.4|5\.4\.\d{1,3}|5\.7\.\d{1,3})$")
_SOFT_TEXT = re.compile(r"mailbox (is )?full|over ?quota|quota exceeded|exceeded (the )?storage|insufficient "
                        r"(system )?storage|mailbox size limit|try (again )?later|temporar|greylist", re.I)
_STATUS = re.compile(r"^status:\s*([245]\.\d{1,3}\.\d{1,3})", re.I | re.M)


def failed_recipients(raw: bytes) -> tuple[set[str], set[str]]:
    """(temporary, permanent) failed addresses that the bounce names; empty when none is recognised."""
    try:
        temporary, permanent = all_failures(email.message_from_bytes(raw, policy=email.policy.compat32))
    except Exception as exc:  # flufl's heuristic detectors meet every kind of broken bounce
        log.debug("bounce not understood: %s", exc.__class__.__name__)
        return set(), set()
    return _addresses(temporary), _addresses(permanent)


def _addresses(found: Iterable[bytes | str]) -> set[str]:
    """flufl.bounce's addresses (bytes or text), as lower-case text."""
    return {(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)).lower() for x in found}


def _delivery_status(raw: bytes, rcpt: str) -> str:
    """The DSN text (Status, Diagnostic-Code) of the block that names `rcpt`, or the whole report."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:  # a broken bounce: judged by its text below
        return raw[:65536].decode("utf-8", "replace")
    texts = []
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            blocks = [str(p) for p in payload] if isinstance(payload, list) else [str(payload)]
            texts.extend(blocks)
    text = "\n\n".join(texts) or raw[:65536].decode("utf-8", "replace")
    blocks = re.split(r"\n\s*\n", text)
    return "\n\n".join(b for b in blocks if rcpt.lower() in b.lower()) or text


def severity(raw: bytes, rcpt: str, temporary: set[str], permanent: set[str], subject: str = "") -> str:
    """'hard', 'soft', or '' when the bounce does not say that `rcpt` failed."""
    addr = rcpt.lower()
    if addr not in temporary and addr not in permanent:
        return ""
    status = _delivery_status(raw, addr)
    codes = _STATUS.findall(status)
    if addr in temporary or any(_SOFT_STATUS.match(c) for c in codes) or _SOFT_TEXT.search(status) \
            or _SOFT_TEXT.search(subject):
        return "soft"
    return "hard"


def our_message_ids(raw: bytes, cfg: Config) -> set[str]:
    domain = re.escape(cfg.helpdesk.address.rpartition("@")[2].encode())
    return {m.decode() for m in re.findall(rb"md\.\d+\.[0-9a-f]{20}(?:\.[0-9a-f]{12})?@" + domain, raw)}


def record(store: Store, cfg: Config, mail: ParsedMail) -> int | None:
    """Mark the outbox entries a bounce is about; returns their ticket, if any. Call inside a transaction."""
    temporary, permanent = failed_recipients(mail.raw)
    failed = mail.headers.get("x-failed-recipients", "").lower()
    ticket = None
    for mid in our_message_ids(mail.raw, cfg):
        sent = store.outbox_by_message_id(mid)
        if sent is None:
            continue
        rcpt = sent.rcpt.lower()
        if not temporary and not permanent and rcpt in failed:  # no DSN part, only Exim's header
            permanent = {rcpt}
        kind = severity(mail.raw, rcpt, temporary, permanent, mail.subject)
        if not kind:
            log.warning("<%s> #%s bounce names our mail but not its recipient %s: ignored as forged or foreign",
                        mid, sent.ticket or "-", rcpt)
            continue
        ticket = sent.ticket if sent.ticket is not None else ticket
        if kind == "hard":
            store.update_mail(sent.id, status=MailState.BOUNCED, last_error=f"hard bounce: {mail.subject}"[:500])
            store.flag_bounced(rcpt, sent.id)
        else:
            store.update_mail(sent.id, last_error=f"soft bounce: {mail.subject}"[:500])
        log.warning("<%s> #%s outbox %d to %s bounced (%s)", mid, sent.ticket or "-", sent.id, rcpt, kind)
        store.event(sent.ticket, mail.key, "bounce", {"outbox": sent.id, "to": rcpt, "permanent": kind == "hard",
                                                      "subject": mail.subject})
    return ticket


def flagged(store: Store, cfg: Config, address: str) -> BounceFlag | None:
    """The address's hard-bounce flag while it lasts (limits.bounce_expiry_days), else None."""
    flag = store.bounce_flag(address)
    if flag is None:
        return None
    since = (clock.now() - timedelta(days=cfg.limits.bounce_expiry_days)).isoformat(timespec="seconds")
    return flag if flag.at >= since else None


def clear(store: Store, address: str, key: str) -> None:
    """A person wrote from the address: it works again (inside the transaction of that mail)."""
    if store.clear_bounce_flag(address):
        store.event(None, key, "bounce-cleared", {"address": address.lower(), "why": "new mail from the address"})
        log.info("key:%s #- %s wrote again: its bounce flag is cleared", key[:16], address.lower())
