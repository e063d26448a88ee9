"""Self-service by mail for known contacts: `#status` lists their customer's open tickets, `#kb` sends answers.

Each reply is a normal outbox mail (caps, Auto-Submitted, threading) in the
customer's language; none of them opens a ticket.
"""

from __future__ import annotations

import logging
import secrets
import string
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher

from maildesk import clock
from maildesk.act.desk import Desk
from maildesk.decide import kb
from maildesk.models import Decision, ParsedMail, Sender
from maildesk.outbound.context import ticket_context

log = logging.getLogger("maildesk.auth")
ALPHABET = string.ascii_letters + string.digits  # 16 of these: about 95 bits from `secrets`


def answer(desk: Desk, mail: ParsedMail, d: Decision, sender: Sender | None, raw_sha: str) -> None:
    assert sender is not None
    customer = desk.store.customer(sender.customer_id)
    language = (customer.language if customer else None) or desk.cfg.helpdesk.language
    command, _, words = d.detail.partition(" ")
    if command == "#password":
        _password(desk, mail, sender)
        return
    if command == "#status":
        tickets = [ticket_context(desk.cfg, desk.store, t)
                   for t in desk.store.open_tickets_of(sender.customer_id, sender.address)]
        for t in tickets:
            t["due"] = t["due"] or t["resolution_due"]
        ctx: dict[str, Any] = {"tickets": tickets, "customer_name": customer.name if customer else ""}
        template = "status_reply"
    else:
        ctx = _kb(desk, words, language)
        template = "kb_reply"
    desk.store.event(None, mail.key, "self-service", {"by": sender.address, "command": command})
    desk.outbox.send(template, rcpt=sender.address, language=language, ctx=ctx, ticket=None,
                     in_reply_to=mail.message_id, references=mail.references)


def _password(desk: Desk, mail: ParsedMail, sender: Sender) -> None:
    """A new password to the contract address that asked; the same neutral reply to every other request."""
    customer = desk.store.customer_by_contract(sender.address)
    hour_ago = clock.now() - timedelta(hours=1)
    if customer is not None and not desk.store.recent_event("password-reset", f'"{customer.id}"', hour_ago):
        password = "".join(secrets.choice(ALPHABET) for _ in range(16))
        desk.store.set_password_hash(customer.id, PasswordHasher().hash(password))
        desk.store.event(None, mail.key, "password-reset", {"customer": customer.id, "to": sender.address})
        log.warning("%s #- new password for customer %s sent to its contract address", mail.log_id, customer.id)
        desk.outbox.send("password_reset", rcpt=sender.address, language=customer.language, ticket=None,
                         ctx={"customer_name": customer.name, "customer_id": customer.id, "password": password},
                         in_reply_to=mail.message_id, references=mail.references)
        return
    why = "rate-limited" if customer is not None else "not a contract address"
    desk.store.event(None, mail.key, "password-reset-refused", {"from": sender.address, "why": why})
    desk.outbox.send("password_neutral", rcpt=sender.address, language=None, ticket=None, ctx={},
                     in_reply_to=mail.message_id, references=mail.references)


def _kb(desk: Desk, words: str, language: str) -> dict[str, Any]:
    """#kb 12: the whole article; #kb WORDS: the best matching published articles (in the language, else any)."""
    if words.isdigit():
        a = desk.store.article(int(words))
        article = {"id": a.id, "title": a.title, "body": a.body, "url": kb.link(desk.cfg, a)} \
            if a is not None and a.status == "published" else None
        return {"words": words, "articles": [], "article": article}
    hits = kb.search(desk.store, words, language) or kb.search(desk.store, words, None)
    best = [h.article for h in hits if h.matched][: max(desk.cfg.kb.suggest, 1)]
    return {"words": words, "article": None,
            "articles": [{"id": a.id, "title": a.title, "url": kb.link(desk.cfg, a)} for a in best]}
