"""Outgoing messages: complete RFC 5322 mails with the headers every maildesk mail carries.

Every header value that came from a mail is cleaned (clean_header) before it
goes out. Attachments travel as blob references and are added at send time.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from email.message import EmailMessage

from maildesk.config import Config
from maildesk.decide.classify import LOOP_HEADER
from maildesk.inbound.headers import clean_header
from maildesk.models import Attachment
from maildesk.store.blobs import BlobStore

# Python folds a header just over 78 characters into an empty first line ("Subject:\r\n text"),
# which some clients show with a leading space; 120 keeps ordinary subjects on one line.
POLICY = email.policy.SMTP.clone(max_line_length=120)


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
    """A complete RFC 5322 message with the headers every maildesk mail carries."""
    msg = EmailMessage(policy=POLICY)
    mid = new_message_id(cfg, ticket)
    msg["From"] = email.utils.formataddr((clean_header(from_name or cfg.helpdesk.name), cfg.helpdesk.address))
    msg["To"] = clean_header(rcpt)
    msg["Reply-To"] = cfg.helpdesk.address
    msg["Subject"] = clean_header(subject)
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = mid
    refs = [f"<{r}>" for r in (*references, in_reply_to) if r]
    if in_reply_to:
        msg["In-Reply-To"] = f"<{clean_header(in_reply_to)}>"
    if refs:
        msg["References"] = clean_header(" ".join(dict.fromkeys(refs)))
    msg["Auto-Submitted"] = auto
    msg[LOOP_HEADER] = cfg.helpdesk.address
    msg["Content-Language"] = language
    msg.set_content(body, charset="utf-8")
    return Outgoing(kind, clean_header(rcpt), clean_header(subject), mid.strip("<>"), msg.as_bytes(), attachments)


def refs(attachments: tuple[Attachment, ...]) -> str | None:
    """How the outbox names a mail's attachments: blob hashes and display data, never the bytes again."""
    if not attachments:
        return None
    return json.dumps([{"sha256": a.sha256, "filename": a.filename, "content_type": a.content_type}
                       for a in attachments], ensure_ascii=False)


def attach(raw: bytes, attachments_json: str | None, blobs: BlobStore) -> bytes:
    """The complete mail to send: the stored text part plus its attachments read from the blob store."""
    if not attachments_json:
        return raw
    msg = email.message_from_bytes(raw, _class=EmailMessage, policy=POLICY)
    for ref in json.loads(attachments_json):
        maintype, _, subtype = ref["content_type"].partition("/")
        if not subtype or not maintype.isascii():
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(blobs.get(ref["sha256"]), maintype=maintype, subtype=subtype, filename=ref["filename"])
    return msg.as_bytes()


