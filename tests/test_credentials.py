"""Credentials and trust (real Dovecot + real SMTP server + real SQLite)."""

from __future__ import annotations

import base64
import hashlib
import logging
import quopri
import re
from pathlib import Path

import pytest
from conftest import cli, eml, run_once

from maildesk.act.customers import add_contact
from maildesk.cli.views import ticket_record
from maildesk.daemon import open_store
from maildesk.decide.authorise import BAD, check_credentials
from maildesk.inbound import credentials

PASSWORD = "Žluťoučký-kůň-9"  # non-ASCII on purpose: it must vanish in every charset and encoding


def credential_mail(kind: str, n: int = 1, cid: str = "12345678", password: str = PASSWORD) -> bytes:
    if kind == "base64":
        body = f"Customer: {cid}\nPassword: {password}\n\nVPN says auth failed.\n"
        html = f"<p>Customer: {cid}<br>Password: {password}</p><p>VPN says auth failed.</p>"
        return eml("credentials_base64", n=n, body_b64=base64.encodebytes(body.encode()).decode(),
                   html_b64=base64.encodebytes(html.encode()).decode())
    if kind == "czech_qp":
        qp = quopri.encodestring(password.encode("iso-8859-2")).decode()
        return eml("credentials_czech_qp", n=n, cid=cid, password_qp=qp)
    if kind == "html":
        entity = password.replace("ž", "&#382;").replace("Ž", "&Zcaron;")  # HTML-escaped forms too
        return eml("credentials_html", n=n, cid=cid, password_html=entity)
    return eml("credentials_plain", n=n, cid=cid, password=password)


@pytest.fixture
def acme(cfg):
    out = cli(cfg, "customer", "add", "12345678", "--name", "ACME s.r.o.", "--contact", "alice@acme.test",
              "--password-stdin", stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    return cfg


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def found_anywhere(cfg, dovecot, smtp, caplog, secret: str) -> list[str]:
    """Every place the secret still appears: database, data dir, logs, sent mail, IMAP folders."""
    needles = {secret.encode(e) for e in ("utf-8", "iso-8859-2", "windows-1250", "utf-16-le", "utf-16-be")
               if _encodes(secret, e)}
    needles |= {quopri.encodestring(n).rstrip(b"=\n") for n in needles}
    needles |= {base64.b64encode(n) for n in needles}
    places = []
    for path in Path(cfg.data_dir).rglob("*"):  # the database (and its WAL), raw mails, attachments
        if path.is_file() and (any(n in path.read_bytes() for n in needles)
                               or credentials.contains(path.read_bytes(), secret)):
            places.append(str(path))
    printed = {secret} | {repr(n)[2:-1] for n in needles}  # also as a bytes repr in a wire log
    if any(p in r.getMessage() for r in caplog.records for p in printed):
        places.append("logs")
    for r in smtp.received:
        if any(n in r.data for n in needles) or credentials.contains(r.data, secret):
            places.append(f"mail to {r.rcpts}")
    user = cfg.imap.username
    for folder in ("INBOX", cfg.imap.processed_folder, cfg.imap.quarantine_folder):
        for raw in dovecot.messages(user, folder):
            if any(n in raw for n in needles) or credentials.contains(raw, secret):
                places.append(f"IMAP {folder}")
    return places


@pytest.mark.parametrize("kind", ["plain", "czech_qp", "base64", "html"])
def test_credential_mail_opens_ticket_and_password_is_nowhere(acme, dovecot, smtp, caplog, kind):
    caplog.set_level(logging.DEBUG)
    dovecot.append(acme.imap.username, credential_mail(kind))
    run_once(acme)
    store = open_store(acme)
    rec = ticket_record(store, 1)
    assert rec is not None, store.all("SELECT * FROM quarantine")
    sender = rec["requester"]
    assert rec["customer"] == "12345678" and sender in ("newperson@other.test", "nova@other.test")
    assert "[redacted]" in rec["messages"][0]["text"]
    [conf] = smtp.wait_for(1) and smtp.to(sender)
    assert conf["Subject"].startswith("[EX #1]")
    assert dovecot.count(acme.imap.username, acme.imap.processed_folder) == 1
    assert dovecot.count(acme.imap.username, "INBOX") == 0
    assert found_anywhere(acme, dovecot, smtp, caplog, PASSWORD) == []
    assert store.customers_of(sender) == []  # remember_credential_senders is off by default


def test_wrong_password_is_quarantined_with_one_notice_per_day(acme, dovecot, smtp, caplog):
    for n in (1, 2):
        dovecot.append(acme.imap.username, credential_mail("plain", n=n, password="wrong-guess-123"))
    run_once(acme)
    store = open_store(acme)
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 0
    assert [q["reason"] for q in store.all("SELECT reason FROM quarantine")] == ["bad-credentials"] * 2
    [notice] = smtp.wait_for(2, timeout=0.3) and smtp.to("newperson@other.test")
    body = notice.get_content()
    assert "could not verify" in body and "12345678" not in body
    assert found_anywhere(acme, dovecot, smtp, caplog, "wrong-guess-123") == []


def test_an_unknown_id_is_checked_against_a_real_argon2_hash(acme, monkeypatch):
    """Same work for a known and an unknown ID (the timing itself is measured in bench/auth_timing.py)."""
    store = open_store(acme)
    seen = []
    real = credentials._hasher

    class Recording:
        def verify(self, h: str, p: str) -> bool:
            seen.append(h)
            return real.verify(h, p)

        def hash(self, p: str) -> str:
            return real.hash(p)

    monkeypatch.setattr(credentials, "_hasher", Recording())
    for cid in ("12345678", "99999999"):
        assert check_credentials(store, credentials.Credentials(cid, "not-the-password"), "x@y.test") == BAD
    known, unknown = seen
    assert known.startswith("$argon2id$") and unknown.startswith("$argon2id$") and known != unknown
    assert known.split("$")[3] == unknown.split("$")[3]  # the same cost parameters


def forms(password: str) -> dict[str, bytes]:
    """Every form of a credential mail that once leaked, as the sender's client would write it."""
    def build(text: str | None, html: str | None = None, atts=()) -> bytes:
        from email.message import EmailMessage
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "Nová <nova@other.test>", "helpdesk@example.test", "VPN"
        msg["Message-ID"] = f"<form-{hashlib.sha256(repr((text, html)).encode()).hexdigest()[:16]}@other.test>"
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.set_content(text)
            if html:
                msg.add_alternative(html, subtype="html")
        for data, name in atts:
            msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
        return msg.as_bytes()
    html_pw = f"{password[:4]}<b>{password[4:8]}</b>{password[8:]}"  # the reader sees the password unchanged
    return {
        "html-split": build(None, f"<p>Customer: 12345678<br>Password: {html_pw}</p><p>VPN down</p>"),
        "two-lines": build(f"Customer: 12345678\nPassword: {password}\nPassword: {password}-old\n\nVPN down\n"),
        "late-line": build("VPN down\n" + "".join(f"detail {i}\n" for i in range(10)) + f"Password: {password}\n"),
        "quoted": build(f"VPN down\n\n> Customer: 12345678\n> Password: {password}\n"),
        "one-line": build(f"Customer: 12345678 Password: {password}\n\nVPN down\n"),
        "utf16-file": build(f"Customer: 12345678\nPassword: {password}\n", None,
                            [(f"Password: {password}\r\n".encode("utf-16"), "login.txt")]),
    }


AUTHORISING = ("html-split", "one-line", "utf16-file", "two-lines")  # the others authorise nothing


@pytest.mark.parametrize("password", [PASSWORD, "wrong-Heslo-42"])
def test_no_form_of_the_password_is_kept_or_sent(make_config, dovecot, smtp, caplog, password):
    """Right or wrong, in every form: nowhere in the database, files, logs, mail sent (consultants too) or IMAP."""
    caplog.set_level(logging.DEBUG)
    cfg = make_config(jana_queues='"general"', extra="[authorise]\nunknown_sender = \"open\"\n")
    assert cli(cfg, "customer", "add", "12345678", "--name", "ACME", "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    mails = forms(password)
    for raw in mails.values():
        dovecot.append(cfg.imap.username, raw)
    run_once(cfg)
    store = open_store(cfg)
    for form, raw in mails.items():
        mid = re.search(rb"<(form-[^>]+)>", raw).group(1).decode()
        outcome = store.one("SELECT outcome, reason FROM inbound WHERE message_id = ?", (mid,))
        got = (outcome["outcome"], outcome["reason"] or "")
        if form in AUTHORISING:
            assert got == (("new", "") if password == PASSWORD else ("quarantined", "bad-credentials")), form
        else:
            assert got == ("new", ""), form  # unknown_sender = "open": a ticket, its password still cut out
    assert smtp.to("jana@example.test")  # the consultants' copies were searched too
    for secret in {password, f"{password}-old"}:
        assert found_anywhere(cfg, dovecot, smtp, caplog, secret) == [], secret


def test_failures_back_off_and_double(make_config, dovecot, smtp, caplog):
    cfg = make_config(extra="[authorise]\nmax_failures = 3\nbackoff_minutes = 15\n")
    set_up = cli(cfg, "customer", "add", "12345678", "--name", "ACME", "--password-stdin", stdin=PASSWORD + "\n")
    assert set_up.returncode == 0
    for n in range(1, 5):  # 3 failures start the backoff; the 4th is not even checked
        dovecot.append(cfg.imap.username, credential_mail("plain", n=n, password=f"guess-number-{n}"))
    run_once(cfg)
    store = open_store(cfg)
    reasons = [q["reason"] for q in store.all("SELECT reason FROM quarantine ORDER BY id")]
    assert reasons == ["bad-credentials"] * 3 + ["credentials-backoff"]
    blocks = {b["scope"]: b for b in store.all("SELECT * FROM auth_blocks")}
    assert set(blocks) == {"sender", "customer"} and blocks["sender"]["level"] == 0
    assert any("quarantined unchecked for 15 min" in r.getMessage() for r in caplog.records)
    # even the right password waits while the backoff runs: nothing is dropped, the operator can release
    dovecot.append(cfg.imap.username, credential_mail("plain", n=9))
    run_once(cfg)
    assert store.one("SELECT reason FROM quarantine ORDER BY id DESC LIMIT 1")["reason"] == "credentials-backoff"
    # the block ends; three more failures double it
    store.db.execute("UPDATE auth_blocks SET until = datetime('now', '-1 minute') || '+00:00'")
    store.db.commit()
    for n in range(5, 8):
        dovecot.append(cfg.imap.username, credential_mail("plain", n=n, password=f"guess-number-{n}"))
    run_once(cfg)
    assert store.one("SELECT level FROM auth_blocks WHERE scope = 'sender'")["level"] == 1
    assert any("quarantined unchecked for 30 min" in r.getMessage() for r in caplog.records)
    assert cli(cfg, "quarantine", "release", "5").returncode == 0  # the operator's way past a backoff


def test_policy_triage_holds_confirmation_until_verified(make_config, customer_factory, dovecot, smtp):
    cfg = make_config(extra='[authorise]\nunknown_sender = "triage"\n\n[[queue]]\nname = "triage"\n',
                      jana_queues='"general", "triage"')
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml("stranger", n=1))
    dovecot.append(cfg.imap.username, eml("stranger", n=2).replace(b"Do you sell", b"Do you rent"))
    run_once(cfg)
    store = open_store(cfg)
    rows = store.all("SELECT number, status, queue FROM tickets ORDER BY number")
    assert rows == [{"number": 1, "status": "unverified", "queue": "triage"},
                    {"number": 2, "status": "unverified", "queue": "triage"}]
    smtp.wait_for(2)
    assert smtp.to("stranger@nowhere.test") == [] and len(smtp.to("jana@example.test")) == 2
    out = cli(cfg, "ticket", "verify", "1")
    assert out.returncode == 0, out.stderr
    [conf] = smtp.wait_for(3) and smtp.to("stranger@nowhere.test")
    assert conf["Subject"].startswith("[EX #1]")
    assert store.one("SELECT status, queue FROM tickets WHERE number = 1") == {"status": "open", "queue": "general"}
    dovecot.append(cfg.imap.username, eml("consultant_commands", ticket=2, n=3, commands="#verify", body=""))
    run_once(cfg)
    assert len(smtp.wait_for(4) and smtp.to("stranger@nowhere.test")) == 2
    assert store.one("SELECT status FROM tickets WHERE number = 2")["status"] == "open"


def test_policy_open_lets_anyone_open_tickets(make_config, dovecot, smtp):
    cfg = make_config(extra='[authorise]\nunknown_sender = "open"\n')
    dovecot.append(cfg.imap.username, eml("stranger", n=1))
    run_once(cfg)
    assert ticket_record(open_store(cfg), 1)["requester"] == "stranger@nowhere.test"
    assert smtp.wait_for(1)[0].rcpts == ["stranger@nowhere.test"]


def test_admin_adds_and_removes_a_contact(cfg, customer, dovecot, smtp):
    add_contact(open_store(cfg), customer, "alice@acme.test", admin=True)
    dovecot.append(cfg.imap.username, eml("admin_contact", n=1, op="add", email="carol@acme.test"))
    run_once(cfg)
    store = open_store(cfg)
    assert customer in store.customers_of("carol@acme.test")
    smtp.wait_for(2)
    assert "may now write" in smtp.to("alice@acme.test")[0]["Subject"]
    assert "may now write" in smtp.to("carol@acme.test")[0]["Subject"]
    shown = cli(cfg, "customer", "show", customer)
    assert "carol@acme.test" in shown.stdout and "alice@acme.test" in shown.stdout
    dovecot.append(cfg.imap.username, eml("admin_contact", n=2, op="remove", email="carol@acme.test"))
    run_once(cfg)
    assert store.customers_of("carol@acme.test") == []
    assert "no longer" in smtp.wait_for(4)[-1].message["Subject"]
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 0


def test_non_admin_contact_commands_open_a_ticket_instead(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("admin_contact", n=3, op="add", email="carol@acme.test"))
    run_once(cfg)
    store = open_store(cfg)
    assert store.customers_of("carol@acme.test") == []
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 1


def test_forged_tag_is_recognised_with_tag_secret(make_config, customer_factory, dovecot, smtp, caplog):
    cfg = make_config(extra="", **{})
    cfg.path.write_text(cfg.path.read_text().replace('tag = "EX"', 'tag = "EX"\ntag_secret = "s3cr3t"'))
    from maildesk.config import load
    cfg = load(cfg.path)
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    run_once(cfg)
    [conf] = smtp.wait_for(1)
    tag = conf.message["Subject"].split("]")[0] + "]"
    assert tag.startswith("[EX #1-") and len(tag) == len("[EX #1-abc]")
    assert conf.message["Message-ID"].count(".") >= 3  # md.1.<token>.<hmac>@domain
    dovecot.append(cfg.imap.username, eml("stranger_stolen_tag", n=2, ticket=1))
    dovecot.append(cfg.imap.username, eml("reply_with_attachment", n=3, ticket="1-xyz"))  # a member, bad code
    run_once(cfg)
    assert any("forged tag" in r.getMessage() for r in caplog.records if r.name == "maildesk.auth")
    assert len(ticket_record(open_store(cfg), 1)["messages"]) == 2  # the member's mail still threads


@pytest.mark.parametrize("authserv, dmarc, trusted", [
    ("mx.example.test", "fail", False),   # our MTA says the From is forged
    ("evil.test", "fail", True),          # someone else's header: ignored
])
def test_dmarc_verdict_of_our_mta_only(make_config, customer_factory, dovecot, smtp, authserv, dmarc, trusted):
    cfg = make_config(extra='[trust]\nauthserv_id = "mx.example.test"\n')
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml("dmarc", n=1, authserv=authserv, dmarc=dmarc))
    run_once(cfg)
    store = open_store(cfg)
    opened = store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 1
    assert opened is trusted
    if not trusted:
        assert store.one("SELECT reason FROM quarantine")["reason"] == "unknown-sender"


def test_parser_confusion_from_is_bad_from(cfg, customer, dovecot, smtp):
    dovecot.append(cfg.imap.username, eml("cve_from", n=1))
    run_once(cfg)
    store = open_store(cfg)
    assert store.one("SELECT reason FROM quarantine")["reason"] == "bad-from"
    assert smtp.wait_for(1, timeout=0.3) == []
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 0


def test_set_password_and_remember_credential_senders(make_config, dovecot, smtp):
    cfg = make_config(extra="[authorise]\nremember_credential_senders = true\n")
    assert cli(cfg, "customer", "add", "12345678", "--name", "ACME").returncode == 0
    assert cli(cfg, "customer", "passwd", "12345678", stdin="short\n").returncode == 1
    assert cli(cfg, "customer", "passwd", "12345678", stdin=PASSWORD + "\n").returncode == 0
    dovecot.append(cfg.imap.username, credential_mail("plain"))
    run_once(cfg)
    assert open_store(cfg).customers_of("newperson@other.test") == ["12345678"]
