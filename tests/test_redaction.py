"""Passwords in mail: what authorises, and what is cut out of every copy (no servers needed)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from conftest import stored_blobs

from maildesk.config import Limits
from maildesk.inbound import credentials
from maildesk.inbound.parse import parse

SECRET = "correct horse battery"
LIMITS = Limits(parse_timeout=0)


def mail(text: str | None = None, html: str | None = None, subject: str = "VPN",
         attachments: tuple[tuple[bytes, str, str], ...] = ()) -> bytes:
    """A message with a plain and/or HTML body and attachments (data, mime type, name)."""
    msg = EmailMessage()
    msg["From"] = "nova@other.test"
    msg["To"] = "helpdesk@example.test"
    msg["Subject"] = subject
    msg["Message-ID"] = "<m1@other.test>"
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html or "", subtype="html")
    for data, mime, name in attachments:
        main, sub = mime.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return msg.as_bytes()


def found_and_redacted(raw: bytes) -> tuple[credentials.Credentials | None, set[str], bytes]:
    text = parse(raw, LIMITS).text
    found = credentials.passwords_in_message(raw, text)
    return credentials.find(text), found, credentials.redact(raw, found) if found else raw


CASES = {
    "html split by tags": (None, "<p>Customer: 12345678<br>Password: correct <b>horse</b> battery</p>"),
    "html split by comment and entity": (None, "<p>Customer: 12345678</p><p>Password: cor<!-- x -->rect&#32;h&#111;rse"
                                               "&nbsp;<span>battery</span></p>"),
    "html only in the alternative": ("Customer: 12345678\nPassword: see the HTML part\n",
                                     "<div>Password: <i>correct</i> horse <u>battery</u></div>"),
    "one-line form": ("Customer: 12345678 Password: correct horse battery\n\nVPN broken.\n", None),
    "czech one-line form": ("IČO: 12345678, Heslo: correct horse battery\n", None),
    "after the 8th line": ("\n".join(f"line {i}" for i in range(12)) + "\nPassword: correct horse battery\n", None),
    "quoted line": ("Thanks!\n\n> Customer: 12345678\n> Password: correct horse battery\n", None),
    "wrapped by a client": (None, "<p>Password: correct\nhorse  battery</p>"),
}


@pytest.mark.parametrize("name", CASES)
def test_every_form_of_the_password_is_cut_out(name):
    text, html = CASES[name]
    _, found, out = found_and_redacted(mail(text, html))
    assert any(credentials._pattern(SECRET).fullmatch(" ".join(f.split())) for f in found), found
    assert not credentials.contains(out, SECRET), out.decode(errors="replace")
    assert "horse" not in parse(out, LIMITS).text


def test_html_split_password_authorises_and_is_redacted_the_same_way():
    raw = mail(None, "<p>Customer: 12345678<br>Password: correct <b>horse</b> battery</p><p>VPN down</p>")
    creds, _, out = found_and_redacted(raw)
    assert creds == credentials.Credentials("12345678", SECRET)
    assert "[redacted]" in parse(out, LIMITS).text and "VPN down" in parse(out, LIMITS).text


def test_two_password_lines_are_both_cut_out():
    raw = mail("Customer: 1\nPassword: first-secret-1\nPassword: second-secret-2\n\nhello\n")
    creds, found, out = found_and_redacted(raw)
    assert creds.password == "first-secret-1" and found == {"first-secret-1", "second-secret-2"}
    assert not credentials.contains(out, "first-secret-1") and not credentials.contains(out, "second-secret-2")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "windows-1250"])
def test_a_text_file_attachment_carrying_the_password_is_redacted(encoding):
    note = f"Customer: 12345678\r\nPassword: {SECRET}\r\n".encode(encoding)
    raw = mail(f"Customer: 12345678\nPassword: {SECRET}\n", None,
               attachments=((note, "application/octet-stream", "login.txt"),))
    _, _, out = found_and_redacted(raw)
    assert not credentials.contains(out, SECRET)
    assert all(SECRET.encode(e) not in out for e in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"))


def test_password_in_the_subject_is_redacted():
    raw = mail(f"Password: {SECRET}\n", None, subject=f"my password is {SECRET}")
    _, _, out = found_and_redacted(raw)
    assert not credentials.contains(out, SECRET) and "[redacted]" in parse(out, LIMITS).subject


def test_only_first_unquoted_lines_authorise():
    assert credentials.find("> Customer: 1\n> Password: abcdefgh\n") is None
    late = "\n".join(f"l{i}" for i in range(9)) + "\nCustomer: 1\nPassword: abcdefgh\n"
    assert credentials.find(late) is None
    assert credentials.find("Zákazník: 77\nHeslo: tajné heslo\n") == credentials.Credentials("77", "tajné heslo")
    assert credentials.find("Customer ID: 77 Password: x y z") == credentials.Credentials("77", "x y z")


def test_labels_are_not_found_inside_words_or_mid_line():
    assert credentials.passwords_in("My password: was reset yesterday") == set()
    assert credentials.passwords_in("Passwords: none") == set()
    assert credentials.passwords_in("Heslo: abc") == {"abc"}


def test_credentials_never_show_the_password_in_repr():
    assert "abcdefgh" not in repr(credentials.Credentials("1", "abcdefgh"))


@pytest.mark.parametrize("name", CASES)
def test_the_parse_worker_finds_the_same_passwords_from_its_own_parse(name, monkeypatch):
    """The worker scans the message it parsed (a 20 MB mail is never parsed twice); same answer as a reparse."""
    from maildesk.inbound.worker import ParseWorker
    raw = mail(*CASES[name])
    expected = credentials.passwords_in_message(raw, parse(raw, LIMITS).text)
    worker = ParseWorker(Limits(parse_timeout=20))
    try:
        parsed = worker(raw)
    finally:
        worker.close()
    assert expected and parsed.secrets is not None and set(parsed.secrets) == expected
    assert parsed.raw == raw  # the worker does not send the raw bytes back; the daemon puts its own copy in


def test_the_pipeline_redacts_from_the_workers_scan_without_parsing_again(offline, monkeypatch):
    cfg, store, pipeline = offline()

    def no_second_parse(raw, text):
        raise AssertionError("the message was parsed a second time to look for passwords")

    monkeypatch.setattr(credentials, "passwords_in_message", no_second_parse)
    outcome = pipeline.process(mail(*CASES["html split by tags"]))
    assert outcome.replacement is not None and SECRET.encode() not in outcome.replacement


@pytest.mark.parametrize("label", ["Password", "Licence"])
def test_a_big_file_holding_a_secret_is_never_stored_unredacted(make_config, label):
    """The parse worker stores a big mail's files itself, but never those of a mail to be redacted first."""
    from maildesk.act.customers import add_customer
    from maildesk.pipeline import Pipeline
    from maildesk.store import open_store
    cfg = make_config()
    assert cfg.limits.parse_timeout > 0  # the worker's path
    store = open_store(cfg)
    add_customer(store, "12345678", "ACME", ["alice@acme.test"], "en", SECRET)
    secret = SECRET if label == "Password" else "LIC-778899"
    note = (f"{label}: {secret}\r\n" + "log line without secrets\r\n" * 60_000).encode()  # 1.5 MB
    raw = mail(f"Customer: 12345678\nPassword: {SECRET}\n\nLicence: {secret}\n", None,
               attachments=((note, "application/octet-stream", "session.log"),))
    assert len(raw) > 2 << 20
    outcome = Pipeline(cfg, store).process(raw)
    assert outcome.kind.value == "new"
    blobs = stored_blobs(cfg)
    assert len(blobs) == 2  # the raw mail and the file, both stored redacted; no orphan from the worker
    for name, data in blobs.items():
        assert secret.encode() not in data and SECRET.encode() not in data, name
