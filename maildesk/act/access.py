"""Who may write for a customer, changed by mail or by an operator.

- A customer's admin contact mails `#contact add EMAIL` / `#contact remove
  EMAIL`; both the admin and the address concerned get a notice.
- A mail with valid credentials may make its sender a contact
  (authorise.remember_credential_senders).
- An unverified (triage) ticket is verified by `maildesk ticket verify N` or a
  consultant's `#verify`, which sends the confirmation it was held back.

All of it runs inside the transaction of the mail or command that caused it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from maildesk.act.customers import (
    InputError,
    add_contact_in_tx,
    check_email,
    contact_commands,
    is_admin,
    remove_contact,
)
from maildesk.decide import caps
from maildesk.models import ParsedMail, Sender
from maildesk.outbound.notify import send_template
from maildesk.store.db import now

if TYPE_CHECKING:
    from maildesk.pipeline import Pipeline

log = logging.getLogger("maildesk.auth")

__all__ = ["apply_contact_commands", "contact_commands", "is_admin", "remember", "verify_ticket"]


def _refusal(p: Pipeline, op: str, addr: str) -> str:
    """Why one #contact line cannot be applied ('' when it can)."""
    if op == "error":
        return f"{addr[:200]}: not understood (write '#contact add ADDRESS' or '#contact remove ADDRESS')"
    try:
        clean = check_email(addr)
    except InputError as exc:
        return f"#contact {op} {addr[:200]}: {exc}"
    if op == "add" and (clean == p.cfg.helpdesk.address.lower() or p.cfg.consultant_by_email(clean)
                        or caps.never_send(clean)):
        return f"#contact add {clean}: this address cannot be a customer's contact"
    return ""


def apply_contact_commands(p: Pipeline, mail: ParsedMail, admin: Sender) -> None:
    """Carry out an admin's #contact lines, all or none; every change is announced to the admin and the contact."""
    cid = admin.customer_id
    customer = p.store.one("SELECT name, language FROM customers WHERE id = ?", (cid,))
    lines = contact_commands(mail.whole_text) or []
    limit = p.cfg.authorise.max_contact_commands
    errors = [e for e in (_refusal(p, op, addr) for op, addr in lines) if e]
    if len(lines) > limit:
        errors.append(f"{len(lines)} #contact lines: at most {limit} in one mail")
    if errors:
        log.warning("%s #- #contact mail by %s refused: %s", mail.message_id, admin.address, "; ".join(errors))
        p.store.event(None, mail.key, "contact-refused", {"by": admin.address, "errors": errors})
        send_template(p.store, p.renderer, "contact_error", rcpt=admin.address, language=customer["language"],
                      ctx={"customer_name": customer["name"], "customer_id": cid, "admin": admin.address,
                           "subject": mail.subject, "errors": errors, "applied": [], "limit": limit},
                      ticket=None, in_reply_to=mail.message_id, references=mail.references)
        return
    for op, addr in lines:
        addr = check_email(addr)
        if op == "add":
            add_contact_in_tx(p.store, cid, addr, added_by=admin.address)
            changed = True
        else:
            changed = remove_contact(p.store, cid, addr, removed_by=admin.address)
        log.info("%s #- contact %s %s for %s by %s%s", mail.message_id, op, addr, cid, admin.address,
                 "" if changed else " (nothing to do)")
        template = "contact_added" if op == "add" else "contact_removed"
        ctx = {"customer_name": customer["name"], "customer_id": cid, "contact": addr, "admin": admin.address}
        for rcpt in dict.fromkeys([admin.address, addr]):
            send_template(p.store, p.renderer, template, rcpt=rcpt, language=customer["language"], ctx=ctx,
                          ticket=None, in_reply_to=mail.message_id if rcpt == admin.address else "")


def remember(p: Pipeline, sender: Sender, key: str) -> None:
    """Make the sender of a valid credential mail a contact of that customer."""
    if sender.customer_id and sender.customer_id not in p.store.customers_of(sender.address):
        add_contact_in_tx(p.store, sender.customer_id, sender.address, added_by="credentials")
        log.info("key:%s #- %s remembered as a contact of %s", key[:16], sender.address, sender.customer_id)


def verify_ticket(p: Pipeline, number: int, by: str) -> bool:
    """Turn an unverified ticket into an open one in the default queue and send its confirmation."""
    ticket = p.store.ticket(number)
    if ticket is None or ticket["status"] != "unverified":
        return False
    p.store.db["tickets"].update(number, {"status": "open", "queue": p.cfg.default_queue, "updated": now()})
    p.store.event(number, None, "verified", {"by": by})
    p.confirm(number)
    return True
