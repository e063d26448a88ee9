"""Customer ID + password in the mail body: find, redact, verify, back off.

A mail may start with `Customer: 12345678` / `Password: …` (or the Czech and
Slovak labels IČO, IČ, Zákazník, Licence, Heslo). The password is cut out of
every copy maildesk keeps (raw mail in all its transfer encodings, text,
attachments, headers) before anything is stored, verified against an argon2id
hash, and never logged. Unknown IDs are checked against a dummy hash so that
the answer takes as long as for a known one.
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
import unicodedata
from dataclasses import dataclass
from email.message import Message

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .parse import decode_rfc2047

ID_LABELS = {"customer", "customerid", "customerno", "ico", "ic", "zakaznik", "licence", "license"}
PASSWORD_LABELS = {"password", "heslo"}
MASK = "[redacted]"
SCAN_LINES = 8  # credentials must be among the first non-empty lines of the body

_hasher = PasswordHasher()
_LABELLED = re.compile(r"^\s*([^\W\d_][^\W\d_ .]*(?:[ .][^\W\d_]+)?)\s*\.?\s*:\s*(\S(?:.*\S)?)\s*$")


@dataclass(frozen=True)
class Credentials:
    customer_id: str
    password: str

    def __repr__(self) -> str:  # never let a password reach a log line or a traceback
        return f"Credentials(customer_id={self.customer_id!r}, password=***)"


def _fold(label: str) -> str:
    """Lower case, no diacritics, no spaces or dots: 'IČO' -> 'ico', 'Zákazník' -> 'zakaznik'."""
    nfkd = unicodedata.normalize("NFKD", label)
    return "".join(c for c in nfkd if not unicodedata.combining(c)).lower().replace(" ", "").replace(".", "")


def find(text: str) -> Credentials | None:
    """Customer ID and password from the first lines of a body (ID empty when only a password is there)."""
    cid = password = None
    seen = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        seen += 1
        if seen > SCAN_LINES:
            break
        m = _LABELLED.match(line)
        if not m:
            continue
        label = _fold(m.group(1))
        if label in ID_LABELS and cid is None:
            cid = m.group(2).strip()
        elif label in PASSWORD_LABELS and password is None:
            password = m.group(2)
    if password:  # a password without an ID is still cut out of every copy, but authorises nothing
        return Credentials(cid or "", password)
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


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


def _variants(secret: str, charset: str) -> list[bytes]:
    out = set()
    for text in (secret, html.escape(secret, quote=False), html.escape(secret)):
        for cs in (charset, "utf-8"):
            try:
                out.add(text.encode(cs))
            except (LookupError, UnicodeEncodeError):
                continue
    return sorted(out, key=len, reverse=True)


_TOKEN = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});?|.", re.I | re.S)


def redact_markup(text: str, secret: str) -> str:
    """Replace the secret in HTML even where it is written with character references (&#382; &Zcaron;)."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _TOKEN.finditer(text):
        for ch in html.unescape(m.group(0)) if m.group(0).startswith("&") else m.group(0):
            chars.append(ch)
            spans.append((m.start(), m.end()))
    plain, hits, at = "".join(chars), [], 0
    while (found := plain.find(secret, at)) >= 0:
        hits.append((spans[found][0], spans[found + len(secret) - 1][1]))
        at = found + len(secret)
    for start, end in reversed(hits):
        text = text[:start] + MASK + text[end:]
    return text


def _redact_part(part: Message, secret: str) -> None:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return
    charset = part.get_content_charset() or "utf-8"
    new = payload
    if part.get_content_maintype() == "text":
        try:
            new = redact_markup(payload.decode(charset), secret).encode(charset)
        except (LookupError, UnicodeError):
            pass
    for v in _variants(secret, charset):
        new = new.replace(v, MASK.encode())
    if new == payload:
        return
    cte = (part.get("Content-Transfer-Encoding") or "7bit").strip().lower()
    del part["Content-Transfer-Encoding"]
    if cte == "base64":
        part.set_payload(base64.encodebytes(new).decode("ascii"))
    elif cte == "quoted-printable":
        part.set_payload(quopri.encodestring(new).decode("ascii"))
    else:  # 7bit/8bit/binary: keep the bytes as they were, QP makes them safe to carry
        part.set_payload(quopri.encodestring(new).decode("ascii"))
        cte = "quoted-printable"
    part["Content-Transfer-Encoding"] = cte


def contains(raw: bytes, secret: str) -> bool:
    """Is the secret anywhere in the bytes, in a header, or in any decoded part?"""
    if secret.encode("utf-8") in raw:
        return True
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        for value in part.values():
            if secret in decode_rfc2047(str(value)):
                return True
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        charset = part.get_content_charset() or "utf-8"
        if isinstance(payload, bytes) and any(v in payload for v in _variants(secret, charset)):
            return True
        if isinstance(payload, bytes) and part.get_content_maintype() == "text":
            try:
                if redact_markup(payload.decode(charset, "replace"), secret) != payload.decode(charset, "replace"):
                    return True
            except LookupError:
                pass
    return False


def redact(raw: bytes, secret: str) -> bytes:
    """The same message with every copy of `secret` replaced by [redacted], in every encoding."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        for key, value in list(part.items()):
            decoded = decode_rfc2047(str(value))
            if secret in decoded:
                part.replace_header(key, email.header.Header(decoded.replace(secret, MASK), "utf-8").encode())
        if not part.is_multipart():
            _redact_part(part, secret)
    out = msg.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))
    if contains(out, secret):
        # Some structure defeated the part-wise redaction: keep a plain stand-in instead of the secret.
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        body = b"[maildesk: the original body contained a password and could not be redacted safely]\r\n"
        out = (head.replace(secret.encode("utf-8"), MASK.encode()) + b"\r\n\r\n" + body)
        out = re.sub(rb"(?im)^content-(type|transfer-encoding):.*(\r?\n[ \t].*)*\r?\n", b"", out)
    return out
