"""Held mail: the `quarantined` decision's action, and who hears of it.

Strangers get at most one explanation per notice interval; a known sender is
told why (a cap that silences a real customer is a defect) and the default
queue's consultants learn of it, so nobody waits on a mail that nobody sees.
"""

from __future__ import annotations

from typing import Any

from maildesk.act import consultants
from maildesk.act.desk import Desk
from maildesk.config import Config
from maildesk.decide.authorise import record_credential_failure
from maildesk.models import Decision, ParsedMail, Reason, Role, Sender

HELD_WHY: dict[str, str] = {
    Reason.RATE_LIMITED: "more than {limit} new requests from one address within an hour",
    Reason.TOO_MANY_ATTACHMENTS: "it has more attachments than we accept in one mail ({max_attachments})",
    Reason.ATTACHMENTS_TOO_LARGE: "its attachments are larger than we accept in one mail",
    Reason.TOO_DEEP: "its structure is nested too deeply to read safely",
    Reason.TOO_MANY_PARTS: "it has more parts than we accept in one mail",
    Reason.HEADERS_TOO_LARGE: "its header is larger than we accept",
    Reason.PARSE_TIMEOUT: "it took too long to read",
    Reason.UNPARSEABLE: "it could not be read",
    Reason.PROCESSING_FAILED: "processing it failed",
}


def held_reason(reason: str, cfg: Config) -> str:
    """A sentence for the sender and the consultants on why a known sender's mail is held."""
    why = HELD_WHY.get(reason, reason)
    return why.format(limit=cfg.limits.new_tickets_per_hour, max_attachments=cfg.limits.max_attachments)


def hold(desk: Desk, mail: ParsedMail, d: Decision, sender: Sender | None, raw_sha: str, attempts: int = 1) -> None:
    """Quarantine the mail with its reason code, then tell whom it concerns."""
    qid = desk.store.hold(key=mail.key, reason=d.reason, sender=mail.from_addr, subject=mail.subject, date=mail.date,
                          raw_sha256=raw_sha, attempts=attempts)
    desk.store.event(None, mail.key, "quarantined", {"reason": d.reason, "from": mail.from_addr})
    explain(desk, mail, d, sender, qid)


def explain(desk: Desk, mail: ParsedMail, d: Decision, sender: Sender | None, qid: int) -> None:
    """Who hears of a quarantined mail: strangers get one explanation, known senders and their queue are told."""
    if sender is None:
        return
    if d.reason == Reason.UNKNOWN_SENDER:
        notice(desk, mail, "unknown_sender", {"sender": mail.from_addr})
        return
    if d.reason in (Reason.BAD_CREDENTIALS, Reason.CREDENTIALS_BACKOFF):
        if d.reason == Reason.BAD_CREDENTIALS:  # while a backoff holds, nothing more is sent
            record_credential_failure(desk.store, desk.cfg, mail.from_addr, d.customer_id or "", mail.key)
            notice(desk, mail, "bad_credentials", {"sender": mail.from_addr})
        return
    if sender.role is Role.STRANGER:
        return  # caps are for strangers: they hear nothing more than the one explanation above
    why = held_reason(d.reason, desk.cfg)
    limits = desk.cfg.limits
    if d.reason == Reason.TOO_LARGE:
        notice(desk, mail, "too_large", {"subject": mail.subject, "size_mb": round(int(d.detail.split()[0]) / 2**20, 1),
                                         "limit_mb": round(limits.max_message_bytes / 2**20, 1)})
    elif desk.store.notice_allowed(mail.from_addr, f"held:{d.reason}", 1):
        customer = desk.store.customer(sender.customer_id)
        reply(desk, mail, "held", customer.language if customer else None,
              {"ticket": None, "reason": d.reason, "why": why, "limit": limits.new_tickets_per_hour})
    consultants.notify_held(desk, mail, sender, d.reason, why, qid)


def reply(desk: Desk, mail: ParsedMail, template: str, language: str | None, ctx: dict[str, Any]) -> None:
    """A templated answer to the sender of `mail` (in the helpdesk language unless one is given)."""
    desk.outbox.send(template, rcpt=mail.from_addr, language=language or desk.cfg.helpdesk.language, ctx=ctx,
                     ticket=None, in_reply_to=mail.message_id, references=mail.references)


def notice(desk: Desk, mail: ParsedMail, template: str, ctx: dict[str, Any]) -> None:
    """An explanation to the sender, at most once per address, kind and notice interval."""
    if not desk.store.notice_allowed(mail.from_addr, template, desk.cfg.authorise.notice_interval_hours):
        desk.store.event(None, mail.key, "notice-suppressed", {"to": mail.from_addr, "kind": template})
        return
    reply(desk, mail, template, None, ctx)
