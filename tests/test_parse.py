"""Parse stage on small fixtures: headers, bodies, attachments, strict From."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import sys
import unicodedata

import pytest
from conftest import eml

from maildesk.inbound.attachments import BIDI_CONTROLS
from maildesk.inbound.headers import clean_header, strict_from
from maildesk.inbound.parse import parse


def test_encoded_subject_and_rfc2231_attachment_name():
    mail = parse(eml("czech_rfc2231"))
    assert mail.subject == "Nefunguje tiskárna – chyba E-42"
    assert mail.from_addr == "jan.novak@acme.test" and mail.from_name == "Jan Novák"
    [att] = mail.attachments
    assert att.filename == "snímek obrazovky.png"
    assert att.content_type == "image/png"
    assert att.sha256 == hashlib.sha256(att.data).hexdigest() and att.data.startswith(b"\x89PNG")
    assert "Tiskárna hlásí" in mail.text
    assert mail.references == ("a@acme.test", "b@acme.test") and mail.in_reply_to == "b@acme.test"


def test_html_only_mail_becomes_text():
    mail = parse(eml("html_only"))
    assert "Hello team," in mail.text and "Line two" in mail.text
    assert "<p>" not in mail.text and "alert" not in mail.text
    assert "Tom & Jerry" in mail.text


def test_inline_image_is_an_attachment():
    mail = parse(eml("inline_image"))
    assert len(mail.attachments) == 1 and mail.attachments[0].content_type == "image/png"
    assert "see the picture" in mail.text


def test_path_in_attachment_name_is_display_data_only():
    mail = parse(eml("traversal_name"))
    [att] = mail.attachments
    assert "/" not in att.filename and "\\" not in att.filename and not att.filename.startswith(".")


def test_crlf_in_encoded_subject_is_removed():
    mail = parse(eml("crlf_subject"))
    assert "\r" not in mail.subject and "\n" not in mail.subject
    assert mail.subject == "Hello Bcc: victim@example.org"


@pytest.mark.parametrize("value, expected", [
    ("alice@example.org", ("alice@example.org", "")),
    ("Alice <Alice@Example.org>", ("alice@example.org", "Alice")),
    ('"Doe, John" <john@example.org>', ("john@example.org", "Doe, John")),
    ('"bob@evil.test" <alice@example.org>', ("alice@example.org", "bob@evil.test")),
    ("=?utf-8?q?Jan_Nov=C3=A1k?= <jan@example.org>", ("jan@example.org", "Jan Novák")),
])
def test_strict_from_accepts_plain_forms(value, expected):
    assert strict_from([value]) == expected


@pytest.mark.parametrize("value", [
    "alice@example.org)<bob@example.org>",  # CVE-2023-27043 confusion
    "alice@example.org, bob@example.org",
    "Alice <alice@example.org> <bob@example.org>",
    "alice@example.org <bob@example.org>",
    "<alice@example.org>\r\nBcc: x@y.org",
    "alice\x00@example.org",
    "",
    "not an address",
])
def test_strict_from_rejects_ambiguous_forms(value):
    assert strict_from([value]) is None


def test_two_from_headers_are_bad_from():
    mail = parse(eml("two_froms"))
    assert mail.defect == "bad-from" and mail.from_addr == ""


def test_clean_header_strips_controls_and_bidi():
    assert clean_header("a\r\nb\x00c\u202ed\te") == "a b c d e"


def test_clean_header_blanks_exactly_controls_surrogates_and_bidi_of_every_code_point():
    """The one-class rewrite against the rule it replaced: a category lookup per character."""
    def by_category(value: str) -> str:
        out = "".join(" " if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in value)
        return re.sub(r"\s+", " ", out).strip()
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    for start in range(0, len(every), 4096):
        chunk = "x" + every[start:start + 4096] + "x"
        assert clean_header(chunk, limit=10_000) == by_category(chunk), hex(start)


@pytest.mark.parametrize("value, expected", [
    ("=?iso-8859-1?Q?B=FCrling,=20Andreas?= <smith@example.com>", ("smith@example.com", "Bürling, Andreas")),
    ("MAILER-DAEMON (Mail Delivery System) <postmaster@example.com>", ("postmaster@example.com", "MAILER-DAEMON")),
    ("<mailer-daemon@mail.example.com> (Mail Delivery System)", ("mailer-daemon@mail.example.com", "")),
])
def test_strict_from_reads_encoded_words_and_comments_as_atoms(value, expected):
    assert strict_from([value]) == expected


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "_.._etc_passwd"),
    ("CON.txt", "_CON.txt"),
    ("invoice\u202etxt.exe", "invoicetxt.exe"),
    ("\x00\x01", "part-1"),
    (".hidden", "hidden"),
    ("a" * 300 + ".pdf", "a" * 116 + ".pdf"),
    ("", "part-2.\\tml"),
])
def test_attachment_display_names(name, expected):
    from maildesk.inbound.attachments import display_name
    got = display_name(name, "part-1" if name else "part-2.\\tml")
    assert got == (expected if expected != "part-2.\\tml" else "part-2._tml")


@pytest.mark.parametrize("declared", ["utf-8", "x-unknown", "us-ascii", None, "iso-8859-2", "windows-1250"])
def test_lying_or_missing_charsets_fall_back_to_windows_1250(declared):
    body = "Žluťoučký kůň úpěl ďábelské ódy".encode("windows-1250")
    ctype = f"text/plain; charset={declared}" if declared else "text/plain"
    raw = f"From: a@b.cz\r\nSubject: t\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".encode()
    assert parse(raw + body + b"\r\n").text == "Žluťoučký kůň úpěl ďábelské ódy"


def test_eight_bit_and_unknown_charset_headers():
    raw = "From: Jan Novák <a@b.cz>\r\nSubject: Příloha\r\n\r\nx\r\n".encode("windows-1250")
    mail = parse(raw)
    assert (mail.from_name, mail.subject, mail.from_addr) == ("Jan Novák", "Příloha", "a@b.cz")
    raw = b"From: =?x-unknown?q?Jan_Nov=E1k?= <a@b.cz>\r\nSubject: =?unknown-8bit?q?P=F8=EDloha?=\r\n\r\nx\r\n"
    mail = parse(raw)
    assert (mail.from_name, mail.subject) == ("Jan Novák", "Příloha")


def _key_as_released(raw: bytes) -> str:
    """message_key as every earlier release computed it (whole-message copies): stored keys must not change."""
    from maildesk.inbound.headers import _TRACE as trace
    text = raw.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    kept, dropping = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(trace.match(line))
        if not dropping:
            kept.append(line)
    return hashlib.sha256(b"\n".join(kept) + sep + body).hexdigest()


def test_message_key_hashed_in_chunks_equals_the_released_key(monkeypatch):
    import random

    from maildesk.inbound import headers
    monkeypatch.setattr(headers, "_CHUNK", 7)  # chunk ends fall between CR and LF, inside blank lines...
    rnd = random.Random(5)
    samples = [eml("new_request", n=1), eml("new_request", n=1).replace(b"\r\n", b"\n"), b"", b"\r", b"\n\n",
               b"A: b\r\n\r\nbody", b"A: b\r\r\n\r\nx\r", b"Received: x\r\n y\r\nA: b\n\r\n\r\r\n"]
    samples += [bytes(rnd.choice(b"\r\n\r\nAa: \t") for _ in range(rnd.randint(0, 60))) for _ in range(3000)]
    for raw in samples:
        assert headers.message_key(raw) == _key_as_released(raw), raw


def _big_cases() -> dict[str, bytes]:
    """Mails with base64 bodies over aside.MIN_RUN, in every place such a body can be."""
    import base64
    import random
    from email.message import EmailMessage
    rnd = random.Random(3)
    blob, blob2 = rnd.randbytes(900_000), rnd.randbytes(1_200_000)

    def msg(text: str = "Hello,\nthe backup is attached.\n") -> EmailMessage:
        m = EmailMessage()
        m["From"], m["To"], m["Subject"], m["Message-ID"] = "alice@acme.test", "helpdesk@example.test", "Big", "<b@x>"
        m["Date"] = "Mon, 16 Nov 2026 09:00:00 +0100"
        m.set_content(text)
        return m

    two = msg()
    two.add_attachment(blob, maintype="application", subtype="octet-stream", filename="záloha.bak")
    two.add_attachment(blob2, maintype="image", subtype="png", filename="screen.png")
    pasted = msg("Here is the dump:\n" + base64.encodebytes(blob2).decode() + "thanks\n")
    as_text = msg()
    as_text.add_attachment(base64.encodebytes(blob2).decode() * 2, filename="log.txt", cte="base64")
    nameless = msg()
    nameless.add_attachment(blob2, maintype="application", subtype="zip")
    del nameless.get_payload()[1]["Content-Disposition"]
    nested = EmailMessage()
    nested["From"], nested["Subject"], nested["Date"] = "alice@acme.test", "Fwd", "Mon, 16 Nov 2026 09:00:00 +0100"
    nested.set_content("see below\n")
    nested.add_attachment(two)
    crlf = two.as_bytes(policy=two.policy.clone(linesep="\r\n"))
    middle = crlf.index(base64.encodebytes(blob2)[:76].replace(b"\n", b"")) + 600_000
    middle = crlf.index(b"\r\n", middle) + 2
    gap = crlf[:middle] + b"\r\n" + crlf[middle:]  # a blank line inside a base64 body: two runs, one part
    return {"blank line inside a base64 body": gap, "two attachments, LF": two.as_bytes(),
            "two attachments, CRLF": crlf, "base64 pasted into text": pasted.as_bytes(),
            "base64 text attachment": as_text.as_bytes(), "part without a name": nameless.as_bytes(),
            "forwarded mail": nested.as_bytes()}


@pytest.mark.parametrize("case", list(_big_cases()))
def test_big_bodies_set_aside_parse_exactly_like_the_whole_mail(case):
    from maildesk.config import Limits
    from maildesk.inbound.headers import message_key
    from maildesk.inbound.parse import _parse
    raw = _big_cases()[case]
    lean, whole = (_parse(message_key(raw), raw, Limits(), None, lean=flag) for flag in (True, False))
    unnamed = [(a.filename, a.content_type) for a in whole.attachments if a.content_type == "message/rfc822"]
    if unnamed:  # mail-parser names a forwarded mail at random ("snqdnkbfjq.txt"): only the name may differ
        lean = dataclasses.replace(lean, attachments=tuple(
            dataclasses.replace(a, filename=whole.attachments[i].filename) for i, a in enumerate(lean.attachments)))
    assert lean == whole  # every field: text, html, attachments' bytes, names and types, defects


def test_a_big_attachment_set_aside_takes_far_less_memory():
    import tracemalloc

    from maildesk.config import Limits
    from maildesk.inbound.headers import message_key
    from maildesk.inbound.parse import _parse
    raw = _big_cases()["two attachments, CRLF"]
    peaks = []
    tracemalloc.start()
    try:
        for lean in (True, False):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            _parse(message_key(raw), raw, Limits(), None, lean=lean)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
    assert peaks[0] < peaks[1] / 2, peaks
    files = 900_000 + 1_200_000
    assert peaks[0] < 1.25 * files, peaks  # the decoded files and little else (a repeated regex group: 2.5x)


def test_a_mail_with_a_blank_line_after_every_line_is_read_once_not_once_a_line():
    """Base64 characters with a blank line after each: the run search stays between two blank lines.

    Reading on to the end of the mail from every line was quadratic: this 4 MB mail would have
    run into the test's timeout; it takes a fraction of a second."""
    from maildesk.inbound import aside
    body = (b"QUJD" * 19 + b"\r\n\r\n") * 50_000
    raw = b"From: alice@acme.test\r\nSubject: x\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body
    windows: list[int] = []
    real = aside._RUN

    class Spy:
        def finditer(self, text, pos, endpos):
            windows.append(endpos - pos)
            return real.finditer(text, pos, endpos)

    aside._RUN = Spy()  # type: ignore[assignment]
    try:
        lean = aside.set_aside(raw)
    finally:
        aside._RUN = real
    assert lean.runs == {} and max(windows) <= 80  # each search sees one line, never the rest of the mail
