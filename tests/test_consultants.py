"""Consultants work from their mail client (real Dovecot + real SMTP server)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import eml, run_once

from maildesk.cli.views import ticket_record
from maildesk.daemon import open_store
from maildesk.inbound.extract import latest_reply
from maildesk.inbound.parse import parse

PETR = '''
[[consultant]]
email = "petr@example.test"
name = "Petr Svoboda"
queues = ["general"]
language = "en"
'''
QUOTED = "the printer in room 3 is on fire again"


@pytest.fixture
def desk(make_config, customer_factory, dovecot, smtp):
    """A helpdesk where Jana (cs) and Petr (en) serve the default queue, and ticket #1 is open."""
    cfg = make_config(extra=PETR, jana_queues='"general"')
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml("new_request_attachment", n=1))
    run_once(cfg)
    smtp.received.clear()
    return cfg


def deliver(cfg, dovecot, raw: bytes) -> None:
    dovecot.append(cfg.imap.username, raw)
    run_once(cfg)


def commands_mail(commands: str, body: str = "", n: int = 1) -> bytes:
    return eml("consultant_commands", ticket=1, n=n, commands=commands, body=body)


def test_new_ticket_notifies_each_queue_consultant_with_attachment(make_config, customer_factory, dovecot, smtp):
    cfg = make_config(extra=PETR, jana_queues='"general"')
    customer_factory(cfg)
    deliver(cfg, dovecot, eml("new_request_attachment", n=2))
    smtp.wait_for(3)
    for rcpt, word in (("jana@example.test", "Nový"), ("petr@example.test", "New")):
        [msg] = smtp.to(rcpt)
        assert msg["Subject"].startswith("[EX #1] " + word)
        assert msg["Reply-To"] == "helpdesk@example.test"
        assert msg["Auto-Submitted"] == "auto-generated"
        [att] = list(msg.iter_attachments())
        assert att.get_filename() == "fire.jpg"
        body = msg.get_body(("plain",)).get_content()
        assert "ACME s.r.o." in body and "alice@acme.test" in body and "Photo attached" in body
    assert len(smtp.to("alice@acme.test")) == 1  # the customer's confirmation


@pytest.mark.parametrize("fixture, new_text", [
    ("reply_thunderbird_cs", "vyměňte fixační jednotku"),
    ("reply_outlook_cs", "technik přijde zítra v 10:00"),
    ("reply_gmail_en", "a technician is on the way"),
    ("reply_apple_mail", "the spare part arrives on Wednesday"),
    ("reply_outlook_html", "we replaced the fuser unit remotely"),
])
def test_reply_from_each_client_reaches_customer_without_history(desk, dovecot, smtp, fixture, new_text):
    deliver(desk, dovecot, eml(fixture, ticket=1, n=1))
    [answer] = smtp.wait_for(1) and smtp.to("alice@acme.test")
    body = answer.get_content()
    assert new_text in body
    for quoted in (QUOTED, "napsal(a):", "wrote:", "Odesláno:", "Sent:", "From:",
                   "Jana Nováková\nExample Support, tel"):
        assert quoted not in body
    assert answer["Subject"] == "[EX #1] Printer on fire"
    assert "Jana Nováková" in answer["From"] and "helpdesk@example.test" in answer["From"]
    rec = ticket_record(open_store(desk), 1)
    out = rec["messages"][-1]
    assert out["direction"] == "out" and new_text in out["text"] and out["to"] == "alice@acme.test"
    assert rec["assignee"] == "jana@example.test"  # the first answer takes the ticket


def test_answer_carries_consultant_attachment(desk, dovecot, smtp):
    raw = eml("reply_with_attachment", n=3, ticket=1).replace(b"Bob Colleague <bob@acme.test>",
                                                               b"Jana <jana@example.test>")
    deliver(desk, dovecot, raw)
    [answer] = smtp.wait_for(1) and smtp.to("alice@acme.test")
    [att] = list(answer.iter_attachments())
    assert att.get_filename() == "printer.log"
    assert hashlib.sha256(att.get_content().encode()).hexdigest() == hashlib.sha256(b"E42 fuser overheat\n").hexdigest()


def test_note_goes_to_other_consultants_only(desk, dovecot, smtp):
    deliver(desk, dovecot, commands_mail("#note", "Customer is a VIP, be quick.\n\nOn Mon, Alice wrote:\n> hi"))
    smtp.wait_for(2, timeout=0.3)
    assert smtp.to("alice@acme.test") == []
    [note] = smtp.to("petr@example.test")
    assert "Internal note" in note["Subject"] and "VIP" in note.get_content()
    assert smtp.to("jana@example.test") == []
    rec = ticket_record(open_store(desk), 1)
    assert rec["messages"][-1]["direction"] == "note" and rec["messages"][-1]["text"] == "Customer is a VIP, be quick."


def test_commands_are_applied_and_removed_from_relayed_text(desk, dovecot, smtp):
    deliver(desk, dovecot, commands_mail("#take\n#price 1200 czk\n#due 2026-12-01\n#priority express",
                                         "We will replace the printer."))
    [answer] = smtp.wait_for(1) and smtp.to("alice@acme.test")
    body = answer.get_content()
    assert "We will replace the printer." in body
    assert "#" not in body.split("We will")[0] and "#take" not in body
    assert "1200 CZK" in body and "2026-12-01" in body
    rec = ticket_record(open_store(desk), 1)
    assert (rec["assignee"], rec["price"], rec["due"], rec["priority"]) == \
        ("jana@example.test", "1200 CZK", "2026-12-01", "express")


def test_commands_only_change_the_ticket_and_relay_nothing(desk, dovecot, smtp):
    deliver(desk, dovecot, commands_mail("#assign petr@example.test\n#status waiting"))
    assert smtp.wait_for(1, timeout=0.3) == []
    rec = ticket_record(open_store(desk), 1)
    assert rec["assignee"] == "petr@example.test" and rec["status"] == "waiting"


def test_status_waiting_then_customer_reply_reopens_and_notifies_assignee(desk, dovecot, smtp):
    deliver(desk, dovecot, commands_mail("#take\n#status waiting", "Which model is it?"))
    assert len(smtp.wait_for(1)) == 1
    smtp.received.clear()
    deliver(desk, dovecot, eml("reply_with_attachment", n=4, ticket=1))
    smtp.wait_for(1)
    [note] = smtp.to("jana@example.test")
    assert "Znovu otevřen" in note["Subject"] and list(note.iter_attachments())[0].get_filename() == "printer.log"
    assert smtp.to("petr@example.test") == []  # assigned: only the assignee hears of it
    assert ticket_record(open_store(desk), 1)["status"] == "open"


def test_resolved_without_answer_tells_the_customer(desk, dovecot, smtp):
    deliver(desk, dovecot, commands_mail("#status resolved"))
    [mail] = smtp.wait_for(1) and smtp.to("alice@acme.test")
    assert "Resolved" in mail["Subject"] and "opens again" in mail.get_content()


def test_resolved_with_answer_sends_only_the_answer(desk, dovecot, smtp):
    deliver(desk, dovecot, commands_mail("#status resolved", "Fixed: the fuser was replaced."))
    mails = smtp.wait_for(2, timeout=0.3)
    assert len(mails) == 1 and "Fixed" in mails[0].message.get_content()


def test_reply_on_closed_ticket_opens_a_new_one(desk, dovecot, smtp):
    deliver(desk, dovecot, commands_mail("#status closed"))
    deliver(desk, dovecot, eml("reply_with_attachment", n=5, ticket=1))
    store = open_store(desk)
    assert store.one("SELECT parent FROM tickets WHERE number = 2")["parent"] == 1
    assert ticket_record(store, 1)["status"] == "closed"
    [conf] = smtp.wait_for(3) and smtp.to("bob@acme.test")
    assert conf["Subject"].startswith("[EX #2]") and "#1" in conf.get_content()


def test_forged_consultant_name_is_not_relayed(desk, dovecot, smtp):
    forged = eml("reply_gmail_en", ticket=1, n=6).replace(b"Jana Novakova <jana@example.test>",
                                                          b"Jana Novakova <jana@example-test.evil>")
    deliver(desk, dovecot, forged)
    assert smtp.to("alice@acme.test") == []
    store = open_store(desk)
    assert store.one("SELECT reason FROM quarantine")["reason"] == "unknown-sender"
    assert [m["direction"] for m in ticket_record(store, 1)["messages"]] == ["in"]


def test_unknown_command_is_an_error_to_the_consultant(desk, dovecot, smtp):
    deliver(desk, dovecot, commands_mail("#take\n#frobnicate now\n#due tomorrow", "Answer that must not go out."))
    [err] = smtp.wait_for(1) and smtp.to("jana@example.test")
    body = err.get_content()
    assert "#frobnicate" in body and "#due tomorrow" in body
    assert smtp.to("alice@acme.test") == []
    assert ticket_record(open_store(desk), 1)["assignee"] is None  # nothing half-applied


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TALON_EXPECTED = {
    "android": "Hello", "aol": "Hello", "apple_mail": "Hello", "apple_mail_2": "Hello", "comcast": "Hello",
    "gmail": "Hello", "hotmail": "Hello", "iphone": "Hello", "outlook": "Hello", "sparrow": "Hello",
    "thunderbird": "Hello", "yahoo": "Hello",
}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present in this clone")
def test_extraction_on_corpus_replies():
    for name, expected in TALON_EXPECTED.items():
        got = latest_reply(parse((CORPUS / "talon" / f"{name}.eml").read_bytes()).text)
        assert (got.text, got.confident) == (expected, True), name
    share = latest_reply(parse((CORPUS / "talon" / "reply-quotations-share-block.eml").read_bytes()).text)
    assert share.text.startswith("Hi Katharine.") and share.text.endswith("Joe XXX") and share.confident
    # Czech list replies: each either cut cleanly or relayed whole; never a lost answer between quotes.
    for path in sorted((CORPUS / "lkml-linux-usb-cz").glob("*.eml")):
        text = parse(path.read_bytes()).text
        got = latest_reply(text)
        if got.confident:
            assert "napsal(a):" not in got.text and not any(ln.startswith(">") for ln in got.text.splitlines())
            source = text.replace("\r\n", "\n").split("\n")  # greeting above + answer below a quote: both kept
            assert all(ln in source for ln in got.text.split("\n"))
        else:
            assert got.text == text.replace("\r\n", "\n").strip()


def consultant_mail(n: int, body: str, sender: str = "jana@example.test") -> bytes:
    return (f"From: {sender}\r\nTo: helpdesk@example.test\r\nSubject: Re: [EX #1] Printer on fire\r\n"
            f"Message-ID: <c-{n}@example.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


def test_a_customer_follow_up_is_stored_and_shown_without_its_history(desk, dovecot, smtp):
    body = ("Still broken, same error.\r\n\r\nDne 16. 11. 2026 v 9:00 Example Support napsal(a):\r\n"
            "> We restarted the service.\r\n> Please try again.\r\n")
    deliver(desk, dovecot, consultant_mail(5, body, sender="bob@acme.test"))
    message = ticket_record(open_store(desk), 1)["messages"][-1]
    assert message["text"] == "Still broken, same error."
    original = open_store(desk).one("SELECT original_text FROM messages ORDER BY id DESC LIMIT 1")["original_text"]
    assert "Please try again." in original  # the whole mail stays on the ticket
    [note] = smtp.wait_for(2) and smtp.to("jana@example.test")
    content = note.get_content()
    assert "Still broken, same error." in content and "Please try again." not in content
    assert "skryto citovaných řádků: 3" in content  # Jana reads Czech
    [note_en] = smtp.to("petr@example.test")
    assert "(3 quoted lines hidden" in note_en.get_content()


def test_keepquote_relays_the_history_as_written(desk, dovecot, smtp):
    body = ("#keepquote\r\nSee my comments below.\r\n\r\nOn Mon, Nov 16, 2026 at 9:00 AM Alice <alice@acme.test> "
            "wrote:\r\n> Is it fixed?\r\nYes.\r\n\r\n-- \r\nJana\r\n")
    deliver(desk, dovecot, consultant_mail(6, body))
    [answer] = smtp.wait_for(1) and smtp.to("alice@acme.test")
    text = answer.get_content()
    assert "> Is it fixed?" in text and "See my comments below." in text and "#keepquote" not in text


def test_commands_above_a_quoted_history_send_no_history(desk, dovecot, smtp):
    body = ("#status resolved\r\n\r\nDne 16. 11. 2026 v 9:00 Alice <alice@acme.test> napsal(a):\r\n"
            "> The printer in room 3 is on fire again.\r\n")
    deliver(desk, dovecot, consultant_mail(7, body))
    [mail] = smtp.wait_for(1) and smtp.to("alice@acme.test")
    assert "room 3" not in mail.get_content()  # the resolved notice, not the customer's own words back
    assert ticket_record(open_store(desk), 1)["status"] == "resolved"
