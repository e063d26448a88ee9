"""Operator safety: escape codes never reach the terminal; admin commands are bounded and validated."""

from __future__ import annotations

import json

import pytest
from conftest import cli, eml, run_once

from maildesk.act.customers import add_contact
from maildesk.cli.views import safe
from maildesk.config import Limits
from maildesk.daemon import open_store
from maildesk.inbound.parse import parse

HOSTILE = ("Printer \x1b]52;c;cm0gLXJmIC8K\x07 broken \x1b[2J\x1b[3J gone \x9b31m red \u202eexe.txt "
           "\x1b]8;;http://evil.test\x1b\\link\x1b]8;;\x1b\\ \x08\x08\x08hidden\r over\u2028x")


def hostile_mail(n: int) -> bytes:
    head = eml("new_request", n=n).split(b"\r\n\r\n", 1)[0]
    return head + b"\r\n\r\n" + HOSTILE.encode("utf-8") + b"\r\n"


RAW_CONTROLS = ("\x1b", "\x9b", "\x07", "\x08", "\u202e", "\u2028", "\r")


def test_ticket_show_and_json_never_print_a_control_character_raw(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, hostile_mail(1))
    run_once(cfg)
    for args in (("ticket", "show", "1"), ("ticket", "show", "1", "--json"), ("ticket", "list"),
                 ("ticket", "list", "--json"), ("outbox", "list"), ("contact", "show", "alice@acme.test")):
        out = cli(cfg, *args)
        assert out.returncode == 0, out.stderr
        assert not [c for c in RAW_CONTROLS if c in out.stdout], (args, out.stdout)
    shown = cli(cfg, "ticket", "show", "1").stdout
    assert "\\x1b]52;c;" in shown and "\\x9b31m" in shown and "\\u202e" in shown  # visible, not obeyed
    record = json.loads(cli(cfg, "ticket", "show", "1", "--json").stdout)
    assert "\x1b[2J" in record["messages"][0]["text"]  # JSON escapes still decode to the true text


def test_quarantine_views_escape_a_strangers_mail(cfg, dovecot, smtp):
    raw = hostile_mail(2).replace(b"alice@acme.test", b"stranger@nowhere.test")
    dovecot.append(cfg.imap.username, raw)
    run_once(cfg)
    for args in (("quarantine", "list"), ("quarantine", "show", "1"), ("quarantine", "list", "--json")):
        out = cli(cfg, *args)
        assert out.returncode == 0 and not [c for c in RAW_CONTROLS if c in out.stdout], args


def test_safe_escapes_every_control_and_keeps_text():
    assert safe("Žluťoučký kůň\n\tok") == "Žluťoučký kůň\n\tok"
    assert safe("\x1b[31m\x9b\x00\x7f\u200b\ufeff") == "\\x1b[31m\\x9b\\x00\\x7f\\u200b\\ufeff"


@pytest.fixture
def admin(cfg, customer):
    add_contact(open_store(cfg), customer, "alice@acme.test", admin=True)
    return cfg


def admin_mail(n: int, lines: list[str]) -> bytes:
    return eml("admin_contact", n=n, op="", email="").replace(b"#contact  \r\n", "\r\n".join(lines).encode() + b"\r\n")


def refused(cfg, smtp) -> str:
    [reply] = smtp.wait_for(1) and smtp.to("alice@acme.test")
    assert "not applied" in reply["Subject"], reply["Subject"]
    return reply.get_content()


@pytest.mark.parametrize("line,why", [
    ("#contact add jana@example.test", "cannot be a customer's contact"),   # a consultant
    ("#contact add helpdesk@example.test", "cannot be a customer's contact"),
    ("#contact add postmaster@acme.test", "cannot be a customer's contact"),
    ("#contact add victim@acme..test", "not a plain e-mail address"),
    ("#contact frobnicate carol@acme.test", "not understood"),
    ("#contact add carol@acme.test bob@acme.test", "not understood"),
])
def test_a_refused_contact_line_is_answered_and_opens_no_ticket(admin, dovecot, smtp, line, why):
    dovecot.append(admin.imap.username, admin_mail(1, ["#contact add dave@acme.test", line]))
    run_once(admin)
    store = open_store(admin)
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 0
    assert store.customers_of("dave@acme.test") == []  # all or nothing
    assert why in refused(admin, smtp)


def test_too_many_contact_lines_are_refused_whole(admin, dovecot, smtp):
    lines = [f"#contact add user{i}@acme.test" for i in range(578)]
    dovecot.append(admin.imap.username, admin_mail(1, lines))
    run_once(admin)
    assert open_store(admin).one("SELECT COUNT(*) AS n FROM contacts")["n"] == 2
    assert "at most 10" in refused(admin, smtp)
    assert len(smtp.wait_for(2, timeout=0.3)) == 1


def test_contact_lines_are_read_before_the_body_is_cut(make_config, customer_factory, dovecot, smtp):
    cfg = make_config(extra="[limits]\nmax_body_chars = 40\n[authorise]\nmax_contact_commands = 3\n")
    add_contact(open_store(cfg), customer_factory(cfg), "alice@acme.test", admin=True)
    lines = ["#contact add carol@acme.test", "#contact add victim@acme.test"]  # the cut falls inside the 2nd
    dovecot.append(cfg.imap.username, admin_mail(1, lines))
    run_once(cfg)
    store = open_store(cfg)
    assert store.customers_of("victim@acme.test") == ["12345678"]
    assert store.customers_of("victim@acme.te") == []


def test_a_quoted_local_part_is_the_same_contact(cfg, customer, dovecot, smtp):
    raw = eml("new_request", n=1).replace(b"From: Alice Customer <alice@acme.test>",
                                          b'From: Alice Customer <"alice"@acme.test>')
    dovecot.append(cfg.imap.username, raw)
    run_once(cfg)
    assert open_store(cfg).one("SELECT customer_id FROM tickets WHERE number = 1")["customer_id"] == "12345678"


@pytest.mark.parametrize("charset", ["utf\x00-8", "\x00", "x" * 5000, "utf-8\r\nX: y", "../../etc"])
def test_parse_never_raises_on_a_hostile_charset(charset):
    raw = (b"From: a@b.test\r\nSubject: x\r\nContent-Type: text/plain; charset=\"" + charset.encode() +
           b"\"\r\n\r\n\xc5\xbelu\xc5\xa5ou\xc4\x8dk\xc3\xbd\r\n")
    mail = parse(raw, Limits(parse_timeout=0))
    assert mail.from_addr == "a@b.test" or mail.defect
