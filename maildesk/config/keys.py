"""Every rules.toml key: a frozen dataclass per section, each key with a default and a sentence of help.

These classes are the documentation: the README table, `maildesk check` and
the tests read them (config.model.schema).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    connections: int = opt(4, "SMTP connections used side by side when several mails are due (1-16); mails to one recipient about one ticket still go one after the other.")


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
class Kb:
    suggest: int = opt(3, "How many published articles a confirmation suggests at most; 0: none.")
    min_terms: int = opt(2, "An article is suggested only when it shares at least this many of the mail's words.")
    min_coverage: int = opt(30, "... and at least this percentage of them (so a mail that matches nothing gets no list).")
    public_url: str = opt("", "Base URL of the published articles (kb export --html); set, each suggestion is a link, else the customer can reply #kb ID.")


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
class Retention:
    raw_days: int = opt(0, "Raw mails (the stored .eml of each message) of tickets resolved or closed longer ago than this many days are deleted; the text, attachments' names and hashes, and the events stay. 0 keeps them forever.")
    attachment_days: int = opt(0, "Attachment files of tickets resolved or closed longer ago than this many days are deleted (name, size and sha256 stay in the ticket). 0 keeps them forever.")


@dataclass(frozen=True)
class Metrics:
    listen: str = opt("", "HOST:PORT for Prometheus metrics over HTTP at /metrics, e.g. 127.0.0.1:9425; a loopback address only (put a proxy in front to expose it). Empty: no metrics endpoint.")


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
