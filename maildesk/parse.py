"""Parse stage: raw bytes -> ParsedMail, with strict From and clean header values.

mail-parser does the MIME walking and charset decoding. The From header is
parsed here by hand, strictly, because Python 3.11's email.utils accepts the
parser-confusion forms of CVE-2023-27043 (e.g. `alice@x.org)<bob@y.org>`).
"""

from __future__ import annotations

import base64
import binascii
import email.header
import email.utils
import hashlib
import html
import logging
import re
import unicodedata
from datetime import datetime, timezone

import mailparser
import nh3

from .models import Attachment, ParsedMail, Reason

log = logging.getLogger("maildesk.parse")

_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_ADDR = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_ANGLE_FORM = re.compile(rf'^(?P<name>"(?:[^"\\]|\\.)*"|[^"<>@(),;:\\\[\]]*)\s*<(?P<addr>{_ADDR})>$')
_BARE_FORM = re.compile(rf"^(?P<addr>{_ADDR})(?:\s*\((?P<comment>[^()<>@]*)\))?$")
_MSGID = re.compile(r"<([^<>\s]{1,250})>")


def clean_header(value: str | None, limit: int = 998) -> str:
    """A header value safe to copy into outgoing mail: no CR/LF/NUL, controls or bidi overrides."""
    if not value:
        return ""
    out = []
    for ch in str(value):
        if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(" ")
        else:
            out.append(ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()[:limit]


def decode_rfc2047(value: str | None) -> str:
    """Decode encoded-words; undecodable pieces are kept with replacement characters."""
    if not value:
        return ""
    try:
        parts = email.header.decode_header(str(value))
        return "".join(
            p.decode(cs or "ascii", errors="replace") if isinstance(p, bytes) else p for p, cs in parts
        )
    except (LookupError, ValueError, binascii.Error):
        return str(value)


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
    m = _ANGLE_FORM.match(value)
    if m:
        name = m.group("name").strip()
        if name.startswith('"'):
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
        return m.group("addr").lower(), clean_header(decode_rfc2047(name), 200)
    m = _BARE_FORM.match(value)
    if m:
        return m.group("addr").lower(), clean_header(m.group("comment") or "", 200)
    return None


def html_to_text(markup: str) -> str:
    """Readable plain text from HTML, keeping paragraph and line breaks."""
    markup = re.sub(r"(?is)<(br|/p|/div|/tr|/li|/h[1-6]|/blockquote)\b[^>]*>", "\n", markup)
    markup = re.sub(r"(?is)<li\b[^>]*>", "\n- ", markup)
    text = html.unescape(nh3.clean(markup, tags=set()))
    lines = [ln.rstrip() for ln in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def safe_display_name(name: str, fallback: str) -> str:
    """A client file name reduced to display data: no separators, controls or bidi tricks."""
    name = clean_header(decode_rfc2047(name), 400)
    name = name.replace("/", "_").replace("\\", "_").replace("\x00", "")
    name = name.lstrip(". ") or fallback
    stem, dot, ext = name.rpartition(".")
    if len(name) > 120:
        name = (stem[: 110 - len(ext)] + "." + ext) if dot and len(ext) <= 10 else name[:120]
    return name


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_MSGID.findall(clean_header(value, 100_000))))


def _date(value: str | None) -> str:
    try:
        d = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        d = None
    if d is None:
        d = datetime.now(timezone.utc)
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.astimezone(timezone.utc).isoformat(timespec="seconds")


def _addresses(values: list[str] | None) -> tuple[str, ...]:
    pairs = email.utils.getaddresses([clean_header(v) for v in values or []])
    return tuple(dict.fromkeys(a.lower() for _, a in pairs if "@" in a))


def _attachments(parser: mailparser.MailParser) -> tuple[Attachment, ...]:
    out = []
    for i, att in enumerate(parser.attachments, 1):
        payload = att.get("payload") or ""
        if att.get("binary"):
            try:
                data = base64.b64decode(payload)
            except (binascii.Error, ValueError):
                data = payload.encode("utf-8", "surrogateescape")
        else:
            data = payload.encode("utf-8", "surrogateescape")
        name = safe_display_name(att.get("filename") or "", f"attachment-{i}")
        ctype = clean_header(att.get("mail_content_type") or "application/octet-stream", 100)
        out.append(Attachment(name, ctype, data, hashlib.sha256(data).hexdigest()))
    return tuple(out)


def parse(raw: bytes) -> ParsedMail:
    """Parse one raw message; a mail that cannot become a ticket carries a `defect` reason."""
    key = hashlib.sha256(raw).hexdigest()
    try:
        parser = mailparser.parse_from_bytes(raw)
        msg = parser.message
    except Exception as exc:  # mail-parser raises many types on hostile input
        log.warning("%s unparseable: %s", key[:16], exc.__class__.__name__)
        return ParsedMail(key, raw, "", "", "", (), (), "", "", (), _date(None), "", defect=Reason.UNPARSEABLE.value)
    get = lambda name: msg.get(name)  # noqa: E731
    msgid = _ids(get("Message-ID"))
    sender = strict_from(msg.get_all("From"))
    text = "\n".join(parser.text_plain).strip()
    if not text and parser.text_html:
        text = html_to_text("\n".join(parser.text_html))
    headers = {
        k.lower(): clean_header(decode_rfc2047(get(k)))
        for k in ("Auto-Submitted", "Precedence", "List-Id", "Return-Path", "X-Autoreply",
                  "X-Auto-Response-Suppress", "X-Loop", "X-Maildesk-Loop", "Content-Type")
        if get(k) is not None
    }
    return ParsedMail(
        key=key,
        raw=raw,
        message_id=msgid[0] if msgid else "",
        from_addr=sender[0] if sender else "",
        from_name=sender[1] if sender else "",
        to=_addresses(msg.get_all("To")),
        cc=_addresses(msg.get_all("Cc")),
        subject=clean_header(decode_rfc2047(get("Subject")), 500),
        in_reply_to=(_ids(get("In-Reply-To")) or ("",))[0],
        references=_ids(get("References")),
        date=_date(get("Date")),
        text=text.replace("\r\n", "\n").replace("\x00", ""),
        attachments=_attachments(parser),
        headers=headers,
        auth_results=tuple(clean_header(v, 4000) for v in msg.get_all("Authentication-Results") or []),
        defect="" if sender else Reason.BAD_FROM.value,
    )
