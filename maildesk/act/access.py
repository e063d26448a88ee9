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
from datetime import timedelta

from maildesk import clock
from maildesk.act.customers import InputError, add_contact_in_tx, check_email, contact_key, remove_contact
from maildesk.act.desk import Desk
from maildesk.act.record import confirm
from maildesk.decide import caps
from maildesk.decide.commands import contact_commands
from maildesk.models import Decision, ParsedMail, Sender, Status

log = logging.getLogger("maildesk.auth")


def _address(op: str, addr: str) -> str:
    """A #contact line's address as stored: checked for add; for remove, also one an older release let in."""
    return check_email(addr) if op == "add" else contact_key(addr)


def _refusal(desk: Desk, op: str, addr: str) -> str:
    """Why one #contact line cannot be applied ('' when it can)."""
    if op == "error":
        return f"{addr[:200]}: not understood (write '#contact add ADDRESS' or '#contact remove ADDRESS')"
    try:
        clean = _address(op, addr)
    except InputError as exc:
        return f"#contact {op} {addr[:200]}: {exc}"
    if op == "add" and (clean == desk.cfg.helpdesk.address.lower() or desk.cfg.consultant_by_email(clean)
                        or caps.never_send(clean)):
        return f"#contact add {clean}: this address cannot be a customer's contact"
    return ""


def apply_contact_commands(desk: Desk, mail: ParsedMail, d: Decision, admin: Sender | None, raw_sha: str) -> None:
    """Carry out an admin's #contact lines, all or none; every change is announced to the admin and the contact."""
    assert admin is not None and admin.customer_id is not None
    cid = admin.customer_id
    customer = desk.store.customer(cid)
    assert customer is not None
    lines = contact_commands(mail.whole_text) or []
    limit = desk.cfg.authorise.max_contact_commands
    errors = [e for e in (_refusal(desk, op, addr) for op, addr in lines) if e]
    if len(lines) > limit:
        errors.append(f"{len(lines)} #contact lines: at most {limit} in one mail")
    base = {"customer_name": customer.name, "customer_id": cid, "admin": admin.address}
    if errors:
        log.warning("%s #- #contact mail by %s refused: %s", mail.log_id, admin.address, "; ".join(errors))
        desk.store.event(None, mail.key, "contact-refused", {"by": admin.address, "errors": errors})
        desk.outbox.send("contact_error", rcpt=admin.address, language=customer.language,
                         ctx={**base, "subject": mail.subject, "errors": errors, "applied": [], "limit": limit},
                         ticket=None, in_reply_to=mail.message_id, references=mail.references)
        return
    for op, addr in lines:
        addr = _address(op, addr)
        if op == "add":
            add_contact_in_tx(desk.store, cid, addr, added_by=admin.address)
            changed = True
        else:
            changed = remove_contact(desk.store, cid, addr, removed_by=admin.address)
        log.info("%s #- contact %s %s for %s by %s%s", mail.log_id, op, addr, cid, admin.address,
                 "" if changed else " (nothing to do)")
        template = "contact_added" if op == "add" else "contact_removed"
        for rcpt in dict.fromkeys([admin.address, addr]):
            desk.outbox.send(template, rcpt=rcpt, language=customer.language, ctx={**base, "contact": addr},
                             ticket=None, in_reply_to=mail.message_id if rcpt == admin.address else "")


def presence(desk: Desk, mail: ParsedMail, d: Decision, sender: Sender | None, raw_sha: str) -> None:
    """#away [until DATE] / #back: round-robin and least-open assignment skip a consultant who is away."""
    assert sender is not None
    if d.detail == "#back":
        desk.store.set_back(sender.address)
    else:
        until = d.detail.partition(" until ")[2] or None
        desk.store.set_away(sender.address, f"{until}T00:00:00+00:00" if until else None)
    desk.store.event(None, mail.key, "presence", {"by": sender.address, "command": d.detail})
    log.info("%s #- %s: %s", mail.log_id, sender.address, d.detail)


def count_licence_failure(desk: Desk, mail: ParsedMail, d: Decision, sender: Sender | None, raw_sha: str) -> None:
    """A wrong licence number counts against its sender (authorise.licence_failures within the failure window)."""
    if d.licence_failed and sender is not None:
        since = clock.now() - timedelta(minutes=desk.cfg.authorise.failure_window_minutes)
        n = desk.store.count_auth_failure("licence", sender.address, since)
        desk.store.event(None, mail.key, "licence-failed", {"from": sender.address, "failures": n})
        log.warning("%s #- wrong licence number from %s (%d in the window)", mail.log_id, sender.address, n)


def remember(desk: Desk, sender: Sender, key: str) -> None:
    """Make the sender of a valid credential mail a contact of that customer."""
    if sender.customer_id and sender.customer_id not in desk.store.customers_of(sender.address):
        add_contact_in_tx(desk.store, sender.customer_id, sender.address, added_by="credentials")
        log.info("key:%s #- %s remembered as a contact of %s", key[:16], sender.address, sender.customer_id)


def verify_ticket(desk: Desk, number: int, by: str) -> bool:
    """Turn an unverified ticket into an open one in the default queue and send its confirmation."""
    ticket = desk.store.ticket(number)
    if ticket is None or ticket.status is not Status.UNVERIFIED:
        return False
    desk.store.update_ticket(number, status=Status.OPEN.value, queue=desk.cfg.default_queue)
    desk.store.event(number, None, "verified", {"by": by})
    confirm(desk, number)
    return True
