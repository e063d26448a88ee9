"""Consultants work by mail: notifications out, replies relayed, #commands applied.

Everything here runs inside the pipeline's transaction for the mail that
caused it, so a ticket change and the mails it triggers commit together.
"""

from __future__ import annotations

import logging
from typing import Any

from maildesk.act import access, sla
from maildesk.act.desk import Desk
from maildesk.act.record import record_message
from maildesk.config import Consultant
from maildesk.decide.commands import Command, parse_commands
from maildesk.decide.route import deadline, first_response_due
from maildesk.inbound.extract import Extracted, new_text
from maildesk.models import ParsedMail, Sender, Status
from maildesk.outbound.context import ticket_context
from maildesk.store.rows import Ticket

log = logging.getLogger("maildesk.consultants")


def queue_consultants(desk: Desk, queue: str) -> list[Consultant]:
    return [c for c in desk.cfg.consultant if queue in c.queues]


def _tell(desk: Desk, template: str, to: list[Consultant], ticket: Ticket, mail: ParsedMail, **ctx: Any) -> None:
    """One templated mail per consultant, in their language, with the mail's attachments."""
    if not to:
        log.warning("%s #%s no consultant serves queue %s: nobody notified", mail.log_id, ticket.number, ticket.queue)
    facts = ticket_context(desk.cfg, desk.store, ticket)
    for c in to:
        desk.outbox.send(template, rcpt=c.email, language=c.language, ticket=ticket.number,
                         ctx={"ticket": facts, "consultant": c, "author": mail.from_name or mail.from_addr,
                              "author_address": mail.from_addr, "text": mail.text,
                              "attachments": [a.filename for a in mail.attachments], **ctx},
                         in_reply_to=mail.message_id, references=mail.references, attachments=mail.attachments,
                         auto="auto-generated")


def notify_new(desk: Desk, ticket: Ticket, mail: ParsedMail) -> None:
    """A new ticket goes to every consultant of its queue (a new request is shown whole)."""
    _tell(desk, "consultant_new", queue_consultants(desk, ticket.queue), ticket, mail, hidden=0)


def notify_followup(desk: Desk, ticket: Ticket, mail: ParsedMail, reopened: bool, new: Extracted) -> None:
    """A customer follow-up goes to the assignee, or to the queue while unassigned: its new text, history folded."""
    assignee = desk.cfg.consultant_by_email(ticket.assignee or "")
    to = [assignee] if assignee else queue_consultants(desk, ticket.queue)
    _tell(desk, "consultant_followup", to, ticket, mail, reopened=reopened, text=new.text, hidden=new.hidden)


def _apply(desk: Desk, ticket: Ticket, cmds: list[Command], sender: Sender, key: str) -> dict[str, Any]:
    """Apply commands in order to the ticket row; returns the changed fields."""
    changes: dict[str, Any] = {}
    due = next((c for c in reversed(cmds) if c.name == "due"), None)
    for c in cmds:
        if c.name == "take":
            changes["assignee"] = sender.address
        elif c.name == "assign":
            changes["assignee"] = c.value
        elif c.name in ("status", "price", "due", "priority"):
            changes[c.name] = c.value
    if changes.get("priority", ticket.priority) != ticket.priority:  # the express target applies from now on
        changes["first_response_due"] = first_response_due(desk.cfg, ticket, changes["priority"])
    if due is not None:
        changes["resolution_due"] = deadline(desk.cfg, ticket, due.value)
    if changes:
        desk.store.update_ticket(ticket.number, **changes)
        desk.store.event(ticket.number, key, "commands", {"by": sender.address, **changes})
    if "status" in changes:
        sla.status_changed(desk, ticket, changes["status"], key)
    if due is not None:
        sla.deadline_moved(desk, ticket, changes["resolution_due"], due.note, any(c.name == "notify" for c in cmds),
                           sender.name or sender.address, key)
    if any(c.name == "verify" for c in cmds) and access.verify_ticket(desk, ticket.number, sender.address):
        changes["verified"] = True
    return changes


def _extract(desk: Desk, mail: ParsedMail, cmds: list[Command], rest: str) -> Extracted | None:
    """The consultant's own words below the commands: new text only, unless #keepquote."""
    if not rest:
        return None
    if any(c.name == "keepquote" for c in cmds):  # the consultant wants the history to go out too
        return Extracted(rest, True)
    new = new_text(mail.whole_text, mail.html)
    new_rest = parse_commands(new.text, desk.cfg)[1]
    return Extracted(new_rest, new.confident, new.hidden) if new_rest else None


def handle_reply(desk: Desk, mail: ParsedMail, number: int, sender: Sender, raw_sha: str) -> str:
    """A consultant's mail on a ticket: commands, then an internal note or an answer to the customer."""
    cmds, rest, errors = parse_commands(mail.whole_text, desk.cfg)
    consultant = desk.cfg.consultant_by_email(sender.address)
    before = desk.store.ticket(number)
    assert consultant is not None and before is not None
    if errors:
        record_message(desk, number, mail, "note", raw_sha)
        desk.store.event(number, mail.key, "command-error", {"by": sender.address, "errors": errors})
        desk.outbox.send("command_error", rcpt=sender.address, language=consultant.language, ticket=number,
                         ctx={"ticket": ticket_context(desk.cfg, desk.store, before), "errors": errors,
                              "subject": mail.subject},
                         in_reply_to=mail.message_id, references=mail.references, auto="auto-replied")
        return "command error: " + "; ".join(errors)
    changes = _apply(desk, before, cmds, sender, mail.key)
    extracted = _extract(desk, mail, cmds, rest)
    if any(c.name == "note" for c in cmds):
        return _note(desk, number, mail, sender, extracted.text if extracted else "", raw_sha)
    if extracted is None:
        return _commands_only(desk, number, before, changes, consultant)
    if not before.assignee and "assignee" not in changes:
        desk.store.update_ticket(number, assignee=sender.address)
        desk.store.event(number, mail.key, "assigned", {"to": sender.address, "why": "first answer"})
    ticket = desk.store.ticket(number)
    assert ticket is not None
    record_message(desk, number, mail, "out", raw_sha, text=extracted.text, original=mail.text,
                   to=ticket.comm_address)
    sla.answered(desk, ticket, mail.key)
    _relay(desk, ticket, mail, consultant, extracted.text)
    publish = next((c for c in cmds if c.name == "publish"), None)
    if publish is not None:
        _publish(desk, ticket, mail, consultant, extracted.text, publish)
    return "answer relayed" + ("" if extracted.confident else " (whole text: quote layout unclear)")


def _note(desk: Desk, number: int, mail: ParsedMail, sender: Sender, text: str, raw_sha: str) -> str:
    """#note: kept on the ticket and shown to the queue's other consultants and the assignee, never the customer."""
    record_message(desk, number, mail, "note", raw_sha, text=text)
    ticket = desk.store.ticket(number)
    assert ticket is not None
    others = [c for c in queue_consultants(desk, ticket.queue) if c.email != sender.address]
    assignee = desk.cfg.consultant_by_email(ticket.assignee or "")
    if assignee and assignee.email != sender.address and assignee not in others:
        others.append(assignee)
    _tell(desk, "consultant_note", others, ticket, mail, text=text)
    return "internal note"


def _publish(desk: Desk, ticket: Ticket, mail: ParsedMail, consultant: Consultant, text: str, cmd: Command) -> None:
    """#publish: the answer as the customer got it (no quotes, no commands) becomes an article; a receipt follows."""
    status = "published" if cmd.note == "now" else "draft"
    aid = desk.store.add_article(title=cmd.value or ticket.subject, body=text.strip() + "\n", language=ticket.language,
                                 queues=ticket.queue, status=status, source_ticket=ticket.number,
                                 author=consultant.email)
    desk.store.event(ticket.number, mail.key, "kb-published" if status == "published" else "kb-added",
                     {"article": aid, "by": consultant.email})
    desk.outbox.send("kb_receipt", rcpt=consultant.email, language=consultant.language, ticket=ticket.number,
                     ctx={"ticket": ticket_context(desk.cfg, desk.store, ticket), "article_id": aid,
                          "title": cmd.value or ticket.subject, "status": status},
                     in_reply_to=mail.message_id, auto="auto-replied")


def _commands_only(desk: Desk, number: int, before: Ticket, changes: dict[str, Any], consultant: Consultant) -> str:
    """A mail with commands and no text: only #status resolved tells the customer."""
    if changes.get("status") == Status.RESOLVED and before.status is not Status.RESOLVED:
        ticket = desk.store.ticket(number)
        assert ticket is not None
        desk.outbox.send("resolved", rcpt=ticket.comm_address, language=ticket.language, ticket=number,
                         ctx={"ticket": ticket_context(desk.cfg, desk.store, ticket),
                              "consultant_name": consultant.name},
                         in_reply_to=desk.store.last_customer_message_id(number),
                         from_name=f"{consultant.name} ({desk.cfg.helpdesk.name})")
    return "commands only: " + ", ".join(f"{k}={v}" for k, v in changes.items())


def _relay(desk: Desk, ticket: Ticket, mail: ParsedMail, consultant: Consultant, text: str) -> None:
    """The consultant's answer to the ticket's communication address, with their attachments."""
    desk.outbox.send("answer", rcpt=ticket.comm_address, language=ticket.language, ticket=ticket.number,
                     ctx={"ticket": ticket_context(desk.cfg, desk.store, ticket), "consultant_name": consultant.name,
                          "text": text},
                     in_reply_to=desk.store.last_customer_message_id(ticket.number), attachments=mail.attachments,
                     from_name=f"{consultant.name} ({desk.cfg.helpdesk.name})")


def notify_held(desk: Desk, mail: ParsedMail, sender: Sender, reason: str, why: str, qid: int) -> None:
    """Consultants of the default queue learn of a known sender's held mail (once an hour per sender and reason)."""
    if not desk.store.notice_allowed(mail.from_addr, f"consultant_held:{reason}", 1):
        return
    customer = desk.store.customer(sender.customer_id)
    to = queue_consultants(desk, desk.cfg.default_queue)
    if not to:
        log.warning("%s #- held mail from %s (%s): no consultant serves queue %s", mail.log_id, mail.from_addr,
                    reason, desk.cfg.default_queue)
    for c in to:
        desk.outbox.send("consultant_held", rcpt=c.email, language=c.language, ticket=None,
                         ctx={"sender": mail.from_addr, "sender_name": mail.from_name, "subject": mail.subject,
                              "customer_name": customer.name if customer else "",
                              "customer_id": customer.id if customer else "",
                              "reason": reason, "why": why, "quarantine_id": qid},
                         auto="auto-generated")
