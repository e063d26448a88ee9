"""Consultants work by mail: notifications out, replies relayed, #commands applied.

Everything here runs inside the pipeline's transaction for the mail that
caused it, so a ticket change and the mails it triggers commit together.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from maildesk.act import access
from maildesk.config import Consultant
from maildesk.decide.commands import Command, parse_commands
from maildesk.decide.route import local_time
from maildesk.decide.thread import format_tag
from maildesk.inbound.extract import Extracted, new_text
from maildesk.models import ParsedMail, Sender
from maildesk.outbound.notify import send_template
from maildesk.store.db import now

if TYPE_CHECKING:
    from maildesk.pipeline import Pipeline

log = logging.getLogger("maildesk.consultants")


def facts(p: Pipeline, ticket: dict) -> dict:
    """The ticket as templates see it."""
    customer = p.store.one("SELECT id, name FROM customers WHERE id = ?", (ticket["customer_id"],)) \
        if ticket["customer_id"] else None
    return {"number": ticket["number"], "tag": format_tag(p.cfg, ticket["number"]),
            "subject": ticket["subject"], "status": ticket["status"], "queue": ticket["queue"],
            "priority": ticket["priority"], "requester": ticket["requester"], "assignee": ticket["assignee"] or "",
            "price": ticket["price"] or "", "due": ticket["due"] or "",
            "first_response_due": local_time(ticket["first_response_due"], p.cfg.hours), "parent": ticket["parent"],
            "customer_id": (customer or {}).get("id", ""), "customer_name": (customer or {}).get("name", "")}


def queue_consultants(p: Pipeline, queue: str) -> list[Consultant]:
    return [c for c in p.cfg.consultant if queue in c.queues]


def _tell(p: Pipeline, template: str, to: list[Consultant], ticket: dict, mail: ParsedMail, **ctx: object) -> None:
    """One templated mail per consultant, in their language, with the mail's attachments."""
    if not to:
        log.warning("%s #%s no consultant serves queue %s: nobody notified", mail.message_id,
                    ticket["number"], ticket["queue"])
    for c in to:
        send_template(p.store, p.renderer, template, rcpt=c.email, language=c.language, ticket=ticket["number"],
                      ctx={"ticket": facts(p, ticket), "consultant": c, "author": mail.from_name or mail.from_addr,
                           "author_address": mail.from_addr, "text": mail.text, "attachments":
                           [a.filename for a in mail.attachments], **ctx},
                      in_reply_to=mail.message_id, references=mail.references, attachments=mail.attachments,
                      auto="auto-generated")


def notify_new(p: Pipeline, number: int, mail: ParsedMail) -> None:
    """A new ticket goes to every consultant of its queue (a new request is shown whole)."""
    ticket = p.store.ticket(number)
    _tell(p, "consultant_new", queue_consultants(p, ticket["queue"]), ticket, mail, hidden=0)


def notify_followup(p: Pipeline, ticket: dict, mail: ParsedMail, reopened: bool, new: Extracted) -> None:
    """A customer follow-up goes to the assignee, or to the queue while unassigned: its new text, history folded."""
    assignee = p.cfg.consultant_by_email(ticket["assignee"] or "")
    to = [assignee] if assignee else queue_consultants(p, ticket["queue"])
    _tell(p, "consultant_followup", to, ticket, mail, reopened=reopened, text=new.text, hidden=new.hidden)


def _apply(p: Pipeline, number: int, cmds: list[Command], sender: Sender, key: str) -> dict:
    """Apply commands in order to the ticket row; returns the changed fields."""
    changes: dict = {}
    for c in cmds:
        if c.name == "take":
            changes["assignee"] = sender.address
        elif c.name == "assign":
            changes["assignee"] = c.value
        elif c.name in ("status", "price", "due", "priority"):
            changes[c.name] = c.value
    if changes:
        p.store.db["tickets"].update(number, {**changes, "updated": now()})
        p.store.event(number, key, "commands", {"by": sender.address, **changes})
    if any(c.name == "verify" for c in cmds) and access.verify_ticket(p, number, sender.address):
        changes["verified"] = True
    return changes


def handle_reply(p: Pipeline, mail: ParsedMail, number: int, sender: Sender, raw_sha: str) -> str:
    """A consultant's mail on a ticket: commands, then an internal note or an answer to the customer."""
    cmds, rest, errors = parse_commands(mail.whole_text, p.cfg)
    consultant = p.cfg.consultant_by_email(sender.address)
    if errors:
        p.message(number, mail, "note", raw_sha)
        p.store.event(number, mail.key, "command-error", {"by": sender.address, "errors": errors})
        send_template(p.store, p.renderer, "command_error", rcpt=sender.address, language=consultant.language,
                      ticket=number, ctx={"ticket": facts(p, p.store.ticket(number)), "errors": errors,
                                          "subject": mail.subject},
                      in_reply_to=mail.message_id, references=mail.references, auto="auto-replied")
        return "command error: " + "; ".join(errors)
    before = p.store.ticket(number)
    changes = _apply(p, number, cmds, sender, mail.key)
    keep = any(c.name == "keepquote" for c in cmds)  # the consultant wants the history to go out too
    extracted = None
    if rest and keep:
        extracted = Extracted(rest, True)
    elif rest:
        new = new_text(mail.whole_text, mail.html)
        new_rest = parse_commands(new.text, p.cfg)[1]
        extracted = Extracted(new_rest, new.confident, new.hidden) if new_rest else None
    if any(c.name == "note" for c in cmds):
        p.message(number, mail, "note", raw_sha, text=extracted.text if extracted else "")
        ticket = p.store.ticket(number)
        others = [c for c in queue_consultants(p, ticket["queue"]) if c.email != sender.address]
        assignee = p.cfg.consultant_by_email(ticket["assignee"] or "")
        if assignee and assignee.email != sender.address and assignee not in others:
            others.append(assignee)
        _tell(p, "consultant_note", others, ticket, mail, text=extracted.text if extracted else "")
        return "internal note"
    if extracted is None:
        return _commands_only(p, number, before, changes, consultant, mail)
    if not before["assignee"] and "assignee" not in changes:
        p.store.db["tickets"].update(number, {"assignee": sender.address})
        p.store.event(number, mail.key, "assigned", {"to": sender.address, "why": "first answer"})
    p.message(number, mail, "out", raw_sha, text=extracted.text, original=mail.text,
              to=p.store.ticket(number)["comm_address"])
    _relay(p, number, mail, consultant, extracted.text)
    return "answer relayed" + ("" if extracted.confident else " (whole text: quote layout unclear)")


def _commands_only(p: Pipeline, number: int, before: dict, changes: dict, consultant: Consultant,
                   mail: ParsedMail) -> str:
    if changes.get("status") == "resolved" and before["status"] != "resolved":
        ticket = p.store.ticket(number)
        send_template(p.store, p.renderer, "resolved", rcpt=ticket["comm_address"], language=ticket["language"],
                      ticket=number, ctx={"ticket": facts(p, ticket), "consultant_name": consultant.name},
                      in_reply_to=_last_customer_id(p, number), from_name=f"{consultant.name} ({p.cfg.helpdesk.name})")
    return "commands only: " + ", ".join(f"{k}={v}" for k, v in changes.items())


def _last_customer_id(p: Pipeline, number: int) -> str:
    row = p.store.one("SELECT message_id FROM messages WHERE ticket = ? AND direction = 'in' AND message_id != '' "
                      "ORDER BY id DESC LIMIT 1", (number,))
    return row["message_id"] if row else ""


def _relay(p: Pipeline, number: int, mail: ParsedMail, consultant: Consultant, text: str) -> None:
    """The consultant's answer to the ticket's communication address, with their attachments."""
    ticket = p.store.ticket(number)
    send_template(p.store, p.renderer, "answer", rcpt=ticket["comm_address"], language=ticket["language"],
                  ticket=number, ctx={"ticket": facts(p, ticket), "consultant_name": consultant.name, "text": text},
                  in_reply_to=_last_customer_id(p, number), attachments=mail.attachments,
                  from_name=f"{consultant.name} ({p.cfg.helpdesk.name})")


def notify_held(p: Pipeline, mail: ParsedMail, sender: Sender, reason: str, why: str, qid: int) -> None:
    """Consultants of the default queue learn of a known sender's held mail (once an hour per sender and reason)."""
    if not p.store.notice_allowed(mail.from_addr, f"consultant_held:{reason}", 1):
        return
    customer = p.store.one("SELECT id, name FROM customers WHERE id = ?", (sender.customer_id,)) \
        if sender.customer_id else None
    to = queue_consultants(p, p.cfg.default_queue)
    if not to:
        log.warning("%s #- held mail from %s (%s): no consultant serves queue %s", mail.message_id, mail.from_addr,
                    reason, p.cfg.default_queue)
    for c in to:
        send_template(p.store, p.renderer, "consultant_held", rcpt=c.email, language=c.language, ticket=None,
                      ctx={"sender": mail.from_addr, "sender_name": mail.from_name, "subject": mail.subject,
                           "customer_name": (customer or {}).get("name", ""), "customer_id": (customer or {}).get("id", ""),
                           "reason": reason, "why": why, "quarantine_id": qid},
                      auto="auto-generated")
