"""The pipeline, written once in the order the data flows.

    parse -> (already done?) -> classify -> authorise -> thread or open -> rules
          -> store (one transaction: ticket, message, attachments, outbox, events)

Fetching and acknowledging (the IMAP MOVE) are the caller's: fetch.py for
IMAP, cli.py for `ingest`. Everything here is synchronous and never awaits
inside a transaction, which makes the daemon's one coroutine the one writer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re

from maildesk import clock, crash
from maildesk.act import access, consultants
from maildesk.config import Config
from maildesk.decide import bounces, caps
from maildesk.decide.authorise import BAD, OK, authorise, check_credentials, may_write, record_credential_failure
from maildesk.decide.classify import BOUNCE, HUMAN, classify
from maildesk.decide.route import local_time, queue_position, route
from maildesk.decide.thread import find_ticket, format_tag, strip_tag, tag_is_genuine
from maildesk.errors import NotFound
from maildesk.inbound import credentials
from maildesk.inbound.extract import new_text
from maildesk.inbound.parse import ParseWorker, message_key
from maildesk.models import Decision, Kind, Outcome, ParsedMail, Reason, Sender
from maildesk.outbound.notify import Renderer, send_template
from maildesk.store.blobs import BlobStore
from maildesk.store.db import Store, now

log = logging.getLogger("maildesk.pipeline")


HELD_WHY = {
    Reason.RATE_LIMITED.value: "more than {limit} new requests from one address within an hour",
    Reason.TOO_MANY_ATTACHMENTS.value: "it has more attachments than we accept in one mail ({max_attachments})",
    Reason.ATTACHMENTS_TOO_LARGE.value: "its attachments are larger than we accept in one mail",
    Reason.TOO_DEEP.value: "its structure is nested too deeply to read safely",
    Reason.TOO_MANY_PARTS.value: "it has more parts than we accept in one mail",
    Reason.HEADERS_TOO_LARGE.value: "its header is larger than we accept",
    Reason.PARSE_TIMEOUT.value: "it took too long to read",
    Reason.UNPARSEABLE.value: "it could not be read",
    Reason.PROCESSING_FAILED.value: "processing it failed",
}


def held_reason(d: Decision, cfg: Config) -> str:
    """A sentence for the sender and the consultants on why a known sender's mail is held."""
    why = HELD_WHY.get(d.reason, d.reason)
    return why.format(limit=cfg.limits.new_tickets_per_hour, max_attachments=cfg.limits.max_attachments)


def label(mail: ParsedMail) -> str:
    """How a mail is named in logs: its Message-ID, or its key when it has none."""
    return f"<{mail.message_id}>" if mail.message_id else f"key:{mail.key[:16]}"


class Pipeline:
    """Turns raw messages into committed decisions."""

    def __init__(self, cfg: Config, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        self.blobs = BlobStore(cfg.data_dir / "blobs")
        self.renderer = Renderer(cfg)
        self.parse = ParseWorker(cfg.limits)

    def process(self, raw: bytes, *, uidvalidity: int | None = None, uid: int | None = None,
                force: bool = False, oversized: int | None = None) -> Outcome:
        """Process one raw message; a message seen before returns its first outcome unchanged.

        `oversized` (its size) marks a message over limits.max_message_bytes: only its header is parsed.
        """
        legacy = hashlib.sha256(raw).hexdigest()  # the key before trace fields were ignored (mail from an upgrade)
        if oversized:
            head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0] + b"\r\n\r\n"
            mail = dataclasses.replace(self.parse(head), raw=raw, key=message_key(raw), text="",
                                       attachments=(), defect=Reason.TOO_LARGE.value)
            return self._commit(mail, raw, None, uidvalidity, uid, detail=f"{oversized} bytes", legacy=legacy)
        mail = self.parse(raw)
        crash.point("process")
        creds = credentials.find(mail.text)
        found = credentials.passwords_in_message(raw, mail.text)
        if found:  # before anything is stored: every copy we keep is the redacted one
            raw = credentials.redact(raw, found)
            mail = dataclasses.replace(self.parse(raw), key=mail.key)
            if any(credentials.shows(mail.text, s) for s in found):  # never seen; never stored either
                mail = dataclasses.replace(mail, text=credentials.MASK)
        return self._commit(mail, raw, creds, uidvalidity, uid, force=force, redacted=bool(found), legacy=legacy)

    def _commit(self, mail: ParsedMail, raw: bytes, creds: credentials.Credentials | None, uidvalidity: int | None,
                uid: int | None, force: bool = False, detail: str = "", redacted: bool = False,
                legacy: str = "") -> Outcome:
        """decide, store files, then one transaction for everything the decision causes."""
        replacement = raw if redacted else None
        done = self._seen(mail.key, legacy)
        if done and done["outcome"] and not force:
            return self._duplicate(mail, done, replacement)
        decision, sender = self.decide(mail, creds, released=force)
        if detail:
            decision = dataclasses.replace(decision, detail=detail)
        raw_sha = self.blobs.put(raw)
        if decision.kind in (Kind.NEW, Kind.FOLLOWUP):  # a quarantined mail keeps only its raw bytes
            for att in mail.attachments:
                self.blobs.put(att.data)
        with self.store.transaction():
            # The claim: BEGIN IMMEDIATE serialises writers, so of two processes holding the same
            # message (an MTA delivering twice) only the first commits; the other finds its outcome here.
            done = self._seen(mail.key, legacy)
            if done and done["outcome"] and not force:
                winner = done
            else:
                winner = None
                ticket = self.apply(mail, decision, sender, raw_sha)
                self.store.db["inbound"].upsert({
                    "key": mail.key, "message_id": mail.message_id, "sender": mail.from_addr,
                    "subject": mail.subject, "outcome": decision.kind.value, "ticket": ticket,
                    "reason": decision.reason, "uidvalidity": uidvalidity, "uid": uid, "raw_sha256": raw_sha,
                    "redacted": int(redacted), "updated": now(),
                }, pk="key")
                crash.point("before-commit")
        if winner is not None:
            return self._duplicate(mail, winner, replacement)
        log.info("%s #%s %s", label(mail), ticket or "-",
                 " ".join(p for p in (decision.kind.value, decision.reason, decision.detail and f"({decision.detail})") if p))
        return Outcome(mail.key, decision.kind, ticket, decision.reason, replacement=replacement)

    def _seen(self, key: str, legacy: str) -> dict | None:
        """The first outcome of this message, under its key or (mail from before an upgrade) its old key."""
        return self.store.inbound(key) or (self.store.inbound(legacy) if legacy and legacy != key else None)

    def _duplicate(self, mail: ParsedMail, done: dict, replacement: bytes | None) -> Outcome:
        """A message seen before: its first outcome, unchanged, and nothing done again."""
        log.info("%s #%s duplicate: already %s", label(mail), done["ticket"] or "-", done["outcome"])
        return Outcome(mail.key, Kind(done["outcome"]), done["ticket"], done["reason"] or "", duplicate=True,
                       replacement=replacement)

    def decide(self, mail: ParsedMail, creds: credentials.Credentials | None = None,
               released: bool = False) -> tuple[Decision, Sender | None]:
        """classify -> authorise -> thread: what should happen to this mail (`released`: an operator said go)."""
        if mail.defect == Reason.TOO_LARGE.value and mail.from_addr:
            return Decision(Kind.QUARANTINED, reason=mail.defect), authorise(mail, self.store, self.cfg)
        kind = classify(mail, self.cfg)
        if mail.defect == Reason.BAD_FROM.value and kind != HUMAN:  # e.g. a bounce from "MAILER-DAEMON <>"
            return Decision(Kind.IGNORED, reason=kind, detail="no usable From"), None
        if mail.defect:  # the sender, when known, is told (and so is the queue)
            return Decision(Kind.QUARANTINED, reason=mail.defect), \
                authorise(mail, self.store, self.cfg) if mail.from_addr else None
        if kind != HUMAN:
            return Decision(Kind.IGNORED, reason=kind), None
        sender = authorise(mail, self.store, self.cfg)
        if creds and creds.customer_id:
            verdict = self._credentials(mail, creds, sender)
            if isinstance(verdict, Decision):
                return verdict, sender
            sender = verdict
        if sender.role == "contact" and access.contact_commands(mail.whole_text) is not None \
                and access.is_admin(self.store, sender.customer_id, sender.address):
            return Decision(Kind.ADMIN, customer_id=sender.customer_id), sender
        threaded = self._thread(mail, sender)
        if isinstance(threaded, Decision):
            return threaded, sender
        detail, parent = threaded
        policy = self.cfg.authorise.unknown_sender
        if sender.role == "stranger" and policy == "reject":
            return Decision(Kind.QUARANTINED, reason=Reason.UNKNOWN_SENDER.value, detail=detail), sender
        if sender.role != "consultant" and not released and not caps.may_open(self.store, self.cfg, sender.address):
            return Decision(Kind.QUARANTINED, reason=Reason.RATE_LIMITED.value,
                            detail=f"more than {self.cfg.limits.new_tickets_per_hour} new tickets in an hour"), sender
        return Decision(Kind.NEW, detail=detail or f"{sender.role} {sender.address}", parent=parent,
                        triage=sender.role == "stranger" and policy == "triage"), sender

    def _credentials(self, mail: ParsedMail, creds: credentials.Credentials, sender: Sender) -> Sender | Decision:
        """The sender as the credentials make it, or a quarantine decision when they fail for a stranger."""
        verdict = check_credentials(self.store, creds, mail.from_addr)
        if verdict == OK:
            return sender if sender.role == "consultant" else \
                Sender(sender.address, sender.name, "credentials", creds.customer_id)
        if sender.role == "stranger":
            reason = Reason.BAD_CREDENTIALS if verdict == BAD else Reason.CREDENTIALS_BACKOFF
            return Decision(Kind.QUARANTINED, reason=reason.value, customer_id=creds.customer_id)
        logging.getLogger("maildesk.auth").warning("%s #- credentials for %s failed; %s is authorised by address",
                                                   label(mail), creds.customer_id, sender.address)
        return sender

    def _thread(self, mail: ParsedMail, sender: Sender) -> Decision | tuple[str, int | None]:
        """A follow-up decision, or (why no thread was taken, closed parent ticket) for a new ticket."""
        number, clue = find_ticket(mail, self.store, self.cfg)
        if number is None:
            return "", None
        ticket = self.store.ticket(number)
        if not may_write(sender, ticket):
            detail = f"{sender.address} may not write on #{number}; {clue} ignored"
            if clue == "tag" and self.cfg.helpdesk.tag_secret:
                detail += "; tag check code " + ("valid: leaked tag?" if tag_is_genuine(mail.subject, self.cfg)
                                                 else "wrong or missing: forged tag")
            logging.getLogger("maildesk.auth").warning("%s #%s refused: %s", label(mail), number, detail)
            return detail, None
        if ticket["status"] == "closed" and sender.role != "consultant" and self.cfg.helpdesk.closed_reply == "new-ticket":
            return f"#{number} is closed", number
        return Decision(Kind.FOLLOWUP, ticket=number, detail=f"by {clue}")

    # -- apply: inside the transaction -------------------------------------------

    def apply(self, mail: ParsedMail, d: Decision, sender: Sender | None, raw_sha: str) -> int | None:
        """Write what the decision means; returns the ticket number, if any."""
        if d.kind in (Kind.NEW, Kind.FOLLOWUP, Kind.ADMIN) and sender is not None:
            bounces.clear(self.store, sender.address, mail.key)  # a person wrote from it: the address works
        if d.kind is Kind.NEW:
            return self._open(mail, sender, raw_sha, d)
        if d.kind is Kind.FOLLOWUP:
            return self._follow_up(mail, d.ticket, sender, raw_sha)
        if d.kind is Kind.ADMIN:
            access.apply_contact_commands(self, mail, sender)
            return None
        if d.kind is Kind.QUARANTINED:
            qid = self.quarantine(mail, d.reason, raw_sha)
            self.explain(mail, d, sender, qid)
            return None
        # automatic mail: never a customer message, never a reply; an event on the ticket it concerns
        related = bounces.record(self.store, self.cfg, mail) if d.reason == BOUNCE else None
        if related is None:
            related = find_ticket(mail, self.store, self.cfg)[0]
        self.store.event(related, mail.key, "automatic-mail", {"class": d.reason, "from": mail.from_addr,
                                                                "subject": mail.subject})
        return None

    def explain(self, mail: ParsedMail, d: Decision, sender: Sender | None, qid: int) -> None:
        """Who hears of a quarantined mail: strangers get one explanation, known senders and their queue are told."""
        if sender is None:
            return
        if d.reason == Reason.UNKNOWN_SENDER.value:
            self.notice(mail, "unknown_sender", {"sender": mail.from_addr})
            return
        if d.reason in (Reason.BAD_CREDENTIALS.value, Reason.CREDENTIALS_BACKOFF.value):
            if d.reason == Reason.BAD_CREDENTIALS.value:  # while a backoff holds, nothing more is sent
                record_credential_failure(self.store, self.cfg, mail.from_addr, d.customer_id or "", mail.key)
                self.notice(mail, "bad_credentials", {"sender": mail.from_addr})
            return
        if sender.role == "stranger":
            return  # caps are for strangers: they hear nothing more than the one explanation above
        why = held_reason(d, self.cfg)
        if d.reason == Reason.TOO_LARGE.value:
            self.notice(mail, "too_large", {"subject": mail.subject, "size_mb": round(int(d.detail.split()[0]) / 2**20, 1),
                                            "limit_mb": round(self.cfg.limits.max_message_bytes / 2**20, 1)})
        elif self.store.notice_allowed(mail.from_addr, f"held:{d.reason}", 1):
            self._send("held", mail, None, self._language(sender), {
                "ticket": None, "reason": d.reason, "why": why,
                "limit": self.cfg.limits.new_tickets_per_hour})
        consultants.notify_held(self, mail, sender, d.reason, why, qid)

    def _language(self, sender: Sender) -> str:
        row = self.store.one("SELECT language FROM customers WHERE id = ?", (sender.customer_id,)) \
            if sender.customer_id else None
        return (row or {}).get("language") or self.cfg.helpdesk.language

    def _open(self, mail: ParsedMail, sender: Sender, raw_sha: str, d: Decision) -> int:
        store, cfg = self.store, self.cfg
        number = store.next_ticket_number()
        if sender.role != "consultant":
            caps.take_token(store, cfg, sender.address)
        customer = store.one("SELECT * FROM customers WHERE id = ?", (sender.customer_id,)) if sender.customer_id else None
        r = route(cfg, clock.now())
        store.db["tickets"].insert({
            "number": number, "subject": strip_tag(mail.subject, cfg.helpdesk.tag) or "(no subject)",
            "status": "unverified" if d.triage else "open",
            "queue": cfg.authorise.triage_queue if d.triage else r.queue, "priority": r.priority,
            "customer_id": sender.customer_id, "requester": sender.address, "comm_address": sender.address,
            "assignee": None, "first_response_due": r.first_response_due.isoformat(timespec="minutes"),
            "language": (customer or {}).get("language") or cfg.helpdesk.language,
            "created": now(), "updated": now(), "parent": d.parent,
        })
        self.message(number, mail, "in", raw_sha)
        store.event(number, mail.key, "opened", {"by": sender.address, "role": sender.role, "parent": d.parent,
                                                 "triage": d.triage})
        if sender.role == "credentials" and cfg.authorise.remember_credential_senders:
            access.remember(self, sender, mail.key)
        if not d.triage:  # an unverified ticket is confirmed when someone verifies it
            self.confirm(number, sender.name)
        consultants.notify_new(self, number, mail)
        return number

    def confirm(self, number: int, requester_name: str = "") -> None:
        """The confirmation to the requester: number, tag, queue position, response target, hints."""
        t = self.store.ticket(number)
        first = self.store.one("SELECT message_id, subject FROM messages WHERE ticket = ? ORDER BY id LIMIT 1",
                               (number,)) or {"message_id": ""}
        customer = self.store.one("SELECT name FROM customers WHERE id = ?", (t["customer_id"],)) or {}
        ctx = {
            "ticket": {"number": number, "tag": format_tag(self.cfg, number), "subject": t["subject"],
                       "queue": t["queue"], "position": queue_position(self.store, t["queue"], number),
                       "due": local_time(t["first_response_due"], self.cfg.hours), "priority": t["priority"],
                       "parent": t["parent"]},
            "customer_name": customer.get("name", ""), "requester_name": requester_name, "hours": self.cfg.hours,
        }
        send_template(self.store, self.renderer, "confirmation", rcpt=t["comm_address"], language=t["language"],
                      ctx=ctx, ticket=number, in_reply_to=first["message_id"] or "")

    def _follow_up(self, mail: ParsedMail, number: int, sender: Sender, raw_sha: str) -> int:
        if sender.role == "consultant":
            outcome = consultants.handle_reply(self, mail, number, sender, raw_sha)
            self.store.event(number, mail.key, "consultant-mail", {"by": sender.address, "result": outcome})
            consultants.log.info("%s #%s %s: %s", label(mail), number, sender.address, outcome)
            return number
        ticket = self.store.ticket(number)
        reopened = ticket["status"] in ("waiting", "resolved", "closed")
        new = new_text(mail.text, mail.html)  # the ticket holds the new text; the whole mail stays too
        self.message(number, mail, "in", raw_sha, text=new.text or mail.text,
                     original=mail.text if new.hidden else None)
        self.store.db["tickets"].update(number, {"updated": now(), **({"status": "open"} if reopened else {})})
        self.store.event(number, mail.key, "follow-up", {"by": sender.address, "reopened": reopened})
        consultants.notify_followup(self, self.store.ticket(number), mail, reopened, new)
        if self.cfg.helpdesk.confirm_followups:
            self.confirm(number, sender.name)
        return number

    def message(self, number: int, mail: ParsedMail, direction: str, raw_sha: str, text: str | None = None,
                original: str | None = None, to: str | None = None) -> None:
        """Record a mail on a ticket: its text (or the part of it that counts), attachments, thread ID."""
        row = self.store.db["messages"].insert({
            "ticket": number, "direction": direction, "message_id": mail.message_id, "message_key": mail.key,
            "from_addr": mail.from_addr, "to_addrs": to or ", ".join(mail.to + mail.cc), "date": mail.date,
            "subject": mail.subject, "text": mail.text if text is None else text, "original_text": original,
            "raw_sha256": raw_sha, "created": now(),
        })
        for att in mail.attachments:
            self.store.db["attachments"].insert({"message": row.last_pk, "filename": att.filename,
                                                 "content_type": att.content_type, "size": att.size,
                                                 "sha256": att.sha256})
        if mail.message_id:
            self.store.db["thread_ids"].upsert({"message_id": mail.message_id, "ticket": number}, pk="message_id")

    def _send(self, template: str, mail: ParsedMail, number: int | None, language: str, ctx: dict) -> None:
        """A templated answer to the sender of `mail`."""
        send_template(self.store, self.renderer, template, rcpt=mail.from_addr, language=language, ctx=ctx,
                      ticket=number, in_reply_to=mail.message_id, references=mail.references)

    def notice(self, mail: ParsedMail, template: str, ctx: dict) -> None:
        """An explanation to the sender, at most once per address, kind and notice interval."""
        if not self.store.notice_allowed(mail.from_addr, template, self.cfg.authorise.notice_interval_hours):
            self.store.event(None, mail.key, "notice-suppressed", {"to": mail.from_addr, "kind": template})
            return
        self._send(template, mail, None, self.cfg.helpdesk.language, ctx)

    def quarantine(self, mail: ParsedMail, reason: str, raw_sha: str, attempts: int = 1) -> int:
        """Hold a message for an operator, with its reason code; returns the quarantine ID."""
        row = self.store.db["quarantine"].insert({
            "key": mail.key, "reason": reason, "sender": mail.from_addr, "subject": mail.subject,
            "date": mail.date, "raw_sha256": raw_sha, "attempts": attempts, "status": "held", "created": now(),
        })
        self.store.event(None, mail.key, "quarantined", {"reason": reason, "from": mail.from_addr})
        return int(row.last_pk)

    def give_up(self, raw: bytes, error: str, attempts: int) -> Outcome:
        """Quarantine a message whose processing kept failing, so it never blocks the mailbox."""
        mail = self.parse(raw)
        raw_sha = self.blobs.put(raw)
        reason = Reason.PROCESSING_FAILED.value
        try:
            sender = authorise(mail, self.store, self.cfg) if mail.from_addr else None
        except Exception:  # what failed may be exactly this: the mail is kept all the same
            sender = None
        with self.store.transaction():
            qid = self.quarantine(mail, reason, raw_sha, attempts)
            self.explain(mail, Decision(Kind.QUARANTINED, reason=reason), sender, qid)
            self.store.db["inbound"].upsert({"key": mail.key, "outcome": Kind.QUARANTINED.value, "reason": reason,
                                             "raw_sha256": raw_sha, "updated": now()}, pk="key")
        log.error("%s #- quarantined %s after %d attempts: %s", label(mail), reason, attempts, error)
        return Outcome(mail.key, Kind.QUARANTINED, None, reason)

    def release(self, qid: int) -> Outcome:
        """Reprocess a quarantined message (e.g. after the sender was added as a contact)."""
        row = self.store.one("SELECT * FROM quarantine WHERE id = ?", (qid,))
        if not row or row["status"] != "held":
            raise NotFound(f"no held quarantine entry {qid}")
        outcome = self.process(self.blobs.get(row["raw_sha256"]), force=True)
        with self.store.transaction():
            self.store.db["quarantine"].update(qid, {"status": "released"})
            self.store.event(outcome.ticket, row["key"], "released", {"quarantine": qid, "outcome": outcome.kind.value})
        return outcome
