"""Pure decisions without any server: classify, authorise, thread, caps, credentials, bounce severity.

Each test builds a config and a real SQLite store in a temp dir and asks the
pipeline what it *would* do (`decide`), or asks one decision module directly.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import FIXTURES, eml

from maildesk.act.customers import add_contact
from maildesk.config import Limits
from maildesk.decide import bounces, caps
from maildesk.decide.steps import Facts
from maildesk.inbound import credentials
from maildesk.inbound.parse import parse
from maildesk.models import Kind, Sender
from maildesk.pipeline import Pipeline
from maildesk.store import now

LIMITS = Limits(parse_timeout=0)
def decide(p: Pipeline, raw: bytes):
    mail = parse(raw, LIMITS)
    trace = p.decide(Facts(mail, credentials.find(mail.text)))
    return trace.decision, trace.sender


@pytest.mark.parametrize("fixture,kind,reason", [
    ("new_request", Kind.NEW, ""),
    ("stranger", Kind.QUARANTINED, "unknown-sender"),
    ("auto_headers", Kind.IGNORED, "auto-replied"),
    ("two_froms", Kind.QUARANTINED, "bad-from"),
    ("cve_from", Kind.QUARANTINED, "bad-from"),
])
def test_the_pipeline_decides_without_servers(offline, fixture, kind, reason):
    _, _, p = offline()
    decision, _ = decide(p, eml(fixture, n=1, subject="Out of office", header="Auto-Submitted: auto-replied"))
    assert (decision.kind, decision.reason) == (kind, reason)


def test_dsn_is_ignored_as_a_bounce(offline):
    _, _, p = offline()
    decision, sender = decide(p, eml("dsn_bounce", n=1, rcpt="alice@acme.test", original="md.1.x@example.test"))
    assert (decision.kind, decision.reason, sender) == (Kind.IGNORED, "bounce", None)


def test_credentials_authorise_a_new_address_and_wrong_ones_quarantine(offline):
    _, _, p = offline()
    right = eml("credentials_plain", n=1, cid="12345678", password="the-right-password")
    decision, sender = decide(p, right)
    assert decision.kind is Kind.NEW and sender == Sender("newperson@other.test", "New Person", "credentials",
                                                          "12345678")
    wrong = eml("credentials_plain", n=2, cid="12345678", password="a-wrong-password")
    assert decide(p, wrong)[0].reason == "bad-credentials"


def test_a_stranger_with_a_tag_opens_nothing_on_that_ticket(offline):
    cfg, store, p = offline(helpdesk='closed_reply = "reopen"')
    with store.transaction():
        store.db["tickets"].insert({"number": 7, "subject": "x", "status": "open", "queue": "general",
                                    "priority": "normal", "customer_id": "12345678", "requester": "alice@acme.test",
                                    "comm_address": "alice@acme.test", "language": "en", "created": now(),
                                    "updated": now()})
    stolen = eml("stranger_stolen_tag", n=1, ticket=7)
    decision, _ = decide(p, stolen)
    assert decision.kind is Kind.QUARANTINED and "may not write on #7" in decision.detail
    reply = eml("reply_with_attachment", n=1, ticket=7)
    assert decide(p, reply)[0].kind is Kind.FOLLOWUP  # bob, a colleague at ACME, may


def test_caps_are_for_strangers_and_bots_not_for_contacts(offline, frozen_clock):
    cfg, store, _ = offline(limits="auto_per_recipient_day = 2\nauto_per_known_day = 4")

    ids = iter(range(1000))

    def queue(rcpt: str, n: int) -> None:
        with store.transaction():
            for _ in range(n):
                store.db["outbox"].insert({"ticket": None, "kind": "confirmation", "message_id": f"m{next(ids)}",
                                           "mail_from": "h", "rcpt": rcpt, "subject": "s", "raw": b"",
                                           "status": "sent", "attempts": 1, "next_attempt": now(), "created": now()})
    queue("alice@acme.test", 3)
    queue("someone@else.test", 2)
    assert caps.refusal(store, cfg, "confirmation", "alice@acme.test", None) == ""
    assert "unknown" in caps.refusal(store, cfg, "confirmation", "someone@else.test", None)
    queue("alice@acme.test", 1)
    assert "known" in caps.refusal(store, cfg, "confirmation", "alice@acme.test", None)
    assert caps.refusal(store, cfg, "answer", "alice@acme.test", None) == ""  # a consultant's answer always goes
    assert caps.refusal(store, cfg, "confirmation", "jana@example.test", None) == ""
    assert caps.refusal(store, cfg, "confirmation", "no-reply@acme.test", None) == "never-send address"
    frozen_clock["now"] += timedelta(days=1, seconds=1)
    assert caps.refusal(store, cfg, "confirmation", "someone@else.test", None) == ""


def test_stranger_notices_share_one_hourly_budget(offline, frozen_clock):
    cfg, store, _ = offline(limits="stranger_notices_per_hour = 3")
    with store.transaction():
        for i in range(3):
            store.db["outbox"].insert({"ticket": None, "kind": "unknown_sender", "message_id": f"m{i}",
                                       "mail_from": "h", "rcpt": f"forged{i}@x.test", "subject": "s", "raw": b"",
                                       "status": "sent", "attempts": 1, "next_attempt": now(), "created": now()})
    assert "per hour" in caps.refusal(store, cfg, "unknown_sender", "forged9@x.test", None)
    assert caps.refusal(store, cfg, "confirmation", "alice@acme.test", None) == ""  # customers unaffected
    frozen_clock["now"] += timedelta(hours=1, seconds=1)
    assert caps.refusal(store, cfg, "unknown_sender", "forged9@x.test", None) == ""


@pytest.mark.parametrize("status,diagnostic,expected", [
    ("5.1.1", "550 5.1.1 User unknown", "hard"),
    ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", "hard"),
    ("5.2.2", "552 5.2.2 Mailbox full", "soft"),
    ("5.0.0", "552 Requested mail action aborted: exceeded storage allocation; over quota", "soft"),
    ("4.4.1", "421 4.4.1 Connection timed out", "soft"),
    ("5.7.1", "550 5.7.1 Message rejected as spam", "soft"),
    ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", "soft"),
])
def test_bounce_severity(status, diagnostic, expected):
    raw = (FIXTURES / "dsn_bounce.eml").read_bytes().replace(b"Status: 5.1.1", f"Status: {status}".encode())
    raw = raw.replace(b"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown", diagnostic.encode())
    raw = raw.replace(b"{rcpt}", b"alice@acme.test").replace(b"{original}", b"md.1.x@example.test")
    temporary, permanent = bounces.failed_recipients(raw)
    assert bounces.severity(raw, "alice@acme.test", temporary, permanent) == expected
    assert bounces.severity(raw, "bob@acme.test", temporary, permanent) == ""  # not named: not ours to judge


def test_an_admins_contact_mail_is_an_admin_decision(offline):
    _, store, p = offline()
    add_contact(store, "12345678", "alice@acme.test", admin=True)
    raw = eml("admin_contact", n=1, op="add", email="carol@acme.test")
    assert decide(p, raw)[0].kind is Kind.ADMIN


@pytest.mark.parametrize("header", ["Subject: " + "=?utf-8?q?abc?= " * 20000, "X-Junk: " + "a" * 200_000])
def test_huge_headers_are_held_before_parsing(header):
    raw = f"From: Alice <alice@acme.test>\r\n{header}\r\n\r\nhello\r\n".encode()
    mail = parse(raw, LIMITS)
    assert (mail.defect, mail.from_addr) == ("headers-too-large", "alice@acme.test")


def test_absurdly_deep_html_is_still_read():
    """nh3 took minutes on this (quadratic); the linear stripper reads it (the per-test timeout guards it)."""
    raw = b"From: a@b.test\r\nContent-Type: text/html\r\n\r\n" + b"<div>" * 100_000 + b"hi" + b"</div>" * 100_000
    assert parse(raw, LIMITS).text == "hi"
