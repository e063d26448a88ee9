"""Authorise stage: who wrote, and may they write on a given ticket?

A sender is a consultant (from rules.toml), a contact of a customer (from the
database), or a stranger. A subject tag is not a password: `may_write` is the
only gate between a mail and an existing ticket.
"""

from __future__ import annotations

import logging

from .config import Config
from .models import ParsedMail, Sender
from .store import Store

log = logging.getLogger("maildesk.auth")


def authorise(mail: ParsedMail, store: Store, cfg: Config) -> Sender:
    """Identify the sender by address."""
    addr = mail.from_addr
    consultant = cfg.consultant_by_email(addr)
    if consultant:
        return Sender(addr, consultant.name, "consultant")
    customers = store.customers_of(addr)
    if customers:
        if len(customers) > 1:
            log.info("%s - %s is a contact of %d customers; using %s", mail.message_id or mail.key[:16],
                     addr, len(customers), customers[0])
        return Sender(addr, mail.from_name, "contact", customers[0])
    return Sender(addr, mail.from_name, "stranger")


def may_write(sender: Sender, ticket: dict) -> bool:
    """True when the sender is the ticket's requester, a contact of its customer, or a consultant."""
    if sender.role == "consultant":
        return True
    if sender.address in (ticket["requester"].lower(), ticket["comm_address"].lower()):
        return True
    return sender.customer_id is not None and sender.customer_id == ticket["customer_id"]
