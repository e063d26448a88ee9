"""One test per decision step, calling the step directly (no servers: a real SQLite file, IMAP off).

Like Mailman's rule tests: a step gets the facts known so far and the
environment, and returns a Decision, new facts, or None. The last tests hold
the house together: the declared order, an action for every kind, no SQL
outside the store, and that a new step is one function plus one line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from conftest import eml

from maildesk import pipeline
from maildesk.act.customers import add_contact
from maildesk.decide import steps
from maildesk.decide.steps import Env, Facts
from maildesk.inbound import credentials
from maildesk.inbound.parse import parse
from maildesk.models import Decision, Kind, Label, Reason, Role, Sender
from maildesk.pipeline import ACTIONS, STEPS, Step

PACKAGE = Path(pipeline.__file__).parent
ALICE = Sender("alice@acme.test", "Alice", Role.CONTACT, "12345678")
MALLORY = Sender("mallory@evil.test", "Mallory", Role.STRANGER)
JANA = Sender("jana@example.test", "Jana", Role.CONSULTANT)


def facts(p, raw: bytes, **known) -> Facts:
    mail = parse(raw, p.cfg.limits)
    return Facts(mail, credentials.find(mail.text), **known)


def env(p) -> Env:
    return Env(p.cfg, p.store)


def test_label_names_the_kind_of_mail(offline):
    _, _, p = offline()
    human = steps.label(facts(p, eml("new_request", n=1)), env(p))
    auto = steps.label(facts(p, eml("auto_headers", n=1, subject="x", header="Auto-Submitted: auto-replied")), env(p))
    assert (human.label, human.note) == (Label.HUMAN, "human")
    assert auto.label is Label.AUTO_REPLIED


def test_no_from_ignores_automatic_mail_without_a_usable_from(offline):
    _, _, p = offline()
    f = dataclasses.replace(facts(p, eml("new_request", n=1)), label=Label.BOUNCE)
    f = dataclasses.replace(f, mail=dataclasses.replace(f.mail, defect=Reason.BAD_FROM.value, from_addr=""))
    assert steps.no_from(f, env(p)) == Decision(Kind.IGNORED, reason="bounce", detail="no usable From")
    assert steps.no_from(dataclasses.replace(f, label=Label.HUMAN), env(p)) is None  # a person's: held, not ignored


def test_sender_knows_contacts_consultants_and_strangers(offline):
    _, _, p = offline()
    f = steps.label(facts(p, eml("new_request", n=1)), env(p))
    assert steps.sender(f, env(p)).sender.role is Role.CONTACT
    stranger = steps.label(facts(p, eml("stranger", n=1)), env(p))
    assert steps.sender(stranger, env(p)).sender.role is Role.STRANGER
    automatic = dataclasses.replace(f, label=Label.BOUNCE)
    assert steps.sender(automatic, env(p)) is None  # automatic mail is never authorised (nor logged as refused)


def test_defect_holds_the_mail_with_its_reason(offline):
    _, _, p = offline()
    f = facts(p, eml("new_request", n=1))
    assert steps.defect(f, env(p)) is None
    bad = dataclasses.replace(f, mail=dataclasses.replace(f.mail, defect=Reason.TOO_DEEP.value))
    assert steps.defect(bad, env(p)) == Decision(Kind.QUARANTINED, reason="too-deep")


def test_automatic_mail_is_ignored_with_its_label(offline):
    _, _, p = offline()
    f = facts(p, eml("new_request", n=1))
    assert steps.automatic(dataclasses.replace(f, label=Label.HUMAN), env(p)) is None
    assert steps.automatic(dataclasses.replace(f, label=Label.LIST), env(p)) == \
        Decision(Kind.IGNORED, reason="mailing-list")


def test_credentials_authorise_a_stranger_or_hold_a_wrong_one(offline):
    _, _, p = offline()
    good = facts(p, eml("credentials_plain", n=1, cid="12345678", password="the-right-password"),
                 sender=MALLORY)
    assert steps.credentials(good, env(p)).sender == Sender(MALLORY.address, MALLORY.name, Role.CREDENTIALS,
                                                            "12345678")
    bad = facts(p, eml("credentials_plain", n=2, cid="12345678", password="wrong-password"), sender=MALLORY)
    assert steps.credentials(bad, env(p)) == Decision(Kind.QUARANTINED, reason="bad-credentials",
                                                      customer_id="12345678")
    known = steps.credentials(dataclasses.replace(bad, sender=ALICE), env(p))
    assert known.sender == ALICE and "known by address" in known.note  # a contact is never held for a typo
    assert steps.credentials(facts(p, eml("new_request", n=3), sender=ALICE), env(p)) is None


def test_contact_admin_only_for_admins(offline):
    _, store, p = offline()
    f = facts(p, eml("admin_contact", n=1, op="add", email="carol@acme.test"), sender=ALICE)
    assert steps.contact_admin(f, env(p)) is None  # alice is a contact, not an admin
    add_contact(store, "12345678", "alice@acme.test", admin=True)
    assert steps.contact_admin(f, env(p)) == Decision(Kind.ADMIN, customer_id="12345678")


def test_thread_follows_up_only_where_the_sender_may_write(offline):
    _, store, p = offline()
    p.process(eml("new_request", n=1))
    mine = facts(p, eml("new_request", n=2).replace(b"Subject: ", b"Subject: Re: [EX #1] "), sender=ALICE)
    assert steps.thread(mine, env(p)) == Decision(Kind.FOLLOWUP, ticket=1, detail="by tag")
    stolen = steps.thread(facts(p, eml("stranger_stolen_tag", n=1, ticket=1), sender=MALLORY), env(p))
    assert isinstance(stolen, Facts) and "may not write on #1" in stolen.unthreaded
    with store.transaction():
        store.update_ticket(1, status="closed")
    closed = steps.thread(mine, env(p))
    assert isinstance(closed, Facts) and closed.parent == 1  # helpdesk.closed_reply = "new-ticket"


def test_unknown_sender_holds_strangers_only_under_reject(offline):
    _, _, p = offline()
    f = facts(p, eml("stranger", n=1), sender=MALLORY)
    assert steps.unknown_sender(f, env(p)).reason == Reason.UNKNOWN_SENDER
    assert steps.unknown_sender(dataclasses.replace(f, sender=ALICE), env(p)) is None
    opened = dataclasses.replace(p.cfg, authorise=dataclasses.replace(p.cfg.authorise, unknown_sender="open"))
    assert steps.unknown_sender(f, Env(opened, p.store)) is None


def test_rate_limit_holds_floods_but_never_consultants_or_released_mail(offline):
    _, store, p = offline(limits="new_tickets_per_hour = 1")
    f = facts(p, eml("new_request", n=1), sender=ALICE)
    assert steps.rate_limit(f, env(p)) is None
    with store.transaction():
        store.set_bucket("alice@acme.test", 0)
    assert steps.rate_limit(f, env(p)).reason == Reason.RATE_LIMITED
    assert steps.rate_limit(dataclasses.replace(f, released=True), env(p)) is None
    with store.transaction():
        store.set_bucket("jana@example.test", 0)
    assert steps.rate_limit(dataclasses.replace(f, sender=JANA), env(p)) is None


def test_open_ticket_always_decides(offline):
    _, _, p = offline()
    f = facts(p, eml("new_request", n=1), sender=ALICE, parent=7)
    assert steps.open_ticket(f, env(p)) == Decision(Kind.NEW, detail="contact alice@acme.test", parent=7)


# -- the house -------------------------------------------------------------------------------


def test_the_steps_are_declared_once_in_order_and_every_kind_has_actions():
    names = [s.name for s in STEPS]
    assert names == ["label", "no-from", "sender", "defect", "automatic", "credentials", "licence", "contact-admin",
                     "presence", "self-service", "thread", "unknown-sender", "rate-limit", "open"]
    assert set(ACTIONS) == set(Kind)


def test_the_trace_says_which_step_decided(offline):
    _, _, p = offline()
    trace = p.trace(eml("stranger", n=1))
    assert trace.lines == (("label", "human"), ("no-from", "pass"), ("sender", "stranger stranger@nowhere.test"),
                           ("defect", "pass"), ("automatic", "pass"), ("credentials", "pass"), ("licence", "pass"),
                           ("contact-admin", "pass"), ("presence", "pass"), ("self-service", "pass"),
                           ("thread", "names no ticket"),
                           ("unknown-sender", "quarantined unknown-sender"))
    assert p.store.one("SELECT COUNT(*) AS n FROM quarantine")["n"] == 0  # a trace writes nothing
    p.process(eml("stranger", n=1))
    again = p.trace(eml("stranger", n=1))
    assert again.lines[0][0] == "seen" and again.lines[0][1].startswith("already quarantined;")
    assert again.lines[1:] == trace.lines


def test_a_new_step_is_one_function_and_one_line(offline, monkeypatch):
    _, _, p = offline()

    def vip(f: Facts, e: Env):  # e.g. a routing rule: mail from the CEO is held for a human to look at
        return Decision(Kind.QUARANTINED, reason="vip") if f.sender and f.sender.address == "alice@acme.test" \
            else None

    at = [s.name for s in STEPS].index("thread")
    monkeypatch.setattr(pipeline, "STEPS", (*STEPS[:at], Step("vip", vip), *STEPS[at:]))
    trace = p.trace(eml("new_request", n=1))
    assert (trace.decision.reason, trace.lines[-1][0]) == ("vip", "vip")


def test_no_module_outside_the_store_speaks_sql():
    # (an IMAP protocol's execute() is not SQL)
    sql = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b|(?<!proto)\.execute\(|\.db\.table\(|\.db\[")
    offenders = [str(f.relative_to(PACKAGE)) for f in PACKAGE.rglob("*.py")
                 if f.parent.name != "store" and sql.search(f.read_text())]
    assert offenders == []


def test_every_now_goes_through_the_one_clock():
    real = re.compile(r"datetime\.now\(|datetime\.utcnow\(|time\.time\(\)|date\.today\(")
    offenders = [str(f.relative_to(PACKAGE)) for f in PACKAGE.rglob("*.py")
                 if real.search(f.read_text()) and f.name not in ("clock.py", "schedule.py", "fsck.py", "blobs.py")]
    assert offenders == []  # schedule.py: APScheduler's own timer; fsck.py, blobs.py: file ages are file-system time
