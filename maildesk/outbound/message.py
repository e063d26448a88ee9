"""Outgoing messages: complete RFC 5322 mails with the headers every maildesk mail carries.

Every header value that came from a mail is cleaned (clean_header) before it
goes out. Attachments travel as blob references and are added at send time.
"""

from __future__ import annotations

import base64
import email
import email.header
import email.policy
import email.utils
import hashlib
import hmac
import io
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage

from maildesk.config import Config
from maildesk.decide.classify import LOOP_HEADER
from maildesk.errors import BlobUnreadable
from maildesk.inbound.headers import clean_header
from maildesk.models import Attachment
from maildesk.store.blobs import BlobStore

# Python folds a header just over 78 characters into an empty first line ("Subject:\r\n text"),
# which some clients show with a leading space; 120 keeps ordinary subjects on one line.
MAX_LINE = 120
POLICY = email.policy.SMTP.clone(max_line_length=MAX_LINE)


@dataclass(frozen=True)
class Outgoing:
    """One rendered mail, ready for the outbox."""

    kind: str
    rcpt: str
    subject: str
    message_id: str
    raw: bytes  # without the attachments: they are blobs already, added at send time (attach())
    attachments: tuple[Attachment, ...] = ()


def new_message_id(cfg: Config, ticket: int | None) -> str:
    """<md.TICKET.TOKEN@domain>, with an HMAC of both appended when helpdesk.tag_secret is set."""
    domain = cfg.helpdesk.address.rpartition("@")[2]
    local = f"md.{ticket or 0}.{secrets.token_hex(10)}"
    if cfg.helpdesk.tag_secret:
        local += "." + hmac.new(cfg.helpdesk.tag_secret.encode(), local.encode(), hashlib.sha256).hexdigest()[:12]
    return f"<{local}@{domain}>"


def build(cfg: Config, *, kind: str, rcpt: str, subject: str, body: str, ticket: int | None,
          auto: str = "auto-replied", in_reply_to: str = "", references: tuple[str, ...] = (),
          language: str = "en", attachments: tuple[Attachment, ...] = (), from_name: str = "") -> Outgoing:
    """A complete RFC 5322 message with the headers every maildesk mail carries.

    Written directly rather than through EmailMessage: its header objects cost ~1.8 ms a mail,
    more than deciding the mail. Every value is cleaned (no CR, LF or controls) and non-ASCII
    text is RFC 2047-encoded (_encoded_words); tests compare the result with EmailMessage's.
    """
    mid = new_message_id(cfg, ticket)
    to = clean_header(rcpt)
    refs = [f"<{r}>" for r in (*references, in_reply_to) if r]
    name = clean_header(from_name or cfg.helpdesk.name)
    fields = [("From", email.utils.formataddr((name, cfg.helpdesk.address), charset="utf-8")),
              ("To", to), ("Reply-To", cfg.helpdesk.address), ("Subject", clean_header(subject)),
              ("Date", email.utils.formatdate(localtime=False)), ("Message-ID", mid)]
    if in_reply_to:
        fields.append(("In-Reply-To", f"<{clean_header(in_reply_to)}>"))
    if refs:
        fields.append(("References", clean_header(" ".join(dict.fromkeys(refs)))))
    fields += [("Auto-Submitted", auto), (LOOP_HEADER, cfg.helpdesk.address), ("Content-Language", language)]
    if not all(v.isascii() for n, v in fields if n not in ("Subject", "References")):
        # an address or Message-ID with UTF-8 in it: let the email package decide how it travels
        msg = EmailMessage(policy=POLICY)
        for field, value in fields:
            msg[field] = Address(name, addr_spec=cfg.helpdesk.address) if field == "From" else value
        msg.set_content(body, charset="utf-8")
        return Outgoing(kind, to, clean_header(subject), mid.strip("<>"), msg.as_bytes(), attachments)
    cte, payload = _text_body(body)
    head = "".join(f"{field}: {_encoded(field, value)}\r\n" for field, value in fields)
    head += f'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return Outgoing(kind, to, clean_header(subject), mid.strip("<>"), head.encode("ascii") + b"\r\n" + payload,
                    attachments)


def _encoded(name: str, value: str) -> str:
    """A header value as it may travel: ASCII folded at spaces past MAX_LINE, anything else as RFC 2047 words."""
    if not value.isascii():
        return _encoded_words(name, value)
    if len(name) + len(value) + 2 <= MAX_LINE:
        return value
    lines, line = [], ""
    for word in value.split(" "):  # a long References list: one msg-id per fold, never an encoded word
        if line and len(line) + 1 + len(word) > MAX_LINE - len(name) - 2:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\r\n ".join([*lines, line])


# UTF-8 bytes per encoded word: "=?utf-8?b?", 60 base64 characters and "?=" make 72, within RFC 2047's 75.
_WORD_BYTES = 45


def _encoded_words(name: str, value: str) -> str:
    """Non-ASCII text as base64 encoded words, one per line, each holding whole characters (RFC 2047 section 5).

    Written here because email.header.Header took 56 µs a subject where this takes 2 (same words);
    tests read the result back with the email package and check the line lengths.
    """
    data, words, start = value.encode("utf-8"), [], 0
    room = max(12, (78 - len(name) - 2 - 12) // 4 * 3)  # what fits on the header's first line
    while start < len(data):
        end = min(len(data), start + room)
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: never split a character
            end -= 1
        words.append("=?utf-8?b?" + base64.b64encode(data[start:end]).decode("ascii") + "?=")
        start, room = end, _WORD_BYTES
    return "\r\n ".join(words)


def _text_body(body: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, bytes) of a text body with CRLF line ends: 7bit or 8bit when every line
    is short, base64 otherwise (what EmailMessage.set_content picks, minus its quoted-printable choice)."""
    lines = body.encode("utf-8").splitlines()
    if max((len(line) for line in lines), default=0) <= MAX_LINE:
        return ("7bit" if body.isascii() else "8bit"), b"\r\n".join(lines) + b"\r\n"
    encoded = base64.encodebytes(b"\r\n".join(lines) + b"\r\n")  # text in canonical form: CRLF line breaks
    return "base64", encoded.replace(b"\n", b"\r\n")


def refs(attachments: tuple[Attachment, ...]) -> str | None:
    """How the outbox names a mail's attachments: blob hashes and display data, never the bytes again."""
    if not attachments:
        return None
    return json.dumps([{"sha256": a.sha256, "filename": a.filename, "content_type": a.content_type}
                       for a in attachments], ensure_ascii=False)


_TOKEN = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}")
_CONTENT = re.compile(rb"(?i)(content-type|content-transfer-encoding|mime-version)\s*:")
_B64_BLOCK = 57 * 1024  # 1024 base64 lines of 76 characters per read


@dataclass
class Assembled:
    """A mail to send, as pieces that each end at a line end; `size` is their length added up.

    The stored text part comes first, then each attachment, read from the blob store and base64-encoded
    a block at a time as it goes out: a forwarded 15 MB file is never whole in memory. The files are
    opened (and their sizes known) before the first piece, so a missing blob is found before the wire.
    """

    size: int
    pieces: Iterator[bytes]
    files: list[io.BufferedIOBase] = field(default_factory=list)

    @classmethod
    def of(cls, data: bytes) -> Assembled:
        """A mail that is already whole: one piece."""
        return cls(len(data), iter((data,)))

    def whole(self) -> bytes:
        """The pieces as one mail (written into one buffer that is handed over, never joined from a list)."""
        out = io.BytesIO()
        for piece in self.pieces:
            out.write(piece)
        return out.getvalue()

    def close(self) -> None:
        for fh in self.files:
            fh.close()


def assemble(raw: bytes, attachments_json: str | None, blobs: BlobStore) -> Assembled:
    """The complete mail to send: the stored text part plus its attachments from the blob store.

    Written as multipart/mixed directly: EmailMessage held a 15 MB attachment five times over
    (+83 MiB to forward one 20 MB mail).
    """
    if not attachments_json:
        return Assembled.of(raw)
    head, _, body = raw.partition(b"\r\n\r\n")
    top: list[bytes] = []
    content: list[bytes] = []
    for field_ in re.split(rb"\r\n(?![ \t])", head):  # header fields with their folded lines
        (content if _CONTENT.match(field_) else top).append(field_)
    boundary = "===============" + secrets.token_hex(16) + "=="  # base64 has no '-': only the text could hold it
    while boundary.encode() in body:
        boundary = "===============" + secrets.token_hex(16) + "=="
    first = b"".join((b"\r\n".join(top), b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"",
                      boundary.encode(), b"\"\r\n\r\n--", boundary.encode(), b"\r\n",
                      b"\r\n".join(f for f in content if not f.lower().startswith(b"mime-version")), b"\r\n\r\n",
                      body, b"\r\n"))  # the CRLF before a boundary belongs to the boundary (RFC 2046)
    last = b"--" + boundary.encode() + b"--\r\n"
    parts: list[tuple[bytes, io.BufferedIOBase, int, str]] = []
    try:
        for ref in json.loads(attachments_json):
            fh = blobs.open(ref["sha256"])
            parts.append((b"--" + boundary.encode() + b"\r\n" + _part_head(ref["content_type"], ref["filename"]),
                          fh, fh.seek(0, io.SEEK_END), ref["sha256"]))
            fh.seek(0)
    except BaseException:
        for _, fh, _, _ in parts:
            fh.close()
        raise

    def pieces() -> Iterator[bytes]:
        yield first
        for part_head, fh, _, sha in parts:
            yield part_head
            while block := _read(fh, sha):
                yield base64.encodebytes(block).replace(b"\n", b"\r\n")
        yield last

    size = len(first) + len(last) + sum(len(h) + _base64_size(n) for h, _, n, _ in parts)
    return Assembled(size, pieces(), [fh for _, fh, _, _ in parts])


def _read(fh: io.BufferedIOBase, sha: str) -> bytes:
    """A block of a file on its way out; a failing disk is BlobUnreadable, not an OSError an SMTP
    session could raise (that would count as an outage of the server)."""
    try:
        return fh.read(_B64_BLOCK)
    except OSError as exc:
        raise BlobUnreadable(f"attachment {sha[:12]} could not be read: {exc.__class__.__name__}: {exc}") from exc


def _base64_size(n: int) -> int:
    """The length of encodebytes() of n bytes with CRLF line ends: 76 characters and CRLF a 57 bytes."""
    return 4 * -(-n // 3) + 2 * -(-n // 57)


def attach(raw: bytes, attachments_json: str | None, blobs: BlobStore) -> bytes:
    """assemble() as one mail (the tests' view of what goes out)."""
    mail = assemble(raw, attachments_json, blobs)
    try:
        return mail.whole()
    finally:
        mail.close()


def _part_head(content_type: str, filename: str) -> bytes:
    """An attachment part's header: a type of token characters (else octet-stream), a clean file name."""
    maintype, _, subtype = content_type.partition("/")
    if not (_TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype)):
        maintype, subtype = "application", "octet-stream"
    name = clean_header(filename, 255) or "attachment"
    if name.isascii():
        param = 'filename="' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        param = "filename*=" + email.utils.encode_rfc2231(name, "utf-8")
    return (f"Content-Type: {maintype}/{subtype}\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; {param}\r\n\r\n").encode("ascii")
