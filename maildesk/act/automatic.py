"""Automatic mail (bounces, auto-replies, lists, our own): never a ticket, never answered; an event where it belongs."""

from __future__ import annotations

from maildesk.act.desk import Desk
from maildesk.decide import bounces
from maildesk.decide.thread import find_ticket
from maildesk.models import Decision, Label, ParsedMail, Sender


def note(desk: Desk, mail: ParsedMail, d: Decision, sender: Sender | None, raw_sha: str) -> None:
    """A bounce marks the outbox mail it reports; every automatic mail is an event on the ticket it concerns."""
    related = bounces.record(desk.store, desk.cfg, mail) if d.reason == Label.BOUNCE else None
    if related is None:
        related = find_ticket(mail, desk.store, desk.cfg)[0]
    desk.store.event(related, mail.key, "automatic-mail", {"class": d.reason, "from": mail.from_addr,
                                                           "subject": mail.subject})


def person_wrote(desk: Desk, mail: ParsedMail, d: Decision, sender: Sender | None, raw_sha: str) -> None:
    """A person wrote from the address, so it works: its hard-bounce flag, if any, is cleared."""
    if sender is not None:
        bounces.clear(desk.store, sender.address, mail.key)
