"""End to end against a real Dovecot and a real SMTP server: the core mail flows."""

from __future__ import annotations

import hashlib
import json

from conftest import PAID_PLAN, cli, eml, run_once

from maildesk.cli.views import ticket_record
from maildesk.daemon import open_store


def test_new_request_gets_confirmation_with_tag(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    run_once(cfg)
    [mail] = smtp.wait_for(1)
    msg = mail.message
    assert mail.rcpts == ["alice@acme.test"]
    assert msg["Subject"] == "[EX #1] Printer on fire"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Reply-To"] == "helpdesk@example.test"
    assert msg["In-Reply-To"] == "<req-1@acme.test>"
    assert msg["Message-ID"].endswith("@example.test>")
    body = msg.get_content()
    assert "[EX #1]" in body and "reply to this mail" in body and "screenshots" in body
    assert dovecot.count(cfg.imap.username, "INBOX") == 0
    assert dovecot.count(cfg.imap.username, cfg.imap.processed_folder) == 1
    rec = ticket_record(open_store(cfg), 1)
    assert rec["requester"] == "alice@acme.test" and rec["customer"] == customer and rec["status"] == "open"
    assert rec["messages"][0]["direction"] == "in" and "E-42" in rec["messages"][0]["text"]


def test_reply_with_attachment_is_threaded(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("new_request", n=2))
    run_once(cfg)
    dovecot.append(cfg.imap.username, eml("reply_with_attachment", n=2, ticket=1))
    run_once(cfg)
    rec = ticket_record(open_store(cfg), 1)
    assert [m["from"] for m in rec["messages"]] == ["alice@acme.test", "bob@acme.test"]
    [att] = rec["messages"][1]["attachments"]
    assert att["filename"] == "printer.log"
    assert att["sha256"] == hashlib.sha256(b"E42 fuser overheat\n").hexdigest()
    assert len(smtp.wait_for(1, timeout=0.3)) == 1  # no confirmation for a follow-up by default
    store = open_store(cfg)
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 1


def test_reply_threaded_by_references_to_our_confirmation(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("new_request", n=3))
    run_once(cfg)
    [conf] = smtp.wait_for(1)
    parent = conf.message["Message-ID"].strip("<>")
    dovecot.append(cfg.imap.username, eml("references_only", n=3, parent=parent))
    run_once(cfg)
    rec = ticket_record(open_store(cfg), 1)
    assert len(rec["messages"]) == 2 and "burnt toner" in rec["messages"][1]["text"]


def test_stranger_with_stolen_tag_is_quarantined(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("new_request", n=4))
    run_once(cfg)
    dovecot.append(cfg.imap.username, eml("stranger_stolen_tag", n=4, ticket=1))
    run_once(cfg)
    store = open_store(cfg)
    rec = ticket_record(store, 1)
    assert len(rec["messages"]) == 1
    [q] = store.all("SELECT * FROM quarantine")
    assert q["reason"] == "unknown-sender" and q["sender"] == "mallory@evil.test"
    assert dovecot.count(cfg.imap.username, cfg.imap.quarantine_folder) == 1


def test_unknown_sender_gets_one_explanation_per_day(cfg, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("stranger", n=1))
    dovecot.append(cfg.imap.username, eml("stranger", n=2))
    run_once(cfg)
    dovecot.append(cfg.imap.username, eml("stranger", n=3))
    run_once(cfg)
    mails = smtp.wait_for(2, timeout=0.3)
    assert len(mails) == 1
    assert mails[0].rcpts == ["stranger@nowhere.test"]
    assert "not registered" in mails[0].message.get_content()
    store = open_store(cfg)
    assert store.one("SELECT COUNT(*) AS n FROM quarantine WHERE reason = 'unknown-sender'")["n"] == 3
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 0


def test_ticket_show_json_shape(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("new_request", n=5))
    run_once(cfg)
    out = cli(cfg, "ticket", "show", "1", "--json")
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    for key in ("number", "subject", "status", "queue", "priority", "customer", "requester", "assignee", "messages"):
        assert key in rec
    m = rec["messages"][0]
    assert set(m) >= {"direction", "from", "to", "date", "text", "attachments"}
    listing = cli(cfg, "ticket", "list")
    assert "Printer on fire" in listing.stdout


def test_crlf_in_subject_never_reaches_an_outgoing_header(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("crlf_subject"))
    run_once(cfg)
    [mail] = smtp.wait_for(1)
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head
    assert mail.message["Subject"] == "[EX #1] Hello Bcc: victim@example.org"


def test_two_from_headers_are_quarantined_as_bad_from(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("two_froms"))
    run_once(cfg)
    store = open_store(cfg)
    assert store.one("SELECT reason FROM quarantine")["reason"] == "bad-from"
    assert len(smtp.wait_for(1, timeout=0.3)) == 0


def test_consultant_may_write_on_any_ticket(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("new_request", n=12))
    run_once(cfg)
    reply = eml("stranger_stolen_tag", n=12, ticket=1).replace(b"Mallory <mallory@evil.test>",
                                                                b"Jana <jana@example.test>")
    dovecot.append(cfg.imap.username, reply)
    run_once(cfg)
    rec = ticket_record(open_store(cfg), 1)
    assert [m["from"] for m in rec["messages"]] == ["alice@acme.test", "jana@example.test"]


def test_a_moved_deadline_and_a_breach_reach_the_customer_and_the_lead(make_config, dovecot, smtp, frozen_clock):
    from datetime import UTC, datetime

    from maildesk.act.customers import add_customer
    cfg = make_config(extra=PAID_PLAN, jana_queues='"general"')
    text = cfg.path.read_text().replace('default = true\n', 'default = true\nlead = "boss@example.test"\n')
    cfg.path.write_text(text)
    from maildesk.config import load
    cfg = load(cfg.path)
    add_customer(open_store(cfg), "12345678", "ACME", ["alice@acme.test"], "cs", None, plan="paid")
    frozen_clock["now"] = datetime(2026, 4, 2, 15, 30, tzinfo=UTC)  # Thursday before Easter, 17:30 in Prague
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    run_once(cfg)
    assert "2026-04-07 16:30 CEST" in smtp.to("alice@acme.test")[0].get_content()  # after Good Friday and Monday
    dovecot.append(cfg.imap.username, eml("consultant_commands", n=1, ticket=1,
                                          commands="#due 2026-04-20 12:00 čekáme na opravu od výrobce", body=""))
    run_once(cfg)
    notice = smtp.to("alice@acme.test")[-1]
    assert notice["Subject"].startswith("[EX #1] Nový termín")
    assert "2026-04-20 12:00 CEST" in notice.get_content() and "čekáme na opravu od výrobce" in notice.get_content()
    frozen_clock["now"] = datetime(2026, 4, 7, 15, 0, tzinfo=UTC)  # the first-response target has passed
    run_once(cfg)
    [breach] = smtp.to("boss@example.test")
    assert breach["Subject"].startswith("[SLA breached] [EX #1] first response")
    run_once(cfg)
    assert len(smtp.to("boss@example.test")) == 1  # once per ticket and target
    dovecot.append(cfg.imap.username, eml("new_request", n=2).replace(b"Subject: ", b"Subject: [EXPRESS] "))
    run_once(cfg)
    confirmation = smtp.to("alice@acme.test")[-1].get_content()
    assert "expresní vyřízení" in confirmation and "1500 CZK" in confirmation and "na 1. místě" in confirmation


def test_a_licence_routes_to_its_team_over_real_servers_and_shows_in_the_report(make_config, dovecot, smtp,
                                                                               frozen_clock):
    from datetime import UTC, datetime

    from maildesk.act.customers import add_customer
    from maildesk.config import load
    cfg = make_config(extra='[[queue]]\nname = "packet"\nproducts = ["PACKET"]\nassign = "round-robin"\n',
                      jana_queues='"general", "packet"')
    cfg = load(cfg.path)
    add_customer(open_store(cfg), "12345678", "ACME", ["alice@acme.test"], "en", None, licences=["PACKET=770011"])
    frozen_clock["now"] = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    raw = eml("new_request", n=1).replace(b"\r\n\r\nHello", b"\r\n\r\nLicence: 770011\r\n\r\nHello", 1)
    dovecot.append(cfg.imap.username, raw)
    run_once(cfg)
    rec = ticket_record(open_store(cfg), 1, cfg)
    assert (rec["queue"], rec["assignee"], rec["sla"]) == ("packet", "jana@example.test",
                                                           {"first_response": "ok", "resolution": "ok"})
    [note] = smtp.to("jana@example.test")
    assert "770011" not in note.get_body(("plain",)).get_content()  # the consultant sees it redacted too
    report = json.loads(cli(cfg, "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json").stdout)
    assert report["customers"][0]["opened"] == 1


def test_a_rule_routes_by_plus_address_and_skips_a_consultant_who_is_away(make_config, customer, dovecot, smtp):
    cfg = make_config(extra='[[queue]]\nname = "payroll"\nassign = "round-robin"\n\n[[consultant]]\n'
                            'email = "petr@example.test"\nname = "Petr"\nqueues = ["payroll"]\n\n[[rule]]\n'
                            'name = "payroll"\nto = "helpdesk+payroll@example.test"\nqueue = "payroll"\ntag = "mzdy"\n',
                      jana_queues='"general", "payroll"')
    away = eml("consultant_commands", n=1, ticket=0, commands="#away", body="")
    dovecot.append(cfg.imap.username, away)
    run_once(cfg)
    for n in (1, 2):
        dovecot.append(cfg.imap.username, eml("new_request", n=n).replace(
            b"To: helpdesk@example.test", b"To: helpdesk+payroll@example.test"))
    run_once(cfg)
    store = open_store(cfg)
    assert [(t.queue, t.tags, t.assignee) for t in (store.ticket(1), store.ticket(2))] == [
        ("payroll", "mzdy", "petr@example.test"), ("payroll", "mzdy", "petr@example.test")]  # Jana is away
    assert len(smtp.to("petr@example.test")) == 2 and store.ticket(3) is None


def test_publish_suggest_and_self_service_over_real_servers(cfg, dovecot, smtp):
    from maildesk.act.customers import add_customer
    add_customer(open_store(cfg), "12345678", "ACME", ["alice@acme.test"], "cs", None)
    first = eml("new_request", n=1).replace(b"Printer on fire", "Tiskárna netiskne".encode())
    dovecot.append(cfg.imap.username, first)
    run_once(cfg)
    dovecot.append(cfg.imap.username, eml("consultant_commands", n=1, ticket=1, commands="#publish now",
                                          body="Restartujte službu Zařazování tisku."))
    run_once(cfg)
    assert "[kb #1]" in smtp.to("jana@example.test")[-1]["Subject"]
    later = eml("new_request", n=2).replace(b"Printer on fire", "Tiskárna v účtárně netiskne".encode()).replace(
        b"the printer in room 3 is on fire again. Error: E-42.", "od rána tiskárna netiskne".encode())
    dovecot.append(cfg.imap.username, later)
    run_once(cfg)
    confirmation = smtp.to("alice@acme.test")[-1].get_content()
    assert "Možná Vám už pomůže" in confirmation and "Tiskárna netiskne" in confirmation and "#kb 1" in confirmation
    status = eml("new_request", n=3).replace(b"Subject: Printer on fire", b"Subject: #status")
    dovecot.append(cfg.imap.username, status)
    run_once(cfg)
    reply = smtp.to("alice@acme.test")[-1]
    assert reply["Subject"].startswith("Vaše otevřené požadavky") and "[EX #2]" in reply.get_content()
    assert reply["Auto-Submitted"] == "auto-replied" and reply["In-Reply-To"] == "<req-3@acme.test>"
    assert open_store(cfg).ticket(3) is None
    dovecot.append(cfg.imap.username, eml("new_request", n=4).replace(b"Subject: Printer on fire", b"Subject: #kb 1"))
    run_once(cfg)
    whole = smtp.to("alice@acme.test")[-1]
    assert whole["Subject"] == "Tiskárna netiskne" and "Zařazování tisku" in whole.get_content()
    close = eml("new_request", n=5).replace(b"Subject: Printer on fire", b"Subject: Re: [EX #2] Tisk").replace(
        b"Hello,", b"#close")
    dovecot.append(cfg.imap.username, close)
    run_once(cfg)
    assert open_store(cfg).ticket(2).status == "resolved"
    assert "uzavřeli" in smtp.to("alice@acme.test")[-1].get_content()


def test_password_reset_goes_only_to_the_contract_address_and_leaves_no_copy(cfg, customer, dovecot, smtp):
    import re

    from maildesk.act.customers import edit_customer
    from maildesk.inbound import credentials
    store = open_store(cfg)
    edit_customer(store, cfg, customer, contract_address="alice@acme.test")

    def ask(n: int, sender: str) -> None:
        dovecot.append(cfg.imap.username, eml("new_request", n=n).replace(b"Subject: Printer on fire",
                                                                          b"Subject: #password")
                       .replace(b"alice@acme.test", sender.encode()))
        run_once(cfg)

    ask(1, "alice@acme.test")
    [reset] = smtp.to("alice@acme.test")
    password = re.search(r"^ {4}(\S{16})\r?$", reset.get_content(), re.M).group(1)
    assert credentials.verify(store.customer(customer).password_hash, password)
    ask(2, "alice@acme.test")  # a second one within the hour
    ask(3, "bob@acme.test")  # a contact, but not the contract address
    ask(4, "mallory@evil.test")  # a stranger
    neutral = [smtp.to(a)[-1] for a in ("alice@acme.test", "bob@acme.test", "mallory@evil.test")]
    assert {m.get_content() for m in neutral} == {neutral[0].get_content()}  # nobody learns which address is right
    assert "if this address may reset the password" in neutral[0].get_content()
    assert store.ticket(1) is None
    store.close()
    kept = b"".join(p.read_bytes() for p in cfg.data_dir.rglob("*") if p.is_file())
    assert password.encode() not in kept  # database, WAL and blobs: the sent mail was scrubbed
    events = open_store(cfg).all("SELECT kind, detail FROM events WHERE kind LIKE 'password-reset%'")
    assert [e["kind"] for e in events] == ["password-reset"] + ["password-reset-refused"] * 3
