"""The pipeline: what happens to one mail, read top to bottom.

    parse -> redact passwords -> already seen? -> STEPS (decide)
          -> one transaction: store blobs + ACTIONS[decision.kind] + the inbound record

Fetching and acknowledging (the IMAP MOVE) are the caller's: inbound/fetch.py
and daemon.py for IMAP, cli `ingest` for a pipe. Everything here is
synchronous and never awaits inside a transaction, which makes the daemon's
one coroutine the one writer. A new decision is one function in
decide/steps.py and one line in STEPS; a new kind of outcome is one action.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from maildesk import clock, crash
from maildesk.act import access, automatic, held, selfservice, tickets
from maildesk.act.desk import Desk
from maildesk.config import Config
from maildesk.decide import steps
from maildesk.decide.authorise import authorise
from maildesk.decide.route import hours_of, local_time
from maildesk.decide.routing import place
from maildesk.decide.steps import Env, Facts
from maildesk.errors import NotFound
from maildesk.inbound import credentials, licences
from maildesk.inbound.headers import message_key
from maildesk.inbound.worker import ParseWorker
from maildesk.models import Decision, HeldState, Kind, Outcome, ParsedMail, Reason, Sender
from maildesk.outbound.outbox import Outbox
from maildesk.outbound.render import Renderer
from maildesk.store import Store
from maildesk.store.blobs import BlobStore
from maildesk.store.rows import Inbound

log = logging.getLogger("maildesk.pipeline")


@dataclass(frozen=True)
class Step:
    name: str
    check: steps.StepFn


# The decision, in order: the first step that returns a Decision decides.
STEPS: tuple[Step, ...] = (
    Step("label", steps.label),                    # from a person, or automatic?
    Step("no-from", steps.no_from),                # automatic and no usable From: ignored
    Step("sender", steps.sender),                  # consultant, contact or stranger
    Step("defect", steps.defect),                  # unreadable, too large, too deep...: held
    Step("automatic", steps.automatic),            # bounces, auto-replies, lists, own mail: ignored
    Step("credentials", steps.credentials),        # customer ID + password in the mail
    Step("licence", steps.licence),                # Licence: 123456 names the product (and maybe the customer)
    Step("contact-admin", steps.contact_admin),    # an admin's #contact add/remove
    Step("presence", steps.presence),              # a consultant's #away / #back
    Step("self-service", steps.self_service),      # a contact's #status or #kb: answered, no ticket
    Step("thread", steps.thread),                  # continues a ticket it may write on
    Step("unknown-sender", steps.unknown_sender),  # strangers held under "reject"
    Step("rate-limit", steps.rate_limit),          # too many new tickets from one address
    Step("open", steps.open_ticket),               # everything else opens a ticket
)

Action = Callable[[Desk, ParsedMail, Decision, Sender | None, str], int | None]

# What each decision does, in order, inside the message's transaction; an action may name the ticket concerned.
ACTIONS: dict[Kind, tuple[Action, ...]] = {
    Kind.NEW: (automatic.person_wrote, access.count_licence_failure, tickets.open_ticket),
    Kind.FOLLOWUP: (automatic.person_wrote, access.count_licence_failure, tickets.follow_up),
    Kind.ADMIN: (automatic.person_wrote, access.apply_contact_commands),
    Kind.PRESENCE: (access.presence,),
    Kind.SELF_SERVICE: (automatic.person_wrote, selfservice.answer),
    Kind.QUARANTINED: (access.count_licence_failure, held.hold),
    Kind.IGNORED: (automatic.note,),
}


@dataclass(frozen=True)
class Trace:
    """Which step said what about one mail, the deciding one last."""

    decision: Decision
    sender: Sender | None
    lines: tuple[tuple[str, str], ...]
    route: str = ""  # for a new ticket: the rule, queue, plan, assignee and both due times


class Pipeline:
    """Turns raw messages into committed decisions."""

    def __init__(self, cfg: Config, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        self.blobs = BlobStore(cfg.data_dir / "blobs", store)
        self.renderer = Renderer(cfg)
        self.desk = Desk(cfg, store, Outbox(cfg, store, self.renderer))
        self.parse = ParseWorker(cfg.limits, cfg.data_dir)

    def process(self, raw: bytes, *, uidvalidity: int | None = None, uid: int | None = None,
                force: bool = False, oversized: int | None = None) -> Outcome:
        """Process one raw message; a message seen before returns its first outcome unchanged.

        `oversized` (its size) marks a message over limits.max_message_bytes: only its header is parsed.
        """
        legacy = hashlib.sha256(raw).hexdigest()  # the key before trace fields were ignored (mail from an upgrade)
        if oversized:
            return self._commit(Facts(self._header_only(raw)), raw, uidvalidity, uid, detail=f"{oversized} bytes",
                                legacy=legacy)
        mail = self.parse(raw)
        crash.point("process")
        creds, licence = credentials.find(mail.text), licences.find(mail.text)
        found = credentials.to_redact(mail, raw)
        if found:  # before anything is stored: every copy we keep is the redacted one
            raw = credentials.redact(raw, found)
            mail = dataclasses.replace(self.parse(raw), key=mail.key)
            if any(credentials.shows(mail.text, s) for s in found):  # never seen; never stored either
                mail = dataclasses.replace(mail, text=credentials.MASK)
        facts = Facts(mail, creds, released=force, licence=licence)
        return self._commit(facts, raw, uidvalidity, uid, redacted=bool(found), legacy=legacy)

    def _header_only(self, raw: bytes) -> ParsedMail:
        """A mail over limits.max_message_bytes: its header is read, its body never (it is held as too-large)."""
        head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0] + b"\r\n\r\n"
        return dataclasses.replace(self.parse(head), raw=raw, key=message_key(raw), text="", attachments=(),
                                   defect=Reason.TOO_LARGE.value)

    def decide(self, facts: Facts) -> Trace:
        """Walk STEPS until one decides; only reads the store."""
        env = Env(self.cfg, self.store)
        lines: list[tuple[str, str]] = []
        for step in STEPS:
            result = step.check(facts, env)
            if isinstance(result, Decision):  # what earlier steps learned travels with it to the actions
                failed = facts.licence_failed or result.reason == Reason.LICENCE_FAILED
                result = dataclasses.replace(result, product=facts.product, licence_failed=failed)
                lines.append((step.name, " ".join(p for p in (result.kind.value, result.reason, result.detail) if p)))
                return Trace(result, facts.sender, tuple(lines))
            if result is not None:
                facts = result
                lines.append((step.name, result.note or "pass"))
                facts = dataclasses.replace(facts, note="")
            else:
                lines.append((step.name, "pass"))
        raise AssertionError("the last step always decides")

    def _commit(self, facts: Facts, raw: bytes, uidvalidity: int | None, uid: int | None, detail: str = "",
                redacted: bool = False, legacy: str = "") -> Outcome:
        """Decide, then one transaction for the blobs and everything the decision causes."""
        mail, replacement = facts.mail, (raw if redacted else None)
        done = self._seen(mail.key, legacy)
        if done and done.kind and not facts.released:
            return self._duplicate(mail, done, replacement)
        trace = self.decide(facts)
        decision = dataclasses.replace(trace.decision, detail=detail) if detail else trace.decision
        with self.store.transaction():
            # The claim: BEGIN IMMEDIATE serialises writers, so of two processes holding the same
            # message (an MTA delivering twice) only the first commits; the other finds its outcome here.
            done = self._seen(mail.key, legacy)
            if done and done.kind and not facts.released:
                winner: Inbound | None = done
            else:
                winner = None
                ticket = None
                raw_sha = self._store_blobs(raw, mail, decision.kind)
                for act in ACTIONS[decision.kind]:
                    ticket = act(self.desk, mail, decision, trace.sender, raw_sha) or ticket
                self.store.record_inbound(
                    mail.key, message_id=mail.message_id, sender=mail.from_addr, subject=mail.subject,
                    outcome=decision.kind.value, ticket=ticket, reason=decision.reason, uidvalidity=uidvalidity,
                    uid=uid, raw_sha256=raw_sha, redacted=int(redacted))
                crash.point("before-commit")
        if winner is not None:
            return self._duplicate(mail, winner, replacement)
        log.info("%s #%s %s", mail.log_id, ticket or "-",
                 " ".join(p for p in (decision.kind.value, decision.reason, decision.detail and f"({decision.detail})")
                          if p))
        log.debug("%s #%s decided by step %s", mail.log_id, ticket or "-", trace.lines[-1][0])
        return Outcome(mail.key, decision.kind, ticket, decision.reason, replacement=replacement)

    def _store_blobs(self, raw: bytes, mail: ParsedMail, kind: Kind) -> str:
        """The raw mail and, for a ticket, its attachments; inside the transaction, where the small ones are rows."""
        raw_sha = self.blobs.put(raw)
        if kind in (Kind.NEW, Kind.FOLLOWUP):  # a quarantined mail keeps only its raw bytes
            for att in mail.attachments:
                if att.stored is None:  # a big one the parse worker stored already (durably)
                    self.blobs.put(att.data)
        return raw_sha

    def _seen(self, key: str, legacy: str) -> Inbound | None:
        """The first outcome of this message, under its key or (mail from before an upgrade) its old key."""
        return self.store.inbound(key) or (self.store.inbound(legacy) if legacy and legacy != key else None)

    def _duplicate(self, mail: ParsedMail, done: Inbound, replacement: bytes | None) -> Outcome:
        """A message seen before: its first outcome, unchanged, and nothing done again."""
        log.info("%s #%s duplicate: already %s", mail.log_id, done.ticket or "-", done.outcome)
        assert done.kind is not None
        return Outcome(mail.key, done.kind, done.ticket, done.reason or "", duplicate=True, replacement=replacement)

    def trace(self, raw: bytes) -> Trace:
        """What the steps would decide for a mail now, without writing anything (`maildesk rules test`)."""
        if len(raw) > self.cfg.limits.max_message_bytes:
            mail = self._header_only(raw)
            trace = self.decide(Facts(mail))
        else:
            mail = self.parse(raw)
            trace = self.decide(Facts(mail, credentials.find(mail.text), licence=licences.find(mail.text)))
        if trace.decision.kind is Kind.NEW and trace.sender is not None:
            trace = dataclasses.replace(trace, route=self._route(trace.sender, mail, trace.decision.product))
        done = self._seen(message_key(raw), hashlib.sha256(raw).hexdigest())
        if done and done.kind:  # said first: a new delivery of it would change nothing
            seen = ("seen", f"already {done.outcome}" + (f" #{done.ticket}" if done.ticket else "")
                    + "; delivered again it changes nothing, released it would be decided as below")
            return dataclasses.replace(trace, lines=(seen, *trace.lines))
        return trace

    def _route(self, sender: Sender, mail: ParsedMail, product: str) -> str:
        """Where a new ticket of this mail would go now, and when it would be due (as open_ticket places it)."""
        at = place(self.cfg, self.store, mail, sender, clock.now(), product)
        hours = hours_of(self.cfg, at.plan)
        return (f"{at.why}; queue {at.queue}, plan {at.plan.name}, priority {at.priority}, "
                f"assignee {at.assignee or '-'}, first response due {local_time(at.first_response_due, hours)}, "
                f"resolution due {local_time(at.resolution_due, hours)}")

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
            held.hold(self.desk, mail, Decision(Kind.QUARANTINED, reason=reason), sender, raw_sha, attempts)
            self.store.record_inbound(mail.key, outcome=Kind.QUARANTINED.value, reason=reason, raw_sha256=raw_sha)
        log.error("%s #- quarantined %s after %d attempts: %s", mail.log_id, reason, attempts, error)
        return Outcome(mail.key, Kind.QUARANTINED, None, reason)

    def release(self, qid: int) -> Outcome:
        """Reprocess a quarantined message (e.g. after the sender was added as a contact)."""
        entry = self.store.held(qid)
        if entry is None or entry.status is not HeldState.HELD or not entry.raw_sha256:
            raise NotFound(f"no held quarantine entry {qid}")
        outcome = self.process(self.blobs.get(entry.raw_sha256), force=True)
        with self.store.transaction():
            self.store.set_held_status(qid, HeldState.RELEASED)
            self.store.event(outcome.ticket, entry.key, "released", {"quarantine": qid, "outcome": outcome.kind.value})
        return outcome
