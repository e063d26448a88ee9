"""Outgoing mail written directly: it must read exactly like the EmailMessage it replaces, in every client."""

from __future__ import annotations

import base64
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


@pytest.mark.parametrize("subject", [
    "ř", "😀" * 40, "a😀" * 30, "Žádost – " * 30, "x" * 70 + "é", "日本語のテキスト" * 12, "é" * 23 + "😀" + "é" * 40,
])
def test_encoded_subject_words_hold_whole_characters_and_fit_their_lines(offline_cfg, subject):
    """RFC 2047: each encoded word at most 75 characters and made of whole characters; lines within 78."""
    out = build(offline_cfg, kind="confirmation", rcpt="alice@acme.test", subject=subject, body="x\n", ticket=1)
    msg = email.message_from_bytes(out.raw, policy=email.policy.default)
    assert msg["Subject"] == subject.strip()
    head = out.raw.partition(b"\r\n\r\n")[0].decode("ascii")
    folded = head.split("\r\nSubject: ", 1)[1].split("\r\n")
    lines = ["Subject: " + folded[0]] + [line for line in folded[1:] if line.startswith(" ")]
    for line in lines:
        assert len(line) <= 78, line
        word = line.split()[-1]
        assert len(word) <= 75 and word.startswith("=?utf-8?b?") and word.endswith("?=")
        base64.b64decode(word[10:-2]).decode("utf-8")  # a word cut inside a character does not decode alone


def test_an_address_with_utf8_goes_through_the_email_package(offline_cfg):
    out = build(offline_cfg, kind="confirmation", rcpt="jiří@firma.test", subject="Ahoj", body="x\n", ticket=1,
                from_name="Podpora s.r.o., oddělení účtů")
    msg = email.message_from_bytes(out.raw, policy=email.policy.default)
    assert msg["Subject"] == "Ahoj" and msg.get_content().splitlines() == ["x"]
    (sender,) = msg["From"].addresses
    assert sender.display_name == "Podpora s.r.o., oddělení účtů"


FILES = {  # name, content type, bytes: what a customer's mail may carry
    "plain.pdf": ("application/pdf", b"%PDF-1.4 " + bytes(range(256)) * 300),
    'say "hi" \\ back.txt': ("text/plain", b"hello\r\n.\r\n.leading dot\r\n"),
    "výpis účtu – říjen.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04x"),
    "evil\r\nBcc: x@evil.test.png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "odd-type.bin": ("text/plain\r\nX-Injected: 1", b"\x00\x01"),
    "": ("application/octet-stream", b""),
}


def test_attach_writes_what_email_package_reads_back_byte_for_byte(offline, tmp_path):
    from maildesk.models import Attachment
    from maildesk.outbound.message import attach, refs
    from maildesk.store.blobs import BlobStore
    cfg = offline()[0]
    blobs = BlobStore(tmp_path / "blobs")
    atts = tuple(Attachment(name, ctype, data, blobs.put(data)) for name, (ctype, data) in FILES.items())
    out = build(cfg, kind="new_ticket", rcpt="jana@example.test", subject="Nový požadavek [EX #7]",
                body="Dobrý den,\n.\nnový požadavek.\n", ticket=7, attachments=atts)
    sent = attach(out.raw, refs(atts), blobs)
    assert b"\r\n" in sent and b"\n" not in sent.replace(b"\r\n", b"")  # CRLF only, ready for SMTP
    msg = email.message_from_bytes(sent, policy=email.policy.default)
    assert not msg.defects and msg.get_content_type() == "multipart/mixed"
    assert msg["Subject"] == "Nový požadavek [EX #7]" and msg["Message-ID"] == f"<{out.message_id}>"
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    text, *parts = msg.iter_parts()
    assert text.get_content() == email.message_from_bytes(out.raw, policy=email.policy.default).get_content()
    assert text.get_content().replace("\r\n", "\n") == "Dobrý den,\n.\nnový požadavek.\n"
    assert len(parts) == len(FILES)
    for part, (name, (ctype, data)) in zip(parts, FILES.items(), strict=True):
        assert part.get_content_disposition() == "attachment" and not part.defects
        assert part.get_payload(decode=True) == data
        assert part.get_filename() == (clean_header(name, 255) or "attachment")
        assert part.get_content_type() == (ctype if "\n" not in ctype else "application/octet-stream")
        assert all(v is None or "\n" not in v for v in part.values())


def test_attach_streams_a_big_file_from_the_blob_store(offline, tmp_path):
    from maildesk.models import Attachment
    from maildesk.outbound.message import attach, refs
    from maildesk.store.blobs import BlobStore
    cfg = offline()[0]
    blobs = BlobStore(tmp_path / "blobs")
    data = bytes(range(256)) * (3 * 57 * 1024 // 256 + 7)  # blocks of 57 KiB and a ragged end
    att = Attachment("big.bin", "application/octet-stream", data, blobs.put(data))
    out = build(cfg, kind="new_ticket", rcpt="jana@example.test", subject="x", body="y\n", ticket=1)
    msg = email.message_from_bytes(attach(out.raw, refs((att,)), blobs), policy=email.policy.default)
    [_, part] = msg.iter_parts()
    assert part.get_payload(decode=True) == data
    assert all(len(line) <= 76 for line in part.get_payload().splitlines())
