"""The outbox: a template rendered into a complete mail and queued, inside the transaction that caused it.

The caps (decide.caps) are asked first: a refused mail is never queued, and
the refusal is an event on the ticket. The SMTP side (outbound.smtp) sends
what is queued, after the commit.
"""

from __future__ import annotations

import logging
from typing import Any

from maildesk.config import Config
from maildesk.decide import caps
from maildesk.models import Attachment
from maildesk.outbound.message import Outgoing, build, refs
from maildesk.outbound.render import Renderer
from maildesk.store import Store

log = logging.getLogger("maildesk.notify")


class Outbox:
    """Queues templated mail; one per process, sharing the store's transaction."""

    def __init__(self, cfg: Config, store: Store, renderer: Renderer) -> None:
        self.cfg = cfg
        self.store = store
        self.renderer = renderer
        # 1 while the daemon works through a backlog: its mail waits behind the mail of live messages
        self.priority = 0

    def send(self, template: str, *, rcpt: str, language: str | None, ctx: dict[str, Any], ticket: int | None,
             in_reply_to: str = "", references: tuple[str, ...] = (), attachments: tuple[Attachment, ...] = (),
             auto: str = "auto-replied", from_name: str = "") -> None:
        """Render a template and queue the mail, unless a cap refuses it (then the refusal is an event)."""
        refused = caps.refusal(self.store, self.cfg, template, rcpt, ticket)
        if refused:
            self.store.event(ticket, None, "mail-suppressed", {"kind": template, "to": rcpt, "why": refused})
            log.warning("%s #%s %s to %s not sent: %s", f"<{in_reply_to}>" if in_reply_to else "-", ticket or "-",
                        template, rcpt, refused)
            return
        lang = language or self.cfg.helpdesk.language
        subject, body = self.renderer.render(template, lang, **ctx)
        self.enqueue(build(self.cfg, kind=template, rcpt=rcpt, subject=subject, body=body, ticket=ticket, auto=auto,
                           in_reply_to=in_reply_to, references=references, language=lang, attachments=attachments,
                           from_name=from_name), ticket)

    def enqueue(self, out: Outgoing, ticket: int | None) -> None:
        """Write a built mail to the outbox; its Message-ID threads replies onto the ticket."""
        self.store.enqueue(ticket=ticket, kind=out.kind, message_id=out.message_id, mail_from=self.cfg.helpdesk.address,
                           rcpt=out.rcpt, subject=out.subject, raw=out.raw, attachments=refs(out.attachments),
                           priority=self.priority)
        if ticket is not None:
            self.store.link_message_id(out.message_id, ticket)
        self.store.event(ticket, None, "mail-queued", {"kind": out.kind, "to": out.rcpt, "message_id": out.message_id})
