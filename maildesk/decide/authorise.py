"""Authorise stage: who wrote, and may they write on a given ticket?

A sender is a consultant (rules.toml), a contact of a customer (database), the
holder of valid credentials in the mail, or a stranger. A subject tag is not a
password: `may_write` is the only gate between a mail and an existing ticket.
Address trust can be tied to the receiving MTA's DMARC verdict ([trust]).
Failed credential checks back off per sender and per customer ID; a backoff
quarantines (never drops) mail, so an operator can always release it.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from maildesk import clock
from maildesk.config import Config
from maildesk.inbound import credentials
from maildesk.models import ParsedMail, Role, Sender
from maildesk.store import Store
from maildesk.store.rows import Ticket

log = logging.getLogger("maildesk.auth")

OK, BAD, BACKOFF = "ok", "bad", "backoff"


def dmarc_failed(mail: ParsedMail, cfg: Config) -> bool:
    """True when our own MTA's Authentication-Results says the From domain is forged."""
    ours = cfg.trust.authserv_id.lower()
    if not ours:
        return False
    for header in mail.auth_results:  # topmost first: the one our MTA added
        authserv = header.split(";", 1)[0].strip().split()[0].lower() if header.strip() else ""
        if authserv != ours:
            continue  # another server's (or a forger's) verdict: not ours to trust
        results = dict(re.findall(r"\b(dmarc|dkim|spf)\s*=\s*([a-z]+)", header.lower()))
        return results.get("dmarc") == "fail" or (results.get("dkim") == "fail" and results.get("spf") == "fail")
    return False


def authorise(mail: ParsedMail, store: Store, cfg: Config) -> Sender:
    """Identify the sender by address (credentials are checked separately)."""
    addr = mail.from_addr
    if dmarc_failed(mail, cfg):
        log.warning("%s #- %s failed DMARC at %s: treated as unknown", mail.message_id, addr, cfg.trust.authserv_id)
        return Sender(addr, mail.from_name, Role.STRANGER)
    consultant = cfg.consultant_by_email(addr)
    if consultant:
        return Sender(addr, consultant.name, Role.CONSULTANT)
    customers = store.customers_of(addr)
    if customers:
        if len(customers) > 1:
            log.info("%s #- %s is a contact of %d customers; using %s", mail.message_id, addr, len(customers),
                     customers[0])
        return Sender(addr, mail.from_name, Role.CONTACT, customers[0])
    return Sender(addr, mail.from_name, Role.STRANGER)


def may_write(sender: Sender, ticket: Ticket) -> bool:
    """True when the sender is the ticket's requester, a contact of its customer, or a consultant."""
    if sender.role is Role.CONSULTANT or ticket.is_from(sender.address):
        return True
    return sender.role in (Role.CONTACT, Role.CREDENTIALS) and sender.customer_id is not None \
        and sender.customer_id == ticket.customer_id


def _blocked(store: Store, scope: str, subject: str) -> bool:
    block = store.blocked_until(scope, subject)
    return block is not None and block[0] > clock.now()


def check_credentials(store: Store, creds: credentials.Credentials, sender: str) -> str:
    """OK, BAD, or BACKOFF (too many recent failures: not even checked)."""
    if _blocked(store, "sender", sender) or _blocked(store, "customer", creds.customer_id):
        return BACKOFF
    customer = store.customer(creds.customer_id)
    return OK if credentials.verify(customer.password_hash if customer else None, creds.password) else BAD


def record_credential_failure(store: Store, cfg: Config, sender: str, customer_id: str, key: str) -> None:
    """Count a failed check per sender and per customer ID; start or double a backoff at the limit."""
    a = cfg.authorise
    since = clock.now() - timedelta(minutes=a.failure_window_minutes)
    for scope, subject in (("sender", sender), ("customer", customer_id)):
        n = store.count_auth_failure(scope, subject, since)
        if n < a.max_failures:
            continue
        prev = store.blocked_until(scope, subject)
        recent = prev is not None and prev[0] > clock.now() - timedelta(hours=24)
        level = prev[1] + 1 if prev is not None and recent else 0
        minutes = min(a.backoff_minutes * 2 ** level, a.backoff_max_hours * 60)
        store.block(scope, subject, clock.now() + timedelta(minutes=minutes), level)
        store.event(None, key, "credentials-backoff", {"scope": scope, "subject": subject, "minutes": minutes})
        log.warning("key:%s #- %d failed credential checks for %s %s in %d min: quarantined unchecked for %d min",
                    key[:16], n, scope, subject, a.failure_window_minutes, minutes)
