"""Customer ID + password in the mail body: find, redact, verify, back off.

A mail may start with `Customer: 12345678` / `Password: …` (or the Czech and
Slovak labels IČO, IČ, Zákazník, Licence, Heslo), on two lines or on one.
Only the first lines authorise (`find`), but every password-labelled value
anywhere in the mail (quoted lines, later lines, the HTML part, text
attachments) is cut out of every copy maildesk keeps (raw mail in all its
transfer encodings, text, attachments, headers) before anything is stored.
HTML is matched on the text a reader sees, so tags and character references
cannot split a password past the redaction. Passwords are verified against an
argon2id hash and never logged. Unknown IDs are checked against a dummy hash
so that the answer takes as long as for a known one.
"""

from __future__ import annotations

import base64
import email
import email.header
import email.policy
import functools
import html
import quopri
import re
import secrets
from dataclasses import dataclass
from email.message import Message

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from maildesk.inbound import licences
from maildesk.inbound.headers import decode_rfc2047, text_of_bytes
from maildesk.inbound.parse import html_to_text
from maildesk.models import ParsedMail

MASK = "[redacted]"
SCAN_LINES = 8  # credentials that authorise must be among the first non-empty lines of the body

_hasher = PasswordHasher()
_ID = r"customer(?:[ .]?(?:id|no|number))?|i[cč]o?|z[aá]kazn[ií]k|licen[cs]e"
_PASSWORD = r"password|heslo"
_LABEL = re.compile(rf"(?<![\w])(?:(?P<id>{_ID})|(?P<pw>{_PASSWORD}))\s*\.?\s*:\s*", re.I)
_QUOTE = re.compile(r"^(?:\s*>)+")


@dataclass(frozen=True)
class Credentials:
    customer_id: str
    password: str

    def __repr__(self) -> str:  # never let a password reach a log line or a traceback
        return f"Credentials(customer_id={self.customer_id!r}, password=***)"


def _labelled(line: str) -> list[tuple[str, str]]:
    """[('id'|'pw', value)] of one line: 'Password: x', or 'Customer: 1 Password: x' on one line."""
    line = _QUOTE.sub("", line)
    marks = list(_LABEL.finditer(line))
    if not marks or line[: marks[0].start()].strip():  # a label must start the line
        return []
    out = []
    for m, nxt in zip(marks, [*marks[1:], None], strict=True):
        value = line[m.end(): nxt.start() if nxt else len(line)].strip()
        if value:
            out.append(("id" if m.group("id") else "pw", value))
    return out


def _lines(text: str) -> list[str]:
    return [ln for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if ln.strip()]


def find(text: str) -> Credentials | None:
    """Customer ID and password from the first lines of a body (ID empty when only a password is there)."""
    cid = password = None
    for line in _lines(text)[:SCAN_LINES]:
        if _QUOTE.match(line):
            continue  # quoted history never authorises
        for kind, value in _labelled(line):
            if kind == "id" and cid is None:
                cid = value
            elif kind == "pw" and password is None:
                password = value
    if password:  # a password without an ID is still cut out of every copy, but authorises nothing
        return Credentials(cid or "", password)
    return None


def passwords_in(text: str) -> set[str]:
    """Every password-labelled value anywhere in a text, quoted lines and later lines included."""
    return {value for line in _lines(text) for kind, value in _labelled(line) if kind == "pw"}


def to_redact(mail: ParsedMail, raw: bytes = b"") -> set[str]:
    """Everything a mail's stored copies must lose: the passwords in any of its text parts (the parse's
    own scan, else a scan of `raw`) and every labelled licence number in its text."""
    found = set(mail.secrets) if mail.secrets is not None else passwords_in_message(raw, mail.text)
    return found | licences.numbers_in(mail.text)


def passwords_in_message(raw: bytes, text: str) -> set[str]:
    """Passwords in the parsed text and in every text part (HTML read as a reader sees it)."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:  # the parsed text is what authorises; a broken mail only adds nothing
        return passwords_in_parts(None, text)
    return passwords_in_parts(msg, text)


def passwords_in_parts(msg: Message | None, text: str) -> set[str]:
    """passwords_in_message over a message parsed already (the parse worker's own: no second parse)."""
    found = passwords_in(text)
    try:
        for part in msg.walk() if msg is not None else ():
            if part.get_content_maintype() != "text" or part.is_multipart():
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                decoded = text_of_bytes(payload, _charset(part))
                found |= passwords_in(html_to_text(decoded) if part.get_content_subtype() == "html" else decoded)
    except Exception:  # the parsed text above is what authorises; a broken part only adds nothing
        pass
    return {p for p in found if len(p) >= 3}  # 'Password: x' is no secret worth a stand-in body


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash with the real parameters, made on first use (argon2 takes ~0.1 s and 64 MiB: not at start-up)."""
    return _hasher.hash(secrets.token_urlsafe(24))


def verify(stored_hash: str | None, password: str) -> bool:
    """argon2 verification; an unknown customer (no hash) costs the same time and fails."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


_WIDE = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")  # how Windows tools write text files


def _variants(secret: str, charset: str) -> list[tuple[bytes, bytes]]:
    """(needle, replacement) byte pairs: the secret as raw, HTML-escaped and wide-encoded bytes."""
    out: dict[bytes, bytes] = {}
    for text in (secret, html.escape(secret, quote=False), html.escape(secret)):
        for cs in (charset, "utf-8", *_WIDE):
            try:
                out.setdefault(text.encode(cs), MASK.encode(cs if cs in _WIDE else "ascii"))
            except (LookupError, UnicodeError, ValueError):
                continue
    return sorted(out.items(), key=lambda kv: len(kv[0]), reverse=True)


def _pattern(secret: str) -> re.Pattern[str]:
    """The secret with any run of white space matching any run (line wrapping, &nbsp;, tabs)."""
    words = [re.escape(w) for w in secret.split()]
    return re.compile(r"\s+".join(words))


_TOKEN = re.compile(r"<!--.*?(?:-->|$)|<[^<>]*>|&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});?|.", re.I | re.S)


def redact_markup(text: str, secret: str) -> str:
    """Replace the secret in HTML as a reader sees it: across tags, comments and character references."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok.startswith("<") and len(tok) > 1:
            continue  # a tag or comment shows nothing, so it cannot hide a password from us
        for ch in html.unescape(tok) if tok.startswith("&") else tok:
            chars.append(ch)
            spans.append((m.start(), m.end()))
    plain = "".join(chars)
    hits = [(spans[m.start()][0], spans[m.end() - 1][1])
            for m in _pattern(secret).finditer(plain) if m.end() > m.start()]
    for start, end in reversed(hits):
        text = text[:start] + MASK + text[end:]
    return text


def _charset(part: Message) -> str:
    try:
        cs = part.get_content_charset() or "utf-8"
        "".encode(cs)
        return cs
    except (LookupError, ValueError):
        return "utf-8"


def _redact_part(part: Message, secrets_: set[str]) -> None:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return
    charset = _charset(part)
    new = payload
    if part.get_content_maintype() == "text":
        text = text_of_bytes(payload, charset)
        for secret in secrets_:
            text = redact_markup(text, secret) if part.get_content_subtype() == "html" \
                else _pattern(secret).sub(MASK, text)
        try:
            new = text.encode(charset)
        except UnicodeError:
            new = text.encode("utf-8")
            part.set_param("charset", "utf-8")
    for secret in secrets_:
        for needle, mask in _variants(secret, charset):
            new = new.replace(needle, mask)
    if new == payload:
        return
    cte = (part.get("Content-Transfer-Encoding") or "7bit").strip().lower()
    del part["Content-Transfer-Encoding"]
    if cte == "base64":
        part.set_payload(base64.encodebytes(new).decode("ascii"))
    else:  # QP keeps 7bit/8bit/binary bytes as they were and safe to carry
        part.set_payload(quopri.encodestring(new).decode("ascii"))
        cte = "quoted-printable"
    part["Content-Transfer-Encoding"] = cte


def shows(text: str, secret: str) -> bool:
    """Does the text show the secret (white space runs matching any white space)?"""
    return _pattern(secret).search(text) is not None


def contains(raw: bytes, secret: str) -> bool:
    """Is the secret anywhere: in the bytes, a header, a decoded part, or the text an HTML part shows?"""
    if any(needle in raw for needle, _ in _variants(secret, "utf-8")):
        return True
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        for value in part.values():
            if shows(decode_rfc2047(str(value)), secret):
                return True
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = _charset(part)
        if any(needle in payload for needle, _ in _variants(secret, charset)):
            return True
        if part.get_content_maintype() == "text":
            text = text_of_bytes(payload, charset)
            if shows(text, secret) or redact_markup(text, secret) != text or shows(html_to_text(text), secret):
                return True
    return False


def redact(raw: bytes, secrets_: set[str]) -> bytes:
    """The same message with every copy of each secret replaced by [redacted], in every encoding."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        for key, value in list(part.items()):
            decoded = decode_rfc2047(str(value))
            if any(shows(decoded, s) for s in secrets_):
                for secret in secrets_:
                    decoded = _pattern(secret).sub(MASK, decoded)
                part.replace_header(key, email.header.Header(decoded, "utf-8").encode())
        if not part.is_multipart():
            _redact_part(part, secrets_)
    out = msg.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))
    if any(contains(out, secret) for secret in secrets_):
        # Some structure defeated the part-wise redaction: keep a plain stand-in instead of the secret.
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        for secret in secrets_:
            head = head.replace(secret.encode("utf-8"), MASK.encode())
        body = b"[maildesk: the original body contained a password and could not be redacted safely]\r\n"
        head = re.sub(rb"(?im)^content-(type|transfer-encoding):.*(\r?\n[ \t].*)*(\r?\n|$)", b"", head)
        out = head.rstrip(b"\r\n") + b"\r\n\r\n" + body
    return out
