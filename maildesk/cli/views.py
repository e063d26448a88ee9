"""What the operator CLI prints: readable tables, or stable JSON with --json."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from maildesk.config import Config
from maildesk.models import HeldState, MailState
from maildesk.store import Store, now
from maildesk.store.blobs import BlobStore

if TYPE_CHECKING:  # the read-only views load no pipeline (and no parser, IMAP or SMTP library)
    from maildesk.pipeline import Trace

# C0 and C1 controls (ESC and CSI start terminal escape sequences), DEL, zero-width and bidi controls,
# line and paragraph separators: what a mail could use to rewrite or hide things on the operator's terminal.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def safe(text: str) -> str:
    """Text fit for a terminal: every control character shown as an escape (\\x1b), tab and newline kept."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100
                       else f"\\u{ord(m.group(0)):04x}", text)


def say(*parts: object, file: TextIO | None = None) -> None:
    """print(), but nothing from a mail reaches the terminal raw."""
    print(safe(" ".join(str(p) for p in parts)), file=file or sys.stdout)


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    """A plain fixed-width table; cells are cut at 60 characters."""
    cells = [[str(r.get(c) if r.get(c) is not None else "-").replace("\n", " ")[:60] for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*[c.upper() for c in cols])] + [fmt.format(*row) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def emit(data: object) -> None:
    """JSON for scripts; json escapes C0 itself, the other unsafe characters become \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    print(_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text))


def ticket_list(store: Store, as_json: bool) -> int:
    cols = ["number", "status", "queue", "priority", "customer", "requester", "subject", "updated"]
    return listing(store.ticket_rows(), cols, as_json)


def ticket_record(store: Store, number: int, cfg: Config | None = None) -> dict[str, Any] | None:
    """The `ticket show --json` object (shape fixed by design.md, plus the SLA clock, mails and events).

    With the config, `sla` says for each target whether it is "ok", in "warning" or "breached".
    """
    t = store.ticket(number)
    if t is None:
        return None
    from maildesk.act.sla import state  # the calendars (holidays) only where the SLA is shown
    return {"number": t.number, "subject": t.subject, "status": t.status.value, "queue": t.queue,
            "priority": t.priority, "customer": t.customer_id, "requester": t.requester,
            "assignee": t.assignee, "price": t.price, "due": t.due, "plan": t.plan,
            "first_response_due": t.first_response_due, "resolution_due": t.resolution_due,
            "first_response_at": t.first_response_at, "resolved_at": t.resolved_at, "paused_at": t.paused_at,
            "sla": state(cfg, t) if cfg is not None else {}, "created": t.created,
            "messages": store.message_rows(number), "mails": store.outbox_rows(number),
            "events": store.event_rows(ticket=number)}


def ticket_due(store: Store, cfg: Config, before: str | None, as_json: bool) -> int:
    """`ticket list --overdue` (before = now) or `--due-before DATE` (in the first calendar's time zone)."""
    from maildesk import clock
    from maildesk.decide.calendar import Calendar
    if before:
        day, _, hhmm = before.partition(" ")
        try:
            local = datetime.fromisoformat(f"{day}T{hhmm or '00:00'}")
        except ValueError:
            say(f"--due-before {before}: use YYYY-MM-DD [HH:MM]", file=sys.stderr)
            return 1
        limit = local.replace(tzinfo=Calendar.of(cfg.hours[0]).tz).astimezone(UTC)
    else:
        limit = clock.now()
    rows = store.due_rows(limit.isoformat(timespec="minutes"))
    return listing(rows, ["number", "status", "queue", "plan", "assignee", "first_response_due", "resolution_due",
                          "subject"], as_json)


def ticket_show(store: Store, cfg: Config, number: int, as_json: bool) -> int:
    rec = ticket_record(store, number, cfg)
    if rec is None:
        say(f"no ticket {number}", file=sys.stderr)
        return 1
    if as_json:
        emit(rec)
        return 0
    say(f"#{rec['number']}  {rec['subject']}")
    for key in ("status", "queue", "priority", "plan", "customer", "requester", "assignee", "first_response_due",
                "first_response_at", "resolution_due", "resolved_at", "paused_at"):
        say(f"  {key:<19}{rec[key] if rec[key] is not None else '-'}")
    if rec["sla"]:
        say(f"  {'sla':<19}" + ", ".join(f"{k} {v}" for k, v in rec["sla"].items()))
    for m in rec["messages"]:
        say(f"\n--- {m['direction']}  {m['date']}  {m['from']}")
        say(m["text"])
        for a in m["attachments"]:
            gone = f"  (file purged {a['purged'][:10]})" if a.get("purged") else ""
            say(f"  [attachment] {a['filename']}  {a['size']} bytes  sha256 {a['sha256'][:16]}…{gone}")
    if rec["mails"]:
        say("\nmails sent:")
        say(table(rec["mails"], ["id", "kind", "to", "status", "attempts", "subject"]))
    return 0


def listing(rows: list[dict[str, Any]], cols: list[str], as_json: bool) -> int:
    """A `... list` command: every row as JSON, or the chosen columns as a table."""
    if as_json:
        emit(rows)
    else:
        say(table(rows, cols))
    return 0


def quarantine_list(store: Store, as_json: bool) -> int:
    return listing(store.held_rows(), ["id", "reason", "sender", "subject", "date", "attempts"], as_json)


def quarantine_show(store: Store, qid: int) -> int:
    row = store.held(qid)
    if row is None:
        say(f"no quarantine entry {qid}", file=sys.stderr)
        return 1
    for key in ("id", "status", "reason", "sender", "subject", "date", "attempts", "created", "raw_sha256"):
        say(f"{key:<11}{getattr(row, key)}")
    inbound = store.inbound(row.key)
    if inbound and inbound.last_error:
        say("last error:\n" + inbound.last_error)
    say("\ndecision log:")
    events = store.event_rows(key=row.key)
    say(table(events, ["created", "kind", "detail"]))
    return 0


def outbox_list(store: Store, as_json: bool) -> int:
    cols = ["id", "ticket", "kind", "to", "status", "attempts", "next_attempt", "last_error"]
    return listing(store.outbox_rows(), cols, as_json)


def outbox_retry(store: Store, oid: int) -> int:
    row = store.outbox_mail(oid)
    if row is None:
        say(f"no outbox entry {oid}", file=sys.stderr)
        return 1
    if row.status is MailState.SENT:
        say(f"outbox entry {oid} was sent already; not sending it twice", file=sys.stderr)
        return 1
    with store.transaction():
        store.update_mail(oid, status=MailState.PENDING, next_attempt=now())
        store.event(None, None, "outbox-retry", {"outbox": oid})
    say(f"outbox entry {oid} queued for sending")
    return 0


def customer_show(store: Store, cid: str) -> int:
    c = store.customer(cid)
    if c is None:
        say(f"no customer {cid}", file=sys.stderr)
        return 1
    say(f"{c.id}  {c.name}  language {c.language or '-'}  "
        f"password {'set' if c.password_hash else 'not set'}  since {c.created}")
    if c.plan:
        say(f"plan {c.plan}")
    for product, number in store.licences_of(cid):
        say(f"licence {product} {number}")
    rows = store.contact_rows(cid)
    say(table(rows, ["email", "admin", "added_by", "created"]))
    return 0


def quarantine_drop(store: Store, blobs: BlobStore, qid: int, yes: bool) -> int:
    """Delete a held message (its stored raw copy too, unless a ticket message uses the same bytes)."""
    row = store.held(qid)
    if row is None or row.status is not HeldState.HELD:
        say(f"no held quarantine entry {qid}", file=sys.stderr)
        return 1
    if not yes:
        if not sys.stdin.isatty():
            say("refusing to drop without confirmation: run in a terminal or add --yes", file=sys.stderr)
            return 1
        answer = input(safe(f"Delete quarantined message {qid} ({row.reason}) from {row.sender or '?'}, "
                            f"{row.subject!r}, for good? [y/N] "))
        if answer.strip().lower() not in ("y", "yes"):
            say("kept")
            return 1
    with store.transaction():
        store.set_held_status(qid, HeldState.DROPPED)
        store.event(None, row.key, "dropped", {"quarantine": qid})
    if row.raw_sha256 and row.raw_sha256 not in store.referenced_blobs():
        blobs.remove(row.raw_sha256, idle=0)
    say(f"quarantine entry {qid} dropped")
    return 0


def contact_show(store: Store, cfg: Config, addr: str) -> int:
    """One address: the customers it writes for, and its bounce flag."""
    addr = addr.strip().lower()
    rows = store.customers_of_rows(addr)
    consultant = cfg.consultant_by_email(addr)
    if not rows and consultant is None:
        say(f"{addr} is no contact of any customer and no consultant")
    if consultant is not None:
        say(f"{addr} is a consultant ({consultant.name}; queues {', '.join(consultant.queues) or '-'})")
    if rows:
        say(table(rows, ["customer_id", "name", "admin", "added_by", "created"]))
    from maildesk.decide.bounces import flagged  # flufl.bounce is only worth loading here
    flag = flagged(store, cfg, addr)
    if flag:
        say(f"hard bounce at {flag.at} (outbox {flag.outbox or '-'}): automatic mail to it stops until it writes "
            f"again or {cfg.limits.bounce_expiry_days} days pass")
    else:
        say("no bounce flag: mail to it is sent")
    return 0 if rows or consultant else 1


def trace(t: Trace, as_json: bool) -> int:
    """`rules test`: each step and what it said, the deciding one last."""
    d = t.decision
    if as_json:
        emit({"decision": {"kind": d.kind.value, "reason": d.reason, "detail": d.detail, "ticket": d.ticket},
              "decided_by": t.lines[-1][0], "steps": [{"step": s, "said": said} for s, said in t.lines],
              "route": t.route})
        return 0
    say(table([{"step": s, "said": said} for s, said in t.lines], ["step", "said"]))
    say(f"decision: {d.kind.value}" + (f" #{d.ticket}" if d.ticket else "") + (f" {d.reason}" if d.reason else "")
        + f" (step {t.lines[-1][0]}; nothing was written or sent)")
    if t.route:
        say(f"route: {t.route}")
    return 0
