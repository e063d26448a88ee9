"""rules.toml as frozen dataclasses: every key has a default and a sentence of help.

The schema below is the documentation: `maildesk check`, the README table and
the tests all read it. Errors name the key and, where the file has it, the line.
"""

import dataclasses
import os
import re
import ssl
import tomllib
import typing
from dataclasses import MISSING, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from maildesk.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def opt(default: Any, help: str, choices: tuple[str, ...] = ()) -> Any:
    """A config key with a default value, help text and optional allowed values."""
    kw: dict[str, Any] = {"metadata": {"help": help, "choices": choices}}
    if isinstance(default, list):
        kw["default_factory"] = lambda d=default: list(d)
    else:
        kw["default"] = default
    return field(**kw)


def req(help: str) -> Any:
    """A required config key."""
    return field(metadata={"help": help, "choices": ()})


@dataclass(frozen=True)
class Helpdesk:
    name: str = req("Name of the helpdesk, used in mail signatures and the From display name.")
    address: str = req("The helpdesk mail address customers write to; also the Reply-To of everything sent.")
    tag: str = req("Subject tag prefix: tickets are tagged [TAG #N].")
    language: str = opt("en", "Default template language when the customer has none.", ("en", "cs", "sk"))
    data_dir: str = opt("var", "Directory for the SQLite database, raw mails and attachments (relative to rules.toml).")
    templates_dir: str = opt("", "Directory of site templates (relative to rules.toml) that override the packaged ones file by file (<lang>/<name>.txt); empty: the packaged templates only. Set but missing: `run` refuses to start.")
    confirm_followups: bool = opt(False, "Also send a confirmation for each follow-up mail, not only for new tickets.")
    tag_secret: str = opt("", "Optional secret: tags get an HMAC check code ([EX #42-k7f]) and Message-IDs an HMAC, so guessed tags are recognised as forged.")
    default_plan: str = opt("", "Service plan of customers without one (a [[plan]] name); empty: the implicit plan `standard` from [sla] and the first calendar.")
    closed_reply: str = opt("new-ticket", "A customer's reply to a closed ticket opens a new ticket that refers to it (new-ticket) or reopens it (reopen).", ("new-ticket", "reopen"))


@dataclass(frozen=True)
class Imap:
    enabled: bool = opt(True, "Fetch mail over IMAP; false when an MTA pipes mail into `maildesk ingest`.")
    host: str = opt("localhost", "IMAP server host name.")
    port: int = opt(993, "IMAP server port.")
    security: str = opt("tls", "Connection security: implicit TLS, STARTTLS or none (loopback only).", ("tls", "starttls", "none"))
    username: str = opt("", "IMAP login name.")
    password: str = opt("", "IMAP password in clear text (prefer password_env or password_file).")
    password_env: str = opt("", "Name of an environment variable holding the IMAP password.")
    password_file: str = opt("", "File holding the IMAP password (relative to rules.toml).")
    ca_file: str = opt("", "CA certificate file (PEM) to verify the server with, instead of the system's CAs.")
    mailbox: str = opt("INBOX", "Folder maildesk reads new mail from.")
    processed_folder: str = opt("maildesk-processed", "Folder a message is moved to once everything it caused is committed.")
    quarantine_folder: str = opt("maildesk-quarantine", "Folder a quarantined message is moved to.")
    idle: bool = opt(True, "Use IMAP IDLE when the server offers it, so new mail is seen at once.")
    poll_interval: int = opt(60, "Seconds between polls when IDLE is off or missing; also the IDLE safety net.")
    timeout: int = opt(30, "Seconds before an IMAP command without an answer counts as a stalled connection.")
    reconnect_max: int = opt(300, "Upper bound in seconds of the exponential reconnect backoff.")


@dataclass(frozen=True)
class Smtp:
    host: str = opt("localhost", "SMTP server host name.")
    port: int = opt(465, "SMTP server port.")
    security: str = opt("tls", "Connection security: implicit TLS, STARTTLS or none (loopback only).", ("tls", "starttls", "none"))
    username: str = opt("", "SMTP login name; empty for no authentication.")
    password: str = opt("", "SMTP password in clear text (prefer password_env or password_file).")
    password_env: str = opt("", "Name of an environment variable holding the SMTP password.")
    password_file: str = opt("", "File holding the SMTP password (relative to rules.toml).")
    ca_file: str = opt("", "CA certificate file (PEM) to verify the server with, instead of the system's CAs.")
    timeout: int = opt(30, "Seconds before an SMTP conversation counts as failed (and is retried).")
    retry_base: int = opt(30, "Seconds before the first retry of a mail the server deferred; doubles per attempt.")
    retry_max: int = opt(3600, "Upper bound in seconds between two delivery attempts of one mail.")
    give_up_hours: int = opt(72, "Hours after which a mail that still gets 4xx or no connection is marked dead.")


@dataclass(frozen=True)
class Authorise:
    unknown_sender: str = opt("reject", "What a mail from an unknown address does: quarantine it and explain (reject), open an unverified ticket in the triage queue (triage), or open a ticket (open).", ("reject", "triage", "open"))
    triage_queue: str = opt("triage", "Queue of unverified tickets under unknown_sender = \"triage\" (must be a [[queue]]).")
    notice_interval_hours: int = opt(24, "At most one explanation mail per address and kind (unknown sender, bad credentials) in this many hours.")
    licence_identifies: bool = opt(False, "A valid licence number (Licence: 123456) from an unknown address authorises it for the licence's customer, as valid credentials do.")
    licence_failures: int = opt(3, "Wrong licence numbers from one address within failure_window_minutes after which its mail goes to the triage queue (licence-failed).")
    remember_credential_senders: bool = opt(False, "Add the address of a mail with valid credentials as a contact of that customer.")
    max_failures: int = opt(5, "Failed credential checks per sender or customer ID within failure_window_minutes before backing off.")
    failure_window_minutes: int = opt(15, "Window in which failed credential checks are counted.")
    backoff_minutes: int = opt(15, "First backoff: credential mails are quarantined unchecked this long; doubles on each repeat.")
    backoff_max_hours: int = opt(24, "Longest backoff.")
    max_contact_commands: int = opt(10, "#contact lines an admin contact may send in one mail; a mail with more is refused whole (with an explanation).")


@dataclass(frozen=True)
class Trust:
    authserv_id: str = opt("", "authserv-id of the receiving MTA's Authentication-Results header; when set, dmarc=fail (or dkim=fail and spf=fail) makes a known address count as unknown.")


@dataclass(frozen=True)
class Hours:
    name: str = opt("default", "Name of the calendar, for a plan's `hours` (write [[hours]] tables for several calendars).")
    timezone: str = opt("UTC", "Time zone of the support hours (IANA name, e.g. Europe/Prague).")
    days: list[str] = opt(["mon", "tue", "wed", "thu", "fri"], "Weekdays with support hours.")
    start: str = opt("08:00", "Start of support hours (HH:MM).")
    end: str = opt("17:00", "End of support hours (HH:MM; 24:00 for the end of the day).")
    intervals: list[str] = opt([], "Several intervals per day as HH:MM-HH:MM (e.g. [\"09:00-12:00\", \"13:00-18:00\"]); when set, start and end are not used.")
    country: str = opt("", "Country whose public holidays are closed days (holidays package code, e.g. CZ, SK); empty: none.")
    closed: list[str] = opt([], "Extra closed dates (YYYY-MM-DD), e.g. [\"2026-12-31\"].")
    open: list[str] = opt([], "Dates with support hours although a weekend, holiday or closed date (YYYY-MM-DD).")


@dataclass(frozen=True)
class Sla:
    first_response_hours: int = opt(8, "Target for the first response to a normal ticket, in support hours (the implicit plan `standard`).")
    express_first_response_hours: int = opt(2, "Target for the first response to an express ticket (#priority express), in support hours, counted from its arrival (the implicit plan `standard`).")
    resolution_hours: int = opt(40, "Target for resolving a normal ticket, in support hours (the implicit plan `standard`).")
    warn_at: int = opt(80, "Percent of a target's working time after which the assignee (or the queue) gets an sla_warning mail.")


@dataclass(frozen=True)
class Plan:
    name: str = req("Name of the service plan (customer add --plan NAME).")
    hours: str = opt("default", "The [[hours]] calendar the targets are counted in.")
    first_response_hours: float = opt(8, "Target for the first response, in working hours of the plan's calendar.")
    resolution_hours: float = opt(40, "Target for the resolution, in working hours of the plan's calendar.")
    express: bool = opt(False, "Customers of this plan may ask for express handling ([EXPRESS] in the subject or #express).")
    express_first_response_hours: float = opt(2, "First-response target of an express ticket, in working hours.")
    express_resolution_hours: float = opt(8, "Resolution target of an express ticket, in working hours.")
    express_price: str = opt("", "Price of one express request, stated in the confirmation and recorded for billing (e.g. \"1500 CZK\").")
    support_until: str = opt("", "End of the support contract (YYYY-MM-DD); empty: open-ended.")


@dataclass(frozen=True)
class Processing:
    max_attempts: int = opt(3, "A message whose processing fails this many times is quarantined as processing-failed.")


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = opt(25 * 1024 * 1024, "Larger messages (RFC822.SIZE) are not fetched: headers only, quarantined as too-large; the message stays in the quarantine folder.")
    max_header_bytes: int = opt(128 * 1024, "A larger header block is quarantined as headers-too-large before it is parsed (decoding huge encoded-word headers takes quadratic time).")
    max_mime_depth: int = opt(20, "Deeper MIME nesting is quarantined as too-deep.")
    max_parts: int = opt(500, "More MIME parts are quarantined as too-many-parts.")
    max_attachments: int = opt(100, "More attachments are quarantined as too-many-attachments.")
    max_attachment_bytes: int = opt(100 * 1024 * 1024, "More decoded attachment bytes in one message are quarantined as attachments-too-large.")
    parse_timeout: int = opt(20, "Seconds a message may take to parse (in a worker process) before it is quarantined as parse-timeout; 0 parses in-process without a limit.")
    max_body_chars: int = opt(8000, "Longer body text is cut in the ticket; the whole text is kept as the attachment request-full.txt.")
    auto_caps: list[str] = opt(["10/10m", "25/1h"], "Caps on automatic mails per ticket and recipient, as COUNT/WINDOW (s, m, h, d).")
    auto_per_recipient_day: int = opt(3, "Automatic replies (explanations, notices) to one unknown address per 24 hours; stops loops with bots that answer every mail. Known contacts, ticket requesters and consultants are not counted here.")
    auto_per_known_day: int = opt(50, "Automatic replies (confirmations, notices) to one known contact or requester per 24 hours: far above any person (Mailman 10, Znuny 40, TMDA 50), it only stops a contact's broken bot.")
    stranger_notices_per_hour: int = opt(20, "Explanation mails (unknown sender, bad credentials) to unknown addresses per hour, all addresses together; stops backscatter to forged senders.")
    bounce_expiry_days: int = opt(30, "A hard bounce stops automatic mail to the address this long, or until a new mail from it arrives.")
    new_tickets_per_hour: int = opt(10, "New tickets one sender may open per hour (token bucket); more are quarantined as rate-limited.")


@dataclass(frozen=True)
class Queue:
    name: str = req("Queue name.")
    default: bool = opt(False, "New tickets land in this queue (exactly one queue is the default).")
    lead: str = opt("", "Address of the queue lead: gets sla_breached mails of the queue's tickets (empty: its consultants do).")
    products: list[str] = opt([], "Products whose tickets (named by a licence number) go to this queue, unless a rule says otherwise.")
    assign: str = opt("manual", "Who gets a new ticket: nobody until someone #takes it (manual), the queue's consultants in turn (round-robin), or the one with the fewest open tickets (least-open); consultants who are #away are skipped.", ("manual", "round-robin", "least-open"))


@dataclass(frozen=True)
class Rule:
    name: str = opt("", "Name of the rule, shown by `rules test` and in the ticket's `routed` event.")
    customer: list[str] = opt([], "Match: the sender's customer is one of these IDs.")
    plan: str = opt("", "Match: the customer's service plan.")
    product: str = opt("", "Match: the product the mail's licence number names.")
    to: str = opt("", "Match: an address in To or Cc, e.g. helpdesk+packet@example.test (plus-addressing), case-insensitive.")
    subject: str = opt("", "Match: a regular expression found in the subject (case-insensitive).")
    body: str = opt("", "Match: a regular expression found in the text (case-insensitive).")
    language: str = opt("", "Match: the customer's language.", ("", "en", "cs", "sk"))
    attachment: str = opt("", "Match: with attachments (yes), without (no), or either (empty).", ("", "yes", "no"))
    queue: str = opt("", "Set: the queue the ticket goes to.")
    priority: str = opt("", "Set: the priority (express gets the plan's express targets).", ("", "normal", "express"))
    assignee: str = opt("", "Set: the consultant the ticket is assigned to.")
    tag: str = opt("", "Set: a label recorded on the ticket (ticket show, reports).")


@dataclass(frozen=True)
class Consultant:
    email: str = req("The consultant's mail address; mail from it may write on every ticket.")
    name: str = req("The consultant's name as customers see it.")
    queues: list[str] = opt([], "Queues whose tickets this consultant handles.")
    language: str = opt("en", "Language of the mails maildesk sends to this consultant.", ("en", "cs", "sk"))


@dataclass(frozen=True)
class Config:
    helpdesk: Helpdesk
    imap: Imap = field(default_factory=Imap)
    smtp: Smtp = field(default_factory=Smtp)
    authorise: Authorise = field(default_factory=Authorise)
    trust: Trust = field(default_factory=Trust)
    hours: tuple[Hours, ...] = (Hours(),)
    sla: Sla = field(default_factory=Sla)
    plan: tuple[Plan, ...] = ()
    rule: tuple[Rule, ...] = ()
    processing: Processing = field(default_factory=Processing)
    limits: Limits = field(default_factory=Limits)
    queue: tuple[Queue, ...] = (Queue(name="general", default=True),)
    consultant: tuple[Consultant, ...] = ()
    path: Path = Path("rules.toml")

    def resolve(self, rel: str) -> Path:
        """A path from the config, relative to the directory of rules.toml."""
        p = Path(rel)
        return p if p.is_absolute() else self.path.parent / p

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.helpdesk.data_dir)

    @property
    def templates_dir(self) -> Path | None:
        """The site's template overrides, or None for the packaged templates only."""
        return self.resolve(self.helpdesk.templates_dir) if self.helpdesk.templates_dir else None

    @property
    def plans(self) -> dict[str, Plan]:
        """Every plan by name, with the implicit `standard` (from [sla], the first calendar) unless one is named so."""
        implicit = Plan(name="standard", hours=self.hours[0].name, first_response_hours=self.sla.first_response_hours,
                        resolution_hours=self.sla.resolution_hours,
                        express_first_response_hours=self.sla.express_first_response_hours)
        return {"standard": implicit, **{p.name: p for p in self.plan}}

    @property
    def default_plan(self) -> Plan:
        return self.plans[self.helpdesk.default_plan or "standard"]

    def calendar_hours(self, name: str) -> Hours:
        """The [[hours]] calendar of that name (validated at load: every plan names one that exists)."""
        return next(h for h in self.hours if h.name == name)

    @property
    def triage_queue(self) -> str:
        """Where unverified tickets wait: authorise.triage_queue, or the default queue when it is not defined."""
        names = {q.name for q in self.queue}
        return self.authorise.triage_queue if self.authorise.triage_queue in names else self.default_queue

    @property
    def default_queue(self) -> str:
        return next(q.name for q in self.queue if q.default)

    def consultant_by_email(self, addr: str) -> Consultant | None:
        addr = addr.lower()
        return next((c for c in self.consultant if c.email.lower() == addr), None)


SECTIONS: dict[str, type] = {
    "helpdesk": Helpdesk, "imap": Imap, "smtp": Smtp, "authorise": Authorise, "trust": Trust,
    "sla": Sla, "processing": Processing, "limits": Limits,
}
# [hours] may also be written as one table (a single calendar, named "default").
TABLE_ARRAYS: dict[str, type] = {"hours": Hours, "plan": Plan, "rule": Rule, "queue": Queue, "consultant": Consultant}


def schema() -> list[tuple[str, dataclasses.Field[Any]]]:
    """Every documented key as ('section.key', field), in file order."""
    out: list[tuple[str, dataclasses.Field[Any]]] = []
    for sec, cls in {**SECTIONS, **TABLE_ARRAYS}.items():
        out.extend((f"{sec}.{f.name}", f) for f in dataclasses.fields(cls))
    return out


def markdown_table() -> str:
    """The README's table of every key (regenerate with `python -m maildesk.config`)."""
    import json
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, f in schema():
        if f.default is MISSING and f.default_factory is MISSING:
            default = "required"
        else:
            value = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[operator]
            default = json.dumps(value, ensure_ascii=False)
        choices = f.metadata.get("choices")
        extra = f" One of: {', '.join(f'`{c}`' for c in choices)}." if choices else ""
        rows.append(f"| `{key}` | `{default}` | {f.metadata['help']}{extra} |")
    return "\n".join(rows)


def find_line(text: str, section: str, key: str | None, index: int | None = None) -> int | None:
    """Best-effort line number of `key` in `[section]` (or the index-th `[[section]]`)."""
    header = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$")
    current, seen = None, -1
    for no, line in enumerate(text.splitlines(), 1):
        m = header.match(line)
        if m:
            current = m.group(1)
            if current == section:
                seen += 1
                if key is None and (index is None or index == seen):
                    return no
            continue
        if current == section and (index is None or index == seen) and key:
            if re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
                return no
    return None


def _check_type(value: Any, tp: Any) -> bool:
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if typing.get_origin(tp) is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return False


def _type_name(tp: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(tp, "a list of strings")


def _build(cls: type, data: Any, text: str, section: str, index: int | None = None) -> Any:
    """Validate one table against its dataclass and build it."""
    where = f"{section}[{index}]" if index is not None else section
    if not isinstance(data, dict):
        raise ConfigError("must be a table", key=where, line=find_line(text, section, None, index))
    hints = typing.get_type_hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown key (known: {', '.join(names)})", key=f"{where}.{key}",
                              line=find_line(text, section, key, index))
    kwargs = {}
    for name, f in names.items():
        line = find_line(text, section, name, index)
        if name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ConfigError("required key is missing", key=f"{where}.{name}",
                                  line=find_line(text, section, None, index))
            continue
        value = data[name]
        if not _check_type(value, hints[name]):
            raise ConfigError(f"must be {_type_name(hints[name])}, not {value!r}", key=f"{where}.{name}", line=line)
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"must be one of {', '.join(choices)}, not {value!r}", key=f"{where}.{name}", line=line)
        kwargs[name] = value
    return cls(**kwargs)


def load(path: Path | str) -> Config:
    """Read and validate rules.toml; raise ConfigError naming the key and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for key in data:
        if key not in SECTIONS and key not in TABLE_ARRAYS:
            raise ConfigError("unknown section", key=key, line=find_line(text, key, None))
    if "helpdesk" not in data:
        raise ConfigError("required section is missing", key="helpdesk")
    parts: dict[str, Any] = {s: _build(c, data[s], text, s) for s, c in SECTIONS.items() if s in data}
    for sec, cls in TABLE_ARRAYS.items():
        if sec in data:
            items = [data[sec]] if sec == "hours" and isinstance(data[sec], dict) else data[sec]
            if not isinstance(items, list):
                raise ConfigError(f"must be written as [[{sec}]] tables", key=sec, line=find_line(text, sec, None))
            parts[sec] = tuple(_build(cls, item, text, sec, i) for i, item in enumerate(items))
    cfg = Config(**parts, path=path.resolve())
    _validate(cfg, text)
    return cfg


def _validate(cfg: Config, text: str) -> None:
    """Cross-key checks that a single type check cannot make."""
    if not re.fullmatch(r"[A-Za-z0-9]{1,16}", cfg.helpdesk.tag):
        raise ConfigError("must be 1-16 letters or digits", key="helpdesk.tag", line=find_line(text, "helpdesk", "tag"))
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+|[^@\s]+@localhost", cfg.helpdesk.address):
        raise ConfigError("is not a mail address", key="helpdesk.address", line=find_line(text, "helpdesk", "address"))
    defaults = [q.name for q in cfg.queue if q.default]
    if len(defaults) != 1:
        raise ConfigError(f"exactly one queue must have default = true (found {len(defaults)})", key="queue.default",
                          line=find_line(text, "queue", None, 0))
    names = {q.name for q in cfg.queue}
    for i, c in enumerate(cfg.consultant):
        for q in c.queues:
            if q not in names:
                raise ConfigError(f"names unknown queue {q!r}", key=f"consultant[{i}].queues",
                                  line=find_line(text, "consultant", "queues", i))
    _validate_service(cfg, text)
    for sec in ("imap", "smtp"):
        s = getattr(cfg, sec)
        given = [k for k in ("password", "password_env", "password_file") if getattr(s, k)]
        if len(given) > 1:
            raise ConfigError(f"give only one of {', '.join(given)}", key=f"{sec}.{given[1]}",
                              line=find_line(text, sec, given[1]))
    if cfg.authorise.unknown_sender == "triage" and cfg.authorise.triage_queue not in names:
        raise ConfigError(f"queue {cfg.authorise.triage_queue!r} is not defined as a [[queue]]",
                          key="authorise.triage_queue", line=find_line(text, "authorise", "unknown_sender"))
    for cap in cfg.limits.auto_caps:
        if not re.fullmatch(r"\d+/\d+[smhd]", cap):
            raise ConfigError(f"{cap!r} is not COUNT/WINDOW such as 10/10m", key="limits.auto_caps",
                              line=find_line(text, "limits", "auto_caps"))
    if cfg.imap.enabled and not cfg.imap.username:
        raise ConfigError("required when imap.enabled is true", key="imap.username", line=find_line(text, "imap", None))


_HHMM = r"(?:[01]\d|2[0-3]):[0-5]\d"


def _validate_service(cfg: Config, text: str) -> None:
    """Calendars and plans: times, weekdays, zones, countries, dates, and that every name used exists."""
    def fail(msg: str, sec: str, i: int, key: str) -> ConfigError:
        return ConfigError(msg, key=f"{sec}[{i}].{key}", line=find_line(text, sec, key, i))
    seen: set[str] = set()
    for i, h in enumerate(cfg.hours):
        if h.name in seen:
            raise fail(f"a second calendar named {h.name!r}", "hours", i, "name")
        seen.add(h.name)
        spans = h.intervals or [f"{h.start}-{h.end}"]
        for span in spans:
            m = re.fullmatch(rf"({_HHMM})-({_HHMM}|24:00)", span)
            if not m or m.group(1) >= m.group(2):
                raise fail(f"{span!r} is not HH:MM-HH:MM with the start first", "hours", i,
                           "intervals" if h.intervals else "start")
        for d in h.days:
            if d not in WEEKDAYS:
                raise fail(f"unknown weekday {d!r} (use {', '.join(WEEKDAYS)})", "hours", i, "days")
        try:
            import zoneinfo
            zoneinfo.ZoneInfo(h.timezone)
        except Exception:
            raise fail(f"unknown time zone {h.timezone!r}", "hours", i, "timezone") from None
        if h.country:
            import holidays
            if h.country not in holidays.list_supported_countries():
                raise fail(f"no public holidays known for {h.country!r} (use a code such as CZ or SK)", "hours", i,
                           "country")
        for key in ("closed", "open"):
            for d in getattr(h, key):
                if not _is_date(d):
                    raise fail(f"{d!r} is not a date YYYY-MM-DD", "hours", i, key)
    names: set[str] = set()
    for i, p in enumerate(cfg.plan):
        if p.name in names:
            raise fail(f"a second plan named {p.name!r}", "plan", i, "name")
        names.add(p.name)
        if p.hours not in seen:
            raise fail(f"names unknown [[hours]] calendar {p.hours!r} (known: {', '.join(sorted(seen))})", "plan", i,
                       "hours")
        if p.support_until and not _is_date(p.support_until):
            raise fail(f"{p.support_until!r} is not a date YYYY-MM-DD", "plan", i, "support_until")
    if cfg.helpdesk.default_plan and cfg.helpdesk.default_plan not in cfg.plans:
        raise ConfigError(f"names unknown plan {cfg.helpdesk.default_plan!r}", key="helpdesk.default_plan",
                          line=find_line(text, "helpdesk", "default_plan"))
    queues = {q.name for q in cfg.queue}
    for i, r in enumerate(cfg.rule):
        for key in ("subject", "body"):
            try:
                re.compile(getattr(r, key))
            except re.error as exc:
                raise fail(f"not a regular expression: {exc}", "rule", i, key) from None
        if r.queue and r.queue not in queues:
            raise fail(f"names unknown queue {r.queue!r}", "rule", i, "queue")
        if r.assignee and cfg.consultant_by_email(r.assignee) is None:
            raise fail(f"{r.assignee!r} is not a [[consultant]]", "rule", i, "assignee")
        if r.plan and r.plan not in cfg.plans:
            raise fail(f"names unknown plan {r.plan!r}", "rule", i, "plan")
    if not 1 <= cfg.sla.warn_at <= 99:
        raise ConfigError("must be a percentage from 1 to 99", key="sla.warn_at", line=find_line(text, "sla", "warn_at"))


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def secret(cfg: Config, section: str) -> str:
    """The password of `imap` or `smtp`, from the key, the environment or a file."""
    s: Imap | Smtp = getattr(cfg, section)
    if s.password:
        return s.password
    if s.password_env:
        value = os.environ.get(s.password_env)
        if value is None:
            raise ConfigError(f"environment variable {s.password_env} is not set", key=f"{section}.password_env")
        return value
    if s.password_file:
        try:
            return cfg.resolve(s.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read password file: {exc.strerror}", key=f"{section}.password_file") from None
    return ""


def tls_context(cfg: Config, section: str) -> ssl.SSLContext:
    """A verifying TLS context for `imap` or `smtp`, trusting ca_file when it is set."""
    ca = getattr(cfg, section).ca_file
    return ssl.create_default_context(cafile=str(cfg.resolve(ca)) if ca else None)


def config_path(arg: str | None) -> Path:
    """--config, else $MAILDESK_CONFIG, else ./rules.toml."""
    return Path(arg or os.environ.get("MAILDESK_CONFIG") or "rules.toml")


def update_readme(path: Path) -> None:
    """Replace the generated key table in the README (between its marker and the next blank line)."""
    marker = "<!-- generated by `python -m maildesk.config"
    text = path.read_text(encoding="utf-8")
    start = text.index("\n", text.index(marker)) + 1
    end = text.index("\n\n", start)
    path.write_text(text[:start] + markdown_table() + text[end:], encoding="utf-8")


if __name__ == "__main__":
    import sys
    if sys.argv[1:2] == ["--update"]:
        update_readme(Path(sys.argv[2]))
    else:
        print(markdown_table())
