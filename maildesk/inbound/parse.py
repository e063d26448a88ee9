"""Parse stage: raw bytes -> ParsedMail, with strict From and clean header values (inbound.headers).

mail-parser does the MIME walking and charset decoding; the limits
(limits.*) turn a hostile structure into a defect with a reason code
instead of a hang. inbound.worker runs this in a separate process.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email.errors
import email.header
import email.utils
import html
import logging
import re
from collections.abc import Callable
from datetime import UTC
from email.message import Message
from typing import Any

import mailparser
import nh3

from maildesk import clock, crash
from maildesk.config import Limits
from maildesk.inbound import attachments
from maildesk.inbound.aside import SetAside, set_aside
from maildesk.inbound.headers import (
    clean_header,
    decode_rfc2047,
    header_text,
    message_key,
    strict_from,
    text_of_bytes,
)
from maildesk.models import Attachment, ParsedMail, Reason

DEFAULT_LIMITS = Limits()
_BODY_TYPES = {"text/plain", "text/html"}

_MSGID = re.compile(r"<([^<>\s]{1,250})>")

log = logging.getLogger("maildesk.parse")
logging.getLogger("mailparser").setLevel(logging.INFO)  # its DEBUG log quotes headers and parts of mails

MAX_HTML_DEPTH = 256  # deeper nesting is never a real mail; nh3 (html5ever) takes quadratic time on it
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^<>]*?(/?)>")
VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"})


def html_depth(markup: str, stop: int = MAX_HTML_DEPTH) -> int:
    """How deep the tags nest (a linear scan that gives up once `stop` is passed)."""
    depth = deepest = 0
    for m in _TAG.finditer(markup):
        closing, name, selfclosing = m.group(1), m.group(2).lower(), m.group(3)
        if name in VOID_TAGS or selfclosing:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        deepest = max(deepest, depth)
        if deepest > stop:
            break
    return deepest


def html_to_text(markup: str) -> str:
    """The text a reader of the HTML sees, keeping paragraph and line breaks.

    White space in the source is collapsed as a browser does, so a password
    wrapped over two source lines reads as one line here too. Absurdly deep
    nesting is stripped by a linear regex instead of nh3.
    """
    markup = re.sub(r"(?is)<(script|style|head|title)\b.*?</\1\s*>", " ", markup)
    markup = re.sub(r"\s+", " ", markup)
    markup = re.sub(r"(?is)<(br|/p|/div|/tr|/li|/h[1-6]|/blockquote)\b[^>]*>", "\n", markup)
    markup = re.sub(r"(?is)<li\b[^>]*>", "\n- ", markup)
    if html_depth(markup) > MAX_HTML_DEPTH:
        stripped = re.sub(r"(?s)<!--.*?-->|<[^<>]*>", "", markup)
    else:
        stripped = nh3.clean(markup, tags=set())
    text = html.unescape(stripped)
    lines = [ln.strip(" ") for ln in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_MSGID.findall(clean_header(value, 100_000))))


def _date(value: object) -> str:
    try:
        d = email.utils.parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError, IndexError, OverflowError):
        d = None
    if d is None:
        d = clock.now()
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.astimezone(UTC).isoformat(timespec="seconds")


def _addresses(values: list[str] | None) -> tuple[str, ...]:
    pairs = email.utils.getaddresses([clean_header(v) for v in values or []])
    return tuple(dict.fromkeys(a.lower() for _, a in pairs if "@" in a))


def _depth(part: Message, level: int = 1) -> int:
    if not part.is_multipart():
        return level
    payload = part.get_payload()
    return max([_depth(p, level + 1) for p in payload if isinstance(p, Message)] or [level])


def _attachments(parser: mailparser.MailParser, aside: SetAside) -> list[Attachment]:
    """Every attachment mail-parser found, plus leaf parts it left out (no name, not body text)."""
    out = []
    for i, att in enumerate(parser.attachments, 1):
        payload, binary = att.get("payload") or "", att.get("binary")
        data = aside.data(payload) if binary else None  # a body set aside: decoded from the raw bytes
        if data is None:
            try:
                data = base64.b64decode(payload) if binary else payload.encode("utf-8", "surrogateescape")
            except (binascii.Error, ValueError):
                data = payload.encode("utf-8", "surrogateescape")
        out.append(attachments.make(data, decode_rfc2047(att.get("filename") or ""),
                                    clean_header(att.get("mail_content_type") or "", 100), f"attachment-{i}"))
    for i, part in enumerate(parser.message.walk(), 1):
        ctype = part.get_content_type()
        if part.is_multipart() or part.get_filename() or part.get("Content-ID") or ctype in _BODY_TYPES \
                or part.get_content_disposition() == "attachment" or part.get_content_subtype() == "rtf":
            continue
        base64_body = part.get("Content-Transfer-Encoding", "").strip().lower() == "base64"
        kept = aside.data(part.get_payload()) if base64_body else None
        data = kept if kept is not None else part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            out.append(attachments.make(data, "", ctype, f"part-{i}.{part.get_content_subtype()[:10]}"))
    unpacked = [inner for att in out if attachments.is_tnef(att) for inner in attachments.unpack_tnef(att)]
    return out + unpacked


def _body_text(msg: Message) -> str:
    """The body from the text parts, each decoded with the charset fallbacks of text_of_bytes."""
    plain, html_parts = [], []
    for part in msg.walk():
        if part.is_multipart() or part.get_filename() or part.get_content_disposition() == "attachment":
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        try:
            charset = part.get_content_charset()
        except (LookupError, ValueError):
            charset = None
        if part.get_content_type() == "text/plain":
            plain.append(text_of_bytes(data, charset))
        elif part.get_content_type() == "text/html":
            html_parts.append(text_of_bytes(data, charset))
    if plain:
        return "\n".join(plain).strip()
    return html_to_text("\n".join(html_parts)) if html_parts else ""


def _check_limits(parser: mailparser.MailParser, atts: list[Attachment], limits: Limits) -> str:
    """A Reason code when the structure is beyond the configured limits, else ''."""
    if _depth(parser.message) > limits.max_mime_depth:
        return Reason.TOO_DEEP.value
    if sum(1 for _ in parser.message.walk()) > limits.max_parts:
        return Reason.TOO_MANY_PARTS.value
    if len(atts) > limits.max_attachments:
        return Reason.TOO_MANY_ATTACHMENTS.value
    if sum(a.size for a in atts) > limits.max_attachment_bytes:
        return Reason.ATTACHMENTS_TOO_LARGE.value
    return ""


Scan = Callable[[Message, str], set[str]]


def parse(raw: bytes, limits: Limits = DEFAULT_LIMITS, scan: Scan | None = None) -> ParsedMail:
    """Parse one raw message; never raises: a mail that cannot become a ticket carries a `defect` reason.

    `scan` looks at the parsed message and its text for secrets (credentials.passwords_in_parts);
    its answer is `secrets`, so nobody parses a 20 MB mail a second time to look for a password.
    """
    key = message_key(raw)
    crash.point("parse")
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    if len(head) > limits.max_header_bytes:  # RFC 2047 decoding of huge headers takes quadratic time
        return _head_stub(key, raw, head)
    try:
        return _parse(key, raw, limits, scan)
    except Exception as exc:  # a bug meeting hostile input must still end as a quarantined mail
        log.warning("key:%s #- unparseable: %s", key[:16], exc.__class__.__name__)
        return stub(key, raw, Reason.UNPARSEABLE.value)


def _head_stub(key: str, raw: bytes, head: bytes) -> ParsedMail:
    """A mail whose header block is over the limit: only a short From is read, for the notice."""
    froms = re.findall(rb"(?im)^from:[ \t]*(.{1,500})\r?$", head[:65536])
    sender = strict_from([f.decode("utf-8", "replace") for f in froms] or None) if len(froms) == 1 else None
    held = stub(key, raw, Reason.HEADERS_TOO_LARGE.value)
    return dataclasses.replace(held, from_addr=sender[0] if sender else "", from_name=sender[1] if sender else "")


def _parse(key: str, raw: bytes, limits: Limits, scan: Scan | None, lean: bool = True) -> ParsedMail:
    aside = set_aside(raw) if lean else SetAside(raw)
    try:
        parser = mailparser.parse_from_bytes(aside.lean)
        msg = parser.message
        atts = _attachments(parser, aside)
    except RecursionError:
        return stub(key, raw, Reason.TOO_DEEP.value)
    except Exception as exc:  # mail-parser raises many types on hostile input
        if aside.runs:  # never let the shortcut be the reason a mail is held: the whole mail decides
            return _parse(key, raw, limits, scan, lean=False)
        log.warning("key:%s #- unparseable: %s", key[:16], exc.__class__.__name__)
        return stub(key, raw, Reason.UNPARSEABLE.value)
    def get(name: str) -> Any:
        return msg.get(name)

    msgid = _ids(get("Message-ID"))
    sender = strict_from([header_text(v) for v in msg.get_all("From") or []] or None)
    text = "\n".join(parser.text_plain).strip()
    html_body = ""
    if not text and parser.text_html:
        html_body = "\n".join(parser.text_html)
        text = html_to_text(html_body)
    if re.search("[\ufffd\x80-\x9f]", text):  # a missing, unknown or lying charset: decode the parts ourselves
        text = _body_text(msg) or text
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if aside.runs and not aside.complete((text, html_body), tuple(a.data for a in atts)):
        # a set-aside body was text after all, or sits in a forwarded mail: parse the mail whole
        return _parse(key, raw, limits, scan, lean=False)
    uncut = ""
    if len(text) > limits.max_body_chars:  # nothing lost: the whole text travels as an attachment
        uncut = text
        atts.append(attachments.make(text.encode("utf-8"), "request-full.txt", "text/plain", "request-full.txt"))
        text = text[: limits.max_body_chars].rstrip() + "\n\n[… cut; the whole text is attached as request-full.txt]"
    headers = {"from": clean_header(str(get("From") or ""), 300)} | {
        k.lower(): clean_header(decode_rfc2047(get(k)))
        for k in ("Auto-Submitted", "Precedence", "List-Id", "Return-Path", "X-Autoreply", "X-Autorespond",
                  "X-Auto-Response-Suppress", "X-Autogenerated", "X-Loop", "X-Maildesk-Loop", "Content-Type",
                  "X-Failed-Recipients")
        if get(k) is not None
    }
    defect = _check_limits(parser, atts, limits) or ("" if sender else Reason.BAD_FROM.value)
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
        text=text,
        attachments=tuple(atts),
        headers=headers,
        auth_results=tuple(clean_header(str(v), 4000) for v in msg.get_all("Authentication-Results") or []),
        defect=defect,
        uncut=uncut,
        html=html_body[: limits.max_body_chars * 20],
        secrets=tuple(sorted(scan(msg, text))) if scan is not None else None,
    )


def stub(key: str, raw: bytes, reason: str) -> ParsedMail:
    """What we know of a message that could not be parsed: its key and the reason."""
    return ParsedMail(key, raw, "", "", "", (), (), "", "", (), _date(None), "", defect=reason)
