"""Header values from a mail, made safe: the message key, a strict From, decoded and cleaned text.

The From header is parsed here by hand, strictly, because Python 3.11's
email.utils accepts the parser-confusion forms of CVE-2023-27043 (e.g.
`alice@x.org)<bob@y.org>`). Every value that may go back out in a mail is
stripped of CR, LF, NUL, other control and bidi-override characters.
"""

from __future__ import annotations

import binascii
import email.header
import hashlib
import re
import unicodedata
from typing import Any

from maildesk.inbound import attachments

_ADDR = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_ANGLE_FORM = re.compile(
    rf'^(?P<name>"(?:[^"\\]|\\.)*"|(?:[^"<>@(),;:\\\[\]]|\((?:[^()\\]|\\.)*\))*)\s*<(?P<addr>{_ADDR})>$')
_ENCODED_WORD = re.compile(r"=\?[\w.-]+\?[bqBQ]\?[^?\s]*\?=")
_BARE_FORM = re.compile(rf"^(?P<addr>{_ADDR})(?:\s*\((?P<comment>[^()<>@]*)\))?$")
_QUOTED_LOCAL = re.compile(r'(?<![^\s<])"([A-Za-z0-9!#$%&\'*+/=?^_`{|}~.-]+)"@')


# Fields each delivery adds or rewrites: a message that reaches us twice (two aliases, a second MX, IMAP
# and an MTA pipe at once) differs only in these, and in CRLF vs LF line ends.
_TRACE = re.compile(rb"^(?:received|return-path|delivered-to|x-original-to|envelope-to|x-envelope-[\w-]*|"
                    rb"x-delivered-to|x-spam-[\w-]*|x-virus-[\w-]*|authentication-results|arc-[\w-]*|received-spf|"
                    rb"dkim-filter|x-ms-exchange-organization-[\w-]*|x-rspamd-[\w-]*|x-uid|status|x-status|"
                    rb"x-keywords|content-length|lines)\s*:", re.I)


_BLANK = re.compile(rb"\n\r?\n")  # where the header ends, in either line-end style (as LF text would split)
_CHUNK = 1 << 20


def message_key(raw: bytes) -> str:
    """The identity of a message across deliveries: sha256 of it without trace fields, with LF line ends.

    The body is hashed a MiB at a time: a 20 MB mail costs no copy of itself.
    """
    blank = _BLANK.search(raw)
    head_raw = raw[:blank.start()] if blank else raw
    head = (head_raw[:-1] if blank and head_raw.endswith(b"\r") else head_raw).replace(b"\r\n", b"\n")
    digest = hashlib.sha256()
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):  # a folded continuation belongs to the field above
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(_TRACE.match(line))
        if not dropping:
            kept.append(line)
    digest.update(b"\n".join(kept))
    if blank:
        digest.update(b"\n\n")
        _update_lf(digest, memoryview(raw)[blank.end():])
    return digest.hexdigest()


def _update_lf(digest: Any, body: memoryview) -> None:
    """Hash body with CRLF as LF, a chunk at a time; a CR at a chunk's end waits for the next chunk's LF."""
    carry = b""
    for start in range(0, len(body), _CHUNK):
        chunk = carry + bytes(body[start:start + _CHUNK])
        carry = b"\r" if chunk.endswith(b"\r") else b""
        digest.update((chunk[:-1] if carry else chunk).replace(b"\r\n", b"\n"))
    digest.update(carry)


# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F, Cs is U+D800-U+DFFF: one class, searched
# in C, instead of a category lookup per character (a test checks it against unicodedata for every code point).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(attachments.BIDI_CONTROLS)) + "]")
_SPACES = re.compile(r"\s+")


def clean_header(value: str | None, limit: int = 998) -> str:
    """A header value safe to copy into outgoing mail: no CR/LF/NUL, controls or bidi overrides."""
    if not value:
        return ""
    return _SPACES.sub(" ", _UNSAFE.sub(" ", str(value))).strip()[:limit]


FALLBACK_CHARSETS = ("utf-8", "windows-1250")  # what undeclared or lying 8-bit text here usually is


def text_of_bytes(data: bytes, declared: str | None = None) -> str:
    """Bytes as text: the declared charset if it fits, else UTF-8, else windows-1250 (which takes any byte)."""
    if declared and declared.lower().replace("_", "-") in ("iso-8859-2", "latin2", "iso8859-2") \
            and re.search(rb"[\x80-\x9f]", data):
        declared = "windows-1250"  # C1 bytes are never iso-8859-2 text: Outlook's windows-1250 under that label
    for cs in (declared, *FALLBACK_CHARSETS):
        if not cs or cs.lower() in ("unknown-8bit", "x-unknown", "8bit"):
            continue
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError, ValueError):  # ValueError: a charset name with NUL
            continue
    return data.decode("windows-1250", errors="replace")


def header_text(value: object) -> str:
    """A header value as text; raw 8-bit bytes decoded sensibly, encoded words left for decode_rfc2047."""
    if isinstance(value, email.header.Header):
        try:
            return "".join(text_of_bytes(p, cs) if isinstance(p, bytes) else p
                           for p, cs in email.header.decode_header(value))
        except (LookupError, ValueError, email.errors.HeaderParseError):
            return str(value)
    return "" if value is None else str(value)


def decode_rfc2047(value: object) -> str:
    """Decode encoded-words; an unknown or lying charset falls back like body text does."""
    if not value:
        return ""
    text = header_text(value)
    try:
        parts = email.header.decode_header(text)
    except (LookupError, ValueError, binascii.Error, email.errors.HeaderParseError):
        return text
    return "".join(text_of_bytes(p, cs) if isinstance(p, bytes) else p for p, cs in parts)


def strict_from(values: list[str] | None) -> tuple[str, str] | None:
    """(address, display name) when there is exactly one unambiguous From address, else None."""
    if not values or len(values) != 1:
        return None
    raw = str(values[0])
    if any(unicodedata.category(c) == "Cc" and c not in "\r\n\t" for c in raw):
        return None
    value = re.sub(r"\r?\n[ \t]+", " ", raw).strip()
    if "\r" in value or "\n" in value:
        return None
    value = _QUOTED_LOCAL.sub(r"\1@", value)  # "alice"@acme.test is alice@acme.test
    # RFC 5322 comments and RFC 2047 encoded words are atoms of the display name: take them out
    # before matching, so "=?iso-8859-1?Q?B=FCrling,=20A.?= <a@x>" is not read as a list.
    words: list[str] = []

    def hide(w: re.Match[str]) -> str:
        words.append(w.group(0))
        return f"\x00{len(words) - 1}\x00"

    def restore(text: str) -> str:
        return re.sub(r"\x00(\d+)\x00", lambda i: words[int(i.group(1))], text)

    value = _ENCODED_WORD.sub(hide, value)
    value = re.sub(r"\s*\((?:[^()\\]|\\.){0,200}\)\s*$", "", value).strip()  # a trailing comment
    m = _ANGLE_FORM.match(value)
    if m and "\x00" in m.group("addr"):
        return None
    if m:
        name = restore(re.sub(r"\((?:[^()\\]|\\.)*\)", " ", m.group("name"))).strip()
        if name.startswith('"'):
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        return m.group("addr").lower(), clean_header(decode_rfc2047(name), 200)
    m = _BARE_FORM.match(value)
    if m:
        return m.group("addr").lower(), clean_header(m.group("comment") or "", 200)
    return None
