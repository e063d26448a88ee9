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

from .customers import InputError, add_contact_in_tx, contact_commands, is_admin, remove_contact
from .models import ParsedMail, Sender
from .notify import send_template
from .store import now

if TYPE_CHECKING:
    from .pipeline import Pipeline

log = logging.getLogger("maildesk.auth")

__all__ = ["apply_contact_commands", "contact_commands", "is_admin", "remember", "verify"]


def apply_contact_commands(p: Pipeline, mail: ParsedMail, admin: Sender) -> None:
    """Carry out an admin's #contact lines; every change is announced to the admin and the contact."""
    cid = admin.customer_id
    customer = p.store.one("SELECT name, language FROM customers WHERE id = ?", (cid,))
    for op, addr in contact_commands(mail.text) or []:
        try:
            if op == "add":
                add_contact_in_tx(p.store, cid, addr, added_by=admin.address)
                changed = True
            else:
                changed = remove_contact(p.store, cid, addr, removed_by=admin.address)
        except InputError as exc:
            log.warning("%s #- #contact %s %s by %s refused: %s", mail.message_id, op, addr, admin.address, exc)
            p.store.event(None, mail.key, "contact-refused", {"op": op, "email": addr, "error": str(exc)})
            continue
        log.info("%s #- contact %s %s for %s by %s%s", mail.message_id, op, addr, cid, admin.address,
                 "" if changed else " (nothing to do)")
        template = "contact_added" if op == "add" else "contact_removed"
        ctx = {"customer_name": customer["name"], "customer_id": cid, "contact": addr.lower(), "admin": admin.address}
        for rcpt in dict.fromkeys([admin.address, addr.lower()]):
            send_template(p.store, p.renderer, template, rcpt=rcpt, language=customer["language"], ctx=ctx,
                          ticket=None, in_reply_to=mail.message_id if rcpt == admin.address else "")


def remember(p: Pipeline, sender: Sender, key: str) -> None:
    """Make the sender of a valid credential mail a contact of that customer."""
    if sender.customer_id and sender.customer_id not in p.store.customers_of(sender.address):
        add_contact_in_tx(p.store, sender.customer_id, sender.address, added_by="credentials")
        log.info("key:%s #- %s remembered as a contact of %s", key[:16], sender.address, sender.customer_id)


def verify(p: Pipeline, number: int, by: str) -> bool:
    """Turn an unverified ticket into an open one in the default queue and send its confirmation."""
    ticket = p.store.ticket(number)
    if ticket is None or ticket["status"] != "unverified":
        return False
    p.store.db["tickets"].update(number, {"status": "open", "queue": p.cfg.default_queue, "updated": now()})
    p.store.event(number, None, "verified", {"by": by})
    p.confirm(number)
    return True
