"""Open a ticket, or add a follow-up to one: the actions of the `new` and `followup` decisions."""

from __future__ import annotations

import logging

from maildesk import clock
from maildesk.act import access, consultants, sla
from maildesk.act.desk import Desk
from maildesk.act.record import confirm, record_message
from maildesk.decide import caps
from maildesk.decide.route import stamp, without_express
from maildesk.decide.routing import place
from maildesk.decide.thread import strip_tag
from maildesk.inbound.extract import new_text
from maildesk.models import Decision, ParsedMail, Role, Sender, Status
from maildesk.outbound.context import ticket_context

log = logging.getLogger("maildesk.consultants")


def open_ticket(desk: Desk, mail: ParsedMail, d: Decision, sender: Sender | None, raw_sha: str) -> int:
    """A new ticket: routed, recorded, confirmed to the requester (unless it waits in triage), shown to its queue."""
    assert sender is not None
    cfg, store = desk.cfg, desk.store
    number = store.next_ticket_number()
    if sender.role is not Role.CONSULTANT:
        caps.take_token(store, cfg, sender.address)
    customer = store.customer(sender.customer_id)
    at = place(cfg, store, mail, sender, clock.now(), d.product)
    ticket = store.insert_ticket(
        number=number, subject=without_express(strip_tag(mail.subject, cfg.helpdesk.tag)) or "(no subject)",
        status=(Status.UNVERIFIED if d.triage else Status.OPEN).value,
        queue=cfg.triage_queue if d.triage else at.queue, priority=at.priority,
        customer_id=sender.customer_id, requester=sender.address, comm_address=sender.address,
        assignee=None if d.triage else at.assignee, plan=at.plan.name, tags=at.tag or None,
        first_response_due=stamp(at.first_response_due), resolution_due=stamp(at.resolution_due),
        language=(customer.language if customer else None) or cfg.helpdesk.language, parent=d.parent)
    record_message(desk, number, mail, "in", raw_sha)
    store.event(number, mail.key, "opened", {"by": sender.address, "role": sender.role.value, "parent": d.parent,
                                             "triage": d.triage, "reason": d.reason, "product": d.product})
    store.event(number, mail.key, "routed", {"rule": at.rule, "why": at.why, "queue": ticket.queue,
                                             "plan": at.plan.name, "assignee": ticket.assignee})
    express = {"requested": at.express_asked, "granted": at.express,
               "price": at.plan.express_price if at.express else ""}
    if at.express_asked:  # recorded for billing (granted) and for the plan's owner (refused)
        store.event(number, mail.key, "express", {"granted": at.express, "plan": at.plan.name,
                                                  "price": express["price"]})
    if sender.role is Role.CREDENTIALS and cfg.authorise.remember_credential_senders:
        access.remember(desk, sender, mail.key)
    if not d.triage:  # an unverified ticket is confirmed when someone verifies it
        first_lines = "\n".join(mail.text.splitlines()[:15])  # the request itself, not a long history below it
        confirm(desk, number, sender.name, express=express, about=f"{ticket.subject}\n{first_lines}")
    consultants.notify_new(desk, ticket, mail)
    return number


def follow_up(desk: Desk, mail: ParsedMail, d: Decision, sender: Sender | None, raw_sha: str) -> int:
    """A mail on an existing ticket: a consultant's reply or commands, or the customer's new text (which reopens)."""
    assert sender is not None and d.ticket is not None
    number = d.ticket
    if sender.role is Role.CONSULTANT:
        outcome = consultants.handle_reply(desk, mail, number, sender, raw_sha)
        desk.store.event(number, mail.key, "consultant-mail", {"by": sender.address, "result": outcome})
        log.info("%s #%s %s: %s", mail.log_id, number, sender.address, outcome)
        return number
    before = desk.store.ticket(number)
    assert before is not None
    new = new_text(mail.text, mail.html)  # the ticket holds the new text; the whole mail stays too
    closing = _first_line(new.text or mail.text).lower() == "#close"
    reopened = not closing and before.status in (Status.WAITING, Status.RESOLVED, Status.CLOSED)
    record_message(desk, number, mail, "in", raw_sha, text=new.text or mail.text,
                   original=mail.text if new.hidden else None)
    status = Status.RESOLVED if closing and before.status not in sla.DONE else Status.OPEN if reopened else None
    ticket = desk.store.update_ticket(number, **({"status": status.value} if status else {}))
    if status:
        sla.status_changed(desk, before, status, mail.key)
    desk.store.event(number, mail.key, "closed-by-customer" if closing else "follow-up",
                     {"by": sender.address, "reopened": reopened})
    consultants.notify_followup(desk, ticket, mail, reopened, new)  # a consultant is told, #close included
    if closing:
        desk.outbox.send("closed_thanks", rcpt=ticket.comm_address, language=ticket.language, ticket=number,
                         ctx={"ticket": ticket_context(desk.cfg, desk.store, ticket)},
                         in_reply_to=mail.message_id, references=mail.references)
    elif desk.cfg.helpdesk.confirm_followups:
        confirm(desk, number, sender.name)
    return number


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
