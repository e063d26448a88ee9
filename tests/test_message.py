"""Outgoing mail written directly: it must read exactly like the EmailMessage it replaces, in every client."""

from __future__ import annotations

import email
import email.policy
import email.utils
from email.message import EmailMessage

import pytest

from maildesk.inbound.headers import clean_header
from maildesk.outbound.message import POLICY, build


def reference(cfg, *, subject: str, body: str, from_name: str, references: tuple[str, ...], rcpt: str) -> bytes:
    """What build() wrote before: the same headers through EmailMessage and set_content."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = email.utils.formataddr((clean_header(from_name), cfg.helpdesk.address))
    msg["To"] = clean_header(rcpt)
    msg["Subject"] = clean_header(subject)
    msg["References"] = clean_header(" ".join(f"<{r}>" for r in references))
    msg.set_content(body, charset="utf-8")
    return msg.as_bytes()


LONG_LINE = "Výpis: " + "chyba E42 v modulu tisku; " * 20
CASES = {
    "ascii": ("Printer on fire", "Hello,\n\nthe printer is on fire.\n", "Example Support"),
    "czech": ("Tiskárna nefunguje – prosím o pomoc", "Dobrý den,\n\nděkujeme, řešíme to.\n", "Jana Nováková"),
    "long czech subject": ("Žádost o úpravu " * 20, "Dobrý den.\n", "Podpora s.r.o., oddělení účtů"),
    "long ascii subject": ("Request about the invoice " * 12, "Body.\n", "Support"),
    "long body line": ("Logs", LONG_LINE + "\nkonec\n", "Support"),
    "quotes in name": ("x", "y\n", 'ACME "Support", Ltd.'),
    "empty lines": ("x", "\n\n\na\n\n", "Support"),
    "literal encoded word": ("=?utf-8?q?fake?= stays literal text", "y\n", "Support"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_built_mail_reads_like_the_email_package_would_write_it(offline_cfg, case):
    subject, body, name = CASES[case]
    references = tuple(f"thread-{i}.{'x' * 30}@acme.test" for i in range(40))
    out = build(offline_cfg, kind="confirmation", rcpt="alice@acme.test", subject=subject, body=body, ticket=7,
                references=references, from_name=name, language="cs")
    ref = reference(offline_cfg, subject=subject, body=body, from_name=name, references=references,
                    rcpt="alice@acme.test")
    ours, theirs = (email.message_from_bytes(b, policy=email.policy.default) for b in (out.raw, ref))
    for header in ("To", "Subject", "References"):
        assert str(ours[header]) == str(theirs[header]), header
    (sender,) = ours["From"].addresses  # one address, whatever the name holds (EmailMessage split
    assert (sender.display_name, sender.addr_spec) == (name, "helpdesk@example.test")  # "s.r.o., ..." in two)
    assert ours.get_content() == theirs.get_content()
    assert ours.get_content_type() == "text/plain" and ours.get_content_charset() == "utf-8"
    assert ours["Message-ID"] == f"<{out.message_id}>" and ours["Auto-Submitted"] == "auto-replied"
    head, _, payload = out.raw.partition(b"\r\n\r\n")
    assert head.isascii() and b"\n" not in out.raw.replace(b"\r\n", b"")  # CRLF only, no bare LF or CR
    assert max(len(line) for line in out.raw.split(b"\r\n")) <= 998


def test_header_injection_and_controls_never_reach_the_wire(offline_cfg):
    out = build(offline_cfg, kind="confirmation", rcpt="alice@acme.test\r\nBcc: evil@x.test",
                subject="Hi\r\nBcc: evil@x.test\x00\x1b[2J", body="x\n", ticket=1, in_reply_to="a@b\r\nX-Evil: 1",
                from_name="Eve\nBcc: evil@x.test")
    msg = email.message_from_bytes(out.raw, policy=email.policy.default)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert b"\x00" not in out.raw and b"\x1b" not in out.raw


def test_an_address_with_utf8_goes_through_the_email_package(offline_cfg):
    out = build(offline_cfg, kind="confirmation", rcpt="jiří@firma.test", subject="Ahoj", body="x\n", ticket=1,
                from_name="Podpora s.r.o., oddělení účtů")
    msg = email.message_from_bytes(out.raw, policy=email.policy.default)
    assert msg["Subject"] == "Ahoj" and msg.get_content().splitlines() == ["x"]
    (sender,) = msg["From"].addresses
    assert sender.display_name == "Podpora s.r.o., oddělení účtů"
