"""The decision steps: small functions over what is known of one mail, in the order pipeline.STEPS lists them.

A step returns a `Decision` (the walk ends: this is what happens to the
mail), a new `Facts` (it learned something: the label, the sender, why no
thread was taken), or None (nothing to say). Steps only read: every write
happens after the walk, in the actions, inside one transaction. Each step
sets `Facts.note` to say why it passed, which `maildesk rules test` prints.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from maildesk import clock
from maildesk.config import Config
from maildesk.decide import caps
from maildesk.decide.authorise import BAD, OK, authorise, check_credentials, may_write
from maildesk.decide.classify import classify
from maildesk.decide.commands import contact_commands, presence_command, self_service_command
from maildesk.decide.thread import find_ticket, strip_prefixes, tag_is_genuine
from maildesk.inbound.credentials import Credentials
from maildesk.models import Decision, Kind, Label, ParsedMail, Reason, Role, Sender, Status
from maildesk.store import Store

log = logging.getLogger("maildesk.auth")


@dataclass(frozen=True)
class Facts:
    """What the steps know about one mail so far."""

    mail: ParsedMail
    creds: Credentials | None = None
    released: bool = False  # an operator released it from quarantine: caps do not hold it again
    label: Label | None = None
    sender: Sender | None = None
    licence: str = ""  # the licence number the mail begins with
    product: str = ""  # the product that licence names, once it is accepted
    licence_failed: bool = False
    unthreaded: str = ""  # why a mail that names a ticket does not continue it
    parent: int | None = None  # the closed ticket a new one continues
    note: str = ""  # why the last step passed (for the trace)


@dataclass(frozen=True)
class Env:
    """What steps may consult: the config, and the store for reading."""

    cfg: Config
    store: Store


Result = Decision | Facts | None
StepFn = Callable[[Facts, Env], Result]


def label(f: Facts, env: Env) -> Result:
    """Is it from a person, or automatic (an auto-reply, a bounce, a list, our own mail)?"""
    found = classify(f.mail, env.cfg)
    return dataclasses.replace(f, label=found, note=found.value)


def no_from(f: Facts, env: Env) -> Result:
    """Automatic mail without a usable From (a bounce from "MAILER-DAEMON <>") is ignored, not held."""
    if f.mail.defect == Reason.BAD_FROM and f.label is not Label.HUMAN:
        return Decision(Kind.IGNORED, reason=str(f.label), detail="no usable From")
    return None


def sender(f: Facts, env: Env) -> Result:
    """Who wrote: a consultant, a customer's contact, or a stranger (automatic mail is not asked)."""
    asked = bool(f.mail.from_addr) if f.mail.defect else f.label is Label.HUMAN
    if not asked:
        return None
    who = authorise(f.mail, env.store, env.cfg)
    return dataclasses.replace(f, sender=who, note=f"{who.role.value} {who.address}"
                               + (f" (customer {who.customer_id})" if who.customer_id else ""))


def defect(f: Facts, env: Env) -> Result:
    """A mail that cannot become a ticket (too large, unreadable, too deep...) is held; a known sender is told."""
    return Decision(Kind.QUARANTINED, reason=f.mail.defect) if f.mail.defect else None


def automatic(f: Facts, env: Env) -> Result:
    """Automatic mail never opens a ticket and is never answered: that keeps us out of mail loops."""
    return Decision(Kind.IGNORED, reason=str(f.label)) if f.label is not Label.HUMAN else None


def credentials(f: Facts, env: Env) -> Result:
    """A customer ID and password in the mail: a valid pair authorises a stranger; a bad one holds its mail."""
    if f.creds is None or not f.creds.customer_id or f.sender is None:
        return None
    verdict = check_credentials(env.store, f.creds, f.mail.from_addr)
    who = f.sender
    if verdict == OK:
        if who.role is not Role.CONSULTANT:
            who = Sender(who.address, who.name, Role.CREDENTIALS, f.creds.customer_id)
        return dataclasses.replace(f, sender=who, note=f"valid for customer {f.creds.customer_id}")
    if who.role is Role.STRANGER:
        reason = Reason.BAD_CREDENTIALS if verdict == BAD else Reason.CREDENTIALS_BACKOFF
        return Decision(Kind.QUARANTINED, reason=reason.value, customer_id=f.creds.customer_id)
    log.warning("%s #- credentials for %s failed; %s is authorised by address", f.mail.log_id,
                f.creds.customer_id, who.address)
    return dataclasses.replace(f, note=f"{verdict} for {f.creds.customer_id}; known by address all the same")


def licence(f: Facts, env: Env) -> Result:
    """A licence number names the product (and, with licence_identifies, the customer); wrong ones are counted."""
    if not f.licence or f.sender is None:
        return None
    who, held = f.sender, env.store.licence(f.licence)
    if held and who.customer_id == held[0]:
        return dataclasses.replace(f, product=held[1], note=f"licence of {held[0]}: product {held[1]}")
    if held and who.role is Role.STRANGER and env.cfg.authorise.licence_identifies:
        who = Sender(who.address, who.name, Role.CREDENTIALS, held[0])
        return dataclasses.replace(f, sender=who, product=held[1], note=f"licence identifies {held[0]}: {held[1]}")
    a = env.cfg.authorise
    since = clock.now() - timedelta(minutes=a.failure_window_minutes)
    tries = env.store.recent_auth_failures("licence", who.address, since) + 1
    if tries >= a.licence_failures:  # the call centre's third try: an operator takes over
        return Decision(Kind.NEW, reason=Reason.LICENCE_FAILED.value, triage=True,
                        detail=f"{tries} wrong licence numbers from {who.address}")
    return dataclasses.replace(f, licence_failed=True, note=f"wrong licence number ({tries} of {a.licence_failures})")


def contact_admin(f: Facts, env: Env) -> Result:
    """A customer's admin contact changing who may write for the customer (#contact add/remove)."""
    who = f.sender
    if who is None or who.role is not Role.CONTACT or who.customer_id is None:
        return None
    if contact_commands(f.mail.whole_text) is not None and env.store.is_admin(who.customer_id, who.address):
        return Decision(Kind.ADMIN, customer_id=who.customer_id)
    return None


def presence(f: Facts, env: Env) -> Result:
    """A consultant's #away [until YYYY-MM-DD] or #back: no ticket, assignment skips or includes them again."""
    if f.sender is None or f.sender.role is not Role.CONSULTANT:
        return None
    return Decision(Kind.PRESENCE, detail=first) if (first := presence_command(f.mail.whole_text)) else None


def self_service(f: Facts, env: Env) -> Result:
    """#status or #kb WORDS from a known contact, #password from anyone (subject or first line): no ticket.

    #password is answered for every sender alike, so nobody learns which address is a contract address.
    """
    if f.sender is None:
        return None
    asked = self_service_command(strip_prefixes(f.mail.subject), f.mail.whole_text)
    if asked is None or (asked[0] != "password" and f.sender.role not in (Role.CONTACT, Role.CREDENTIALS)):
        return None
    detail = "#password" if asked[0] == "password" else f"#{asked[0]} {asked[1]}".strip()
    return Decision(Kind.SELF_SERVICE, detail=detail)


def thread(f: Facts, env: Env) -> Result:
    """A mail that names a ticket (tag, References) continues it, if its sender may write there."""
    assert f.sender is not None
    number, clue = find_ticket(f.mail, env.store, env.cfg)
    ticket = env.store.ticket(number) if number is not None else None
    if ticket is None:
        return dataclasses.replace(f, note="names no ticket")
    if not may_write(f.sender, ticket):
        why = f"{f.sender.address} may not write on #{ticket.number}; {clue} ignored"
        if clue == "tag" and env.cfg.helpdesk.tag_secret:
            why += "; tag check code " + ("valid: leaked tag?" if tag_is_genuine(f.mail.subject, env.cfg)
                                          else "wrong or missing: forged tag")
        log.warning("%s #%s refused: %s", f.mail.log_id, ticket.number, why)
        return dataclasses.replace(f, unthreaded=why, note=why)
    if ticket.status is Status.CLOSED and f.sender.role is not Role.CONSULTANT \
            and env.cfg.helpdesk.closed_reply == "new-ticket":
        return dataclasses.replace(f, unthreaded=f"#{ticket.number} is closed", parent=ticket.number,
                                   note=f"#{ticket.number} is closed: a new ticket refers to it")
    return Decision(Kind.FOLLOWUP, ticket=ticket.number, detail=f"by {clue}")


def unknown_sender(f: Facts, env: Env) -> Result:
    """A stranger under unknown_sender = "reject" is held and told how to get access."""
    if f.sender is not None and f.sender.role is Role.STRANGER and env.cfg.authorise.unknown_sender == "reject":
        return Decision(Kind.QUARANTINED, reason=Reason.UNKNOWN_SENDER.value, detail=f.unthreaded)
    return None


def rate_limit(f: Facts, env: Env) -> Result:
    """More new tickets from one address than limits.new_tickets_per_hour: held (consultants are never capped)."""
    assert f.sender is not None
    if f.sender.role is Role.CONSULTANT or f.released or caps.may_open(env.store, env.cfg, f.sender.address):
        return None
    return Decision(Kind.QUARANTINED, reason=Reason.RATE_LIMITED.value,
                    detail=f"more than {env.cfg.limits.new_tickets_per_hour} new tickets in an hour")


def open_ticket(f: Facts, env: Env) -> Result:
    """Everything else from a person opens a ticket (unverified, in triage, for a stranger under "triage")."""
    assert f.sender is not None
    triage = f.sender.role is Role.STRANGER and env.cfg.authorise.unknown_sender == "triage"
    return Decision(Kind.NEW, detail=f.unthreaded or f"{f.sender.role.value} {f.sender.address}", parent=f.parent,
                    triage=triage)
