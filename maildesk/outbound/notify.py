"""Notify stage: render templates into complete outgoing mails and queue them in the outbox.

Templates are files under templates/<lang>/<name>.txt: a `Subject:` line, a
blank line, then the body. They are rendered with jinja2 and StrictUndefined;
mail content is only ever passed in as data, never compiled as a template.
Every header value that came from a mail is cleaned before it goes out.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import functools
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jinja2

from maildesk.config import Config
from maildesk.decide import caps
from maildesk.decide.classify import LOOP_HEADER
from maildesk.errors import ConfigError
from maildesk.inbound.parse import clean_header
from maildesk.models import Attachment
from maildesk.outbound.samples import SAMPLES
from maildesk.store.blobs import BlobStore
from maildesk.store.db import Store, now

log = logging.getLogger("maildesk.notify")

TEMPLATES = ("confirmation", "unknown_sender", "consultant_new", "consultant_followup", "consultant_note",
             "answer", "resolved", "command_error", "bad_credentials", "contact_added", "contact_removed", "too_large",
             "contact_error", "held", "consultant_held")
LANGUAGES = ("en", "cs", "sk")
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


class Renderer:
    """jinja2 over the site's templates_dir (file by file) in front of the packaged templates.

    Every template is compiled once, here, and kept: a file edited or removed
    while the daemon runs cannot make mail fail one by one. `problems()` says
    what is wrong; `validate()` turns that into a ConfigError for start-up.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        site = cfg.templates_dir
        self.missing_dir = site is not None and not site.is_dir()
        self.available, self.compiled, self.errors = _compile(
            str(site) if site is not None and not self.missing_dir else None, _signature(site))

    def pick(self, name: str, language: str | None) -> str:
        """The template path for a language, falling back to the helpdesk language, then English."""
        for lang in (language, self.cfg.helpdesk.language, "en"):
            if lang and f"{lang}/{name}.txt" in self.available:
                return f"{lang}/{name}.txt"
        raise jinja2.TemplateNotFound(f"{name}.txt")

    def render(self, name: str, language: str | None, **ctx: Any) -> tuple[str, str]:
        """(subject, body) of a template."""
        path = self.pick(name, language)
        if path in self.errors:
            raise jinja2.TemplateError(self.errors[path])
        text = self.compiled[path].render(helpdesk=self.cfg.helpdesk, **ctx)
        head, _, body = text.partition("\n\n")
        if not head.lower().startswith("subject:"):
            raise jinja2.TemplateError(f"{name}: the first line must be 'Subject: ...'")
        return clean_header(head[len("subject:"):]), body.strip() + "\n"

    def problems(self) -> list[str]:
        """Every template in every language rendered with sample data; what failed, with the file."""
        if self.missing_dir:
            return [f"templates_dir {self.cfg.templates_dir} does not exist (helpdesk.templates_dir)"]
        out = []
        for lang in LANGUAGES:
            for name in TEMPLATES:
                path = f"{lang}/{name}.txt"
                if path not in self.available:
                    out.append(f"{path}: missing")
                    continue
                try:
                    self.render(name, lang, **{**SAMPLES[name], "hours": self.cfg.hours})
                except jinja2.TemplateError as exc:
                    out.append(f"{self.origin(path)}: {exc}")
        return out

    def origin(self, path: str) -> str:
        """Where a template comes from: the site's file, or the packaged one."""
        site = self.cfg.templates_dir
        if site is not None and (site / path).is_file():
            return str(site / path)
        return f"packaged {path}"

    def validate(self) -> None:
        """Refuse to start with templates that would fail mail after mail (exit 78 in the CLI)."""
        problems = self.problems()
        if problems:
            raise ConfigError("templates do not render: " + "; ".join(problems), key="helpdesk.templates_dir")


def _signature(site: Path | None) -> tuple[tuple[str, float, int], ...]:
    """What the site's template files are now: a changed file compiles anew."""
    if site is None or not site.is_dir():
        return ()
    return tuple(sorted((str(p), p.stat().st_mtime, p.stat().st_size) for p in site.rglob("*.txt")))


@functools.lru_cache(maxsize=8)
def _compile(site: str | None, signature: tuple[tuple[str, float, int], ...]) -> tuple[
        frozenset[str], dict[str, jinja2.Template], dict[str, str]]:
    """Every template compiled once per process and set of site files (compiling all takes ~0.15 s)."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(site)] if site else []
    loaders.append(jinja2.PackageLoader("maildesk", "sample/templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True, auto_reload=False)
    available = frozenset(env.list_templates(extensions=["txt"]))
    compiled: dict[str, jinja2.Template] = {}
    errors: dict[str, str] = {}
    for path in sorted(available):
        try:
            compiled[path] = env.get_template(path)
        except jinja2.TemplateError as exc:
            errors[path] = f"{exc.__class__.__name__}: {exc}"
    return available, compiled, errors


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


def send_template(store: Store, renderer: Renderer, template: str, *, rcpt: str, language: str | None,
                  ctx: dict[str, Any], ticket: int | None, in_reply_to: str = "", references: tuple[str, ...] = (),
                  attachments: tuple[Attachment, ...] = (), auto: str = "auto-replied", from_name: str = "") -> None:
    """Render a template and queue the mail; call inside the transaction of the change that caused it."""
    cfg = renderer.cfg
    refused = caps.refusal(store, cfg, template, rcpt, ticket)
    if refused:
        store.event(ticket, None, "mail-suppressed", {"kind": template, "to": rcpt, "why": refused})
        log.warning("%s #%s %s to %s not sent: %s", f"<{in_reply_to}>" if in_reply_to else "-", ticket or "-",
                    template, rcpt, refused)
        return
    lang = language or cfg.helpdesk.language
    subject, body = renderer.render(template, lang, **ctx)
    out = build(cfg, kind=template, rcpt=rcpt, subject=subject, body=body, ticket=ticket, auto=auto,
                in_reply_to=in_reply_to, references=references, language=lang, attachments=attachments,
                from_name=from_name)
    enqueue(store, cfg, out, ticket)


def enqueue(store: Store, cfg: Config, out: Outgoing, ticket: int | None) -> None:
    """Write a mail to the outbox; call inside the transaction of the change that caused it."""
    store.db["outbox"].insert({
        "ticket": ticket, "kind": out.kind, "message_id": out.message_id, "mail_from": cfg.helpdesk.address,
        "rcpt": out.rcpt, "subject": out.subject, "raw": out.raw, "attachments": refs(out.attachments),
        "status": "pending", "attempts": 0,
        "next_attempt": now(), "created": now(),
    })
    if ticket is not None:
        store.db["thread_ids"].upsert({"message_id": out.message_id, "ticket": ticket}, pk="message_id")
    store.event(ticket, None, "mail-queued", {"kind": out.kind, "to": out.rcpt, "message_id": out.message_id})


def check_templates(cfg: Config) -> list[str]:
    """Render every template in every language with sample data; return the problems found."""
    return Renderer(cfg).problems()
