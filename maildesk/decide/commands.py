"""Consultants' #commands: lines at the top of a consultant's mail.

    #take                      assign the ticket to me
    #assign ADDRESS            assign it to another consultant
    #status open|waiting|resolved|closed
    #note                      the whole mail is an internal note
    #price AMOUNT [CURRENCY]   agreed price, stated in the answer
    #due YYYY-MM-DD [HH:MM] [reason]  a new resolution deadline; the customer is told when it moves later
    #notify                    with #due: tell the customer also when the deadline moves earlier
    #priority normal|express
    #verify                    confirm an unverified (triage) ticket: it opens and the requester is told
    #keepquote                 relay the answer with the quoted history and signature, as written
    #publish [now] [title]     the relayed answer becomes a knowledge-base article (draft, or published now)

Parsing is all-or-nothing: one unknown command or bad value and the mail
changes nothing, so a typo never half-applies.

A customer's admin contact writes `#contact add|remove ADDRESS` lines
(contact_commands); act.access carries them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from maildesk.config import Config

STATUSES = ("open", "waiting", "resolved", "closed")
PRIORITIES = ("normal", "express")
KNOWN = "#take, #assign, #status, #note, #price, #due, #notify, #priority, #verify, #keepquote, #publish"
_DUE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s+(\d{1,2}:\d{2}))?(?:\s+(.*))?$")
_AMOUNT = re.compile(r"^(\d{1,12}(?:[.,]\d{1,2})?)(?:\s+([A-Za-z]{3}))?$")


@dataclass(frozen=True)
class Command:
    name: str
    value: str = ""
    note: str = ""  # #due's reason


def _check(name: str, arg: str, cfg: Config) -> tuple[Command | None, str]:
    """One command, or an error message saying what is wrong with it."""
    if name in ("take", "note", "verify", "keepquote", "notify"):
        return (Command(name), "") if not arg else (None, f"#{name} takes no value")
    if name == "publish":  # #publish [title] / #publish now [title]
        now, _, title = arg.partition(" ") if arg.lower().split(" ")[0] == "now" else ("", "", arg)
        return Command(name, title.strip()[:200], "now" if now else ""), ""
    if name == "assign":
        if cfg.consultant_by_email(arg) is None:
            return None, f"#assign {arg}: not a consultant address"
        return Command(name, arg.lower()), ""
    if name == "status":
        return (Command(name, arg.lower()), "") if arg.lower() in STATUSES else \
            (None, f"#status {arg}: use one of {', '.join(STATUSES)}")
    if name == "priority":
        return (Command(name, arg.lower()), "") if arg.lower() in PRIORITIES else \
            (None, f"#priority {arg}: use one of {', '.join(PRIORITIES)}")
    if name == "price":
        m = _AMOUNT.match(arg)
        if not m:
            return None, f"#price {arg}: use an amount with an optional currency, e.g. #price 1200 CZK"
        return Command(name, m.group(1).replace(",", ".") + (f" {m.group(2).upper()}" if m.group(2) else "")), ""
    if name == "due":
        return _due(arg)
    return None, f"#{name}: unknown command (known: {KNOWN})"


def _due(arg: str) -> tuple[Command | None, str]:
    """#due YYYY-MM-DD [HH:MM] [reason]: value 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM', the reason as its note."""
    m = _DUE.match(arg)
    try:
        day = date.fromisoformat(m.group(1)) if m else None
        hour, minute = (int(x) for x in m.group(2).split(":")) if m and m.group(2) else (0, 0)
        if day is None or not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        return None, f"#due {arg}: use a date as YYYY-MM-DD, an optional time HH:MM, then an optional reason"
    assert m is not None
    value = day.isoformat() + (f" {hour:02d}:{minute:02d}" if m.group(2) else "")
    return Command("due", value, (m.group(3) or "").strip()[:500]), ""


def parse_commands(text: str, cfg: Config) -> tuple[list[Command], str, list[str]]:
    """(commands, the text below them, errors) from the top of a mail."""
    lines = text.replace("\r\n", "\n").split("\n")
    commands: list[Command] = []
    errors: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line and not line.startswith("#"):
            break
        if line:
            name, _, arg = line[1:].partition(" ")
            cmd, err = _check(name.lower(), arg.strip(), cfg)
            if cmd:
                commands.append(cmd)
            else:
                errors.append(err)
        i += 1
    return commands, "\n".join(lines[i:]).strip(), errors


_PRESENCE = re.compile(r"^#(away(?:\s+until\s+\d{4}-\d{2}-\d{2})?|back)\s*$", re.I)


def presence_command(text: str) -> str:
    """'#away', '#away until YYYY-MM-DD' or '#back' when that is the mail's first line, else ''."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    m = _PRESENCE.match(first)
    return re.sub(r"\s+", " ", m.group(0).strip().lower()) if m else ""


_SELF = re.compile(r"^#(status|kb|password)\b\s*(.{0,300})$", re.I)


def self_service_command(subject: str, text: str) -> tuple[str, str] | None:
    """('status', '') or ('kb', words) when the subject or the first line of the text asks for it."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    for candidate in (subject.strip(), first):
        m = _SELF.match(candidate)
        if m:
            return m.group(1).lower(), m.group(2).strip()
    return None


_CONTACT_CMD = re.compile(r"^#contact\s+(add|remove)\s+(\S+)$", re.I)


def contact_commands(text: str) -> list[tuple[str, str]] | None:
    """[(add|remove, address)] when a mail starts with #contact lines, else None.

    A malformed #contact line is kept as ('error', the line), so the admin hears what was refused.
    """
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line:
            continue
        if not line.lower().startswith("#contact"):
            break
        m = _CONTACT_CMD.match(line)
        out.append((m.group(1).lower(), m.group(2)) if m else ("error", line))
    return out or None
