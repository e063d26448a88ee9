"""Classify stage: is this mail from a person, or automatic (and so never answered)?

RFC 3834 and the usual list/bounce/auto-reply headers. A mail that is not
`human` never opens a ticket and never gets a reply, which is what keeps
maildesk out of mail loops with auto-responders and with itself.
"""

from __future__ import annotations

import re

from .config import Config
from .models import ParsedMail

HUMAN = "human"
AUTO_REPLIED = "auto-replied"
AUTO_GENERATED = "auto-generated"
BOUNCE = "bounce"
LIST = "mailing-list"
OWN = "own-mail"

LOOP_HEADER = "X-Maildesk-Loop"
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
# Subjects of bounces and auto-replies from systems that set none of the headers (checked last).
_BOUNCE_SUBJECT = re.compile(r"^(returned mail|undeliver|delivery (status notification|failure|has failed)|"
                             r"mail delivery (failed|failure|problem|subsystem)|failure notice|non[- ]?delivery|"
                             r"nedoručitel|nedoručen)", re.I)
_AUTO_SUBJECT = re.compile(r"^(auto(matic)?[- ]?(reply|response|antwort)|out of (the )?office|"
                           r"abwesenheitsnotiz|automatische antwort|automatická odpověď|automatická odpoveď|"
                           r"nepřítomnost|mimo kancelář|vacation reply|autoreply)\b", re.I)


def classify(mail: ParsedMail, cfg: Config) -> str:
    """One of human, auto-replied, auto-generated, bounce, mailing-list, own-mail."""
    h = mail.headers
    own = cfg.helpdesk.address.lower()
    if mail.from_addr == own or h.get(LOOP_HEADER.lower(), "").lower() == own:
        return OWN
    ctype = h.get("content-type", "").lower()
    if "multipart/report" in ctype or _DAEMONS.match(mail.from_addr) or h.get("return-path", "").strip() == "<>":
        return BOUNCE
    auto = h.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return AUTO_REPLIED if auto == "auto-replied" else AUTO_GENERATED
    if "x-autoreply" in h or "x-auto-response-suppress" in h and _suppresses_replies(h["x-auto-response-suppress"]):
        return AUTO_REPLIED
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list") or "list-id" in h:
        return LIST
    if "x-failed-recipients" in h or _BOUNCE_SUBJECT.match(mail.subject):
        return BOUNCE
    if "x-autorespond" in h or _AUTO_SUBJECT.match(mail.subject):
        return AUTO_REPLIED
    return HUMAN


def _suppresses_replies(value: str) -> bool:
    """Exchange marks its own auto-replies with X-Auto-Response-Suppress: All / OOF / AutoReply."""
    return any(v.strip().lower() in ("all", "oof", "autoreply") for v in value.split(","))
