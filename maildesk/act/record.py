"""The two things every action that touches a ticket needs: record a mail on it, and confirm it to the requester."""

from __future__ import annotations

from maildesk.act.desk import Desk
from maildesk.decide import kb
from maildesk.decide.route import hours_of, ticket_plan
from maildesk.models import ParsedMail
from maildesk.outbound.context import ticket_context


def record_message(desk: Desk, number: int, mail: ParsedMail, direction: str, raw_sha: str, text: str | None = None,
                   original: str | None = None, to: str | None = None) -> None:
    """A mail on a ticket: its text (or the part of it that counts), attachments, thread ID."""
    desk.store.add_message(
        number, direction=direction, message_id=mail.message_id, message_key=mail.key, from_addr=mail.from_addr,
        to_addrs=to or ", ".join(mail.to + mail.cc), date=mail.date, subject=mail.subject,
        text=mail.text if text is None else text, original_text=original, raw_sha256=raw_sha,
        attachments=mail.attachments)


NO_EXPRESS = {"requested": False, "granted": False, "price": ""}


def confirm(desk: Desk, number: int, requester_name: str = "", express: dict[str, object] | None = None,
            about: str = "") -> None:
    """The confirmation to the requester: number, tag, queue position, response target, hints."""
    ticket = desk.store.ticket(number)
    assert ticket is not None
    ctx = ticket_context(desk.cfg, desk.store, ticket)
    found = kb.suggest(desk.cfg, desk.store, about, ticket.language) if about else []
    suggestions = [{"id": a.id, "title": a.title, "url": kb.link(desk.cfg, a)} for a in found]
    desk.outbox.send("confirmation", rcpt=ticket.comm_address, language=ticket.language, ticket=number,
                     ctx={"ticket": ctx, "customer_name": ctx["customer_name"], "requester_name": requester_name,
                          "hours": hours_of(desk.cfg, ticket_plan(desk.cfg, ticket)), "express": express or NO_EXPRESS,
                          "suggestions": suggestions},
                     in_reply_to=desk.store.first_message_id(number))
