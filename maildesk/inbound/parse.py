"""Parse stage: raw bytes -> ParsedMail, with strict From and clean header values.

mail-parser does the MIME walking and charset decoding. The From header is
parsed here by hand, strictly, because Python 3.11's email.utils accepts the
parser-confusion forms of CVE-2023-27043 (e.g. `alice@x.org)<bob@y.org>`).
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import dataclasses
import email.errors
import email.header
import email.utils
import hashlib
import html
import logging
import multiprocessing
import os
import re
import signal
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC
from email.message import Message
from typing import Any

import mailparser
import nh3

from maildesk import clock, crash, shutdown
from maildesk.config import Limits
from maildesk.errors import ShuttingDown
from maildesk.inbound import attachments
from maildesk.models import Attachment, ParsedMail, Reason

DEFAULT_LIMITS = Limits()
_BODY_TYPES = {"text/plain", "text/html"}

log = logging.getLogger("maildesk.parse")
logging.getLogger("mailparser").setLevel(logging.INFO)  # its DEBUG log quotes headers and parts of mails

_ADDR = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_ANGLE_FORM = re.compile(
    rf'^(?P<name>"(?:[^"\\]|\\.)*"|(?:[^"<>@(),;:\\\[\]]|\((?:[^()\\]|\\.)*\))*)\s*<(?P<addr>{_ADDR})>$')
_ENCODED_WORD = re.compile(r"=\?[\w.-]+\?[bqBQ]\?[^?\s]*\?=")
_BARE_FORM = re.compile(rf"^(?P<addr>{_ADDR})(?:\s*\((?P<comment>[^()<>@]*)\))?$")
_QUOTED_LOCAL = re.compile(r'(?<![^\s<])"([A-Za-z0-9!#$%&\'*+/=?^_`{|}~.-]+)"@')
_MSGID = re.compile(r"<([^<>\s]{1,250})>")


# Fields each delivery adds or rewrites: a message that reaches us twice (two aliases, a second MX, IMAP
# and an MTA pipe at once) differs only in these, and in CRLF vs LF line ends.
_TRACE = re.compile(rb"^(?:received|return-path|delivered-to|x-original-to|envelope-to|x-envelope-[\w-]*|"
                    rb"x-delivered-to|x-spam-[\w-]*|x-virus-[\w-]*|authentication-results|arc-[\w-]*|received-spf|"
                    rb"dkim-filter|x-ms-exchange-organization-[\w-]*|x-rspamd-[\w-]*|x-uid|status|x-status|"
                    rb"x-keywords|content-length|lines)\s*:", re.I)


def message_key(raw: bytes) -> str:
    """The identity of a message across deliveries: sha256 of it without trace fields, with LF line ends."""
    text = raw.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
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
    return hashlib.sha256(b"\n".join(kept) + sep + body).hexdigest()


def clean_header(value: str | None, limit: int = 998) -> str:
    """A header value safe to copy into outgoing mail: no CR/LF/NUL, controls or bidi overrides."""
    if not value:
        return ""
    out = []
    for ch in str(value):
        if ch in attachments.BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(" ")
        else:
            out.append(ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()[:limit]


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


def _attachments(parser: mailparser.MailParser) -> list[Attachment]:
    """Every attachment mail-parser found, plus leaf parts it left out (no name, not body text)."""
    out = []
    for i, att in enumerate(parser.attachments, 1):
        payload = att.get("payload") or ""
        try:
            data = base64.b64decode(payload) if att.get("binary") else payload.encode("utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            data = payload.encode("utf-8", "surrogateescape")
        out.append(attachments.make(data, decode_rfc2047(att.get("filename") or ""),
                                    clean_header(att.get("mail_content_type") or "", 100), f"attachment-{i}"))
    for i, part in enumerate(parser.message.walk(), 1):
        ctype = part.get_content_type()
        if part.is_multipart() or part.get_filename() or part.get("Content-ID") or ctype in _BODY_TYPES \
                or part.get_content_disposition() == "attachment" or part.get_content_subtype() == "rtf":
            continue
        data = part.get_payload(decode=True)
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


def parse(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> ParsedMail:
    """Parse one raw message; never raises: a mail that cannot become a ticket carries a `defect` reason."""
    key = message_key(raw)
    crash.point("parse")
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    if len(head) > limits.max_header_bytes:  # RFC 2047 decoding of huge headers takes quadratic time
        return _head_stub(key, raw, head)
    try:
        return _parse(key, raw, limits)
    except Exception as exc:  # a bug meeting hostile input must still end as a quarantined mail
        log.warning("key:%s #- unparseable: %s", key[:16], exc.__class__.__name__)
        return _stub(key, raw, Reason.UNPARSEABLE.value)


def _head_stub(key: str, raw: bytes, head: bytes) -> ParsedMail:
    """A mail whose header block is over the limit: only a short From is read, for the notice."""
    froms = re.findall(rb"(?im)^from:[ \t]*(.{1,500})\r?$", head[:65536])
    sender = strict_from([f.decode("utf-8", "replace") for f in froms] or None) if len(froms) == 1 else None
    stub = _stub(key, raw, Reason.HEADERS_TOO_LARGE.value)
    return dataclasses.replace(stub, from_addr=sender[0] if sender else "", from_name=sender[1] if sender else "")


def _parse(key: str, raw: bytes, limits: Limits) -> ParsedMail:
    try:
        parser = mailparser.parse_from_bytes(raw)
        msg = parser.message
        atts = _attachments(parser)
    except RecursionError:
        return _stub(key, raw, Reason.TOO_DEEP.value)
    except Exception as exc:  # mail-parser raises many types on hostile input
        log.warning("key:%s #- unparseable: %s", key[:16], exc.__class__.__name__)
        return _stub(key, raw, Reason.UNPARSEABLE.value)
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
    )


def _stub(key: str, raw: bytes, reason: str) -> ParsedMail:
    """What we know of a message that could not be parsed: its key and the reason."""
    return ParsedMail(key, raw, "", "", "", (), (), "", "", (), _date(None), "", defect=reason)


def _die_with_parent(parent: int) -> None:
    """Worker initializer: the kernel kills the worker when the daemon dies (Linux PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class ParseWorker:
    """parse() in a separate process with a time limit, so no message can hang or crash the daemon."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pool: ProcessPoolExecutor | None = None

    def __call__(self, raw: bytes) -> ParsedMail:
        if self.limits.parse_timeout <= 0:
            return parse(raw, self.limits)
        if self.pool is None:
            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                            initializer=_die_with_parent, initargs=(os.getpid(),))
        future = self.pool.submit(parse, raw, self.limits)
        deadline = time.monotonic() + self.limits.parse_timeout
        while True:  # in slices, so a stop signal does not wait for a hostile parse to time out
            try:
                return future.result(timeout=max(0.0, min(0.2, deadline - time.monotonic())))
            except FutureTimeout:
                if shutdown.requested.is_set():
                    self.close()
                    raise ShuttingDown("stop signal during a parse: the message stays in the INBOX") from None
                if time.monotonic() >= deadline:
                    reason = Reason.PARSE_TIMEOUT.value
                    break
            except BrokenProcessPool:  # the worker died (out of memory, a crash in C code)
                reason = Reason.UNPARSEABLE.value
                break
        key = message_key(raw)
        log.warning("key:%s #- parse failed: %s", key[:16], reason)
        self.close()
        return _stub(key, raw, reason)

    def close(self) -> None:
        """Stop the worker at once, even in the middle of a parse."""
        pool, self.pool = self.pool, None
        if pool is not None:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()
            pool.shutdown(wait=False, cancel_futures=True)
