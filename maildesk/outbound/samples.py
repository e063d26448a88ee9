"""Sample data for every template: what `check` and the start-up validation render them with.

A template that renders with these values renders with real ones too: the
keys here are exactly the names the pipeline passes in.
"""

from __future__ import annotations

from typing import Any

# The one shape of `ticket` in every template (outbound.context.ticket_context builds the real one).
FACTS = {"number": 42, "tag": "[EX #42]", "subject": "Printer on fire", "status": "open", "queue": "general",
         "position": 3, "priority": "normal", "requester": "jan@acme.test", "assignee": "jana@example.test",
         "price": "1200 CZK", "due": "2026-01-31", "first_response_due": "2026-01-05 10:00 CET", "parent": 41,
         "resolution_due": "2026-01-09 10:00 CET", "plan": "standard",
         "customer_id": "12345678", "customer_name": "ACME s.r.o."}
CONSULTANT = {"name": "Jana Nováková", "email": "jana@example.test", "language": "cs"}
NOTE = {"ticket": FACTS, "consultant": CONSULTANT, "author": "Jan Novák", "author_address": "jan@acme.test",
        "text": "The printer is on fire.", "attachments": ["photo.jpg"], "hidden": 12}
CONTACT = {"customer_name": "ACME s.r.o.", "customer_id": "12345678", "admin": "boss@acme.test"}

SAMPLES: dict[str, dict[str, Any]] = {
    "confirmation": {"ticket": FACTS, "customer_name": "ACME s.r.o.", "requester_name": "Jan Novák",
                     "hours": None, "express": {"requested": True, "granted": True, "price": "1500 CZK"},
                     "suggestions": [{"id": 12, "title": "Tiskárna netiskne", "url": ""},
                                     {"id": 14, "title": "PDF faktury", "url": "https://help.example.test/cs/14.html"}]},
    "unknown_sender": {"sender": "someone@example.org"},
    "consultant_new": NOTE,
    "consultant_followup": {**NOTE, "reopened": True},
    "consultant_note": NOTE,
    "answer": {"ticket": FACTS, "consultant_name": "Jana Nováková", "text": "Please restart it."},
    "resolved": {"ticket": FACTS, "consultant_name": "Jana Nováková"},
    "bad_credentials": {"sender": "someone@example.org"},
    "too_large": {"subject": "Logs", "size_mb": 31.5, "limit_mb": 25.0},
    "contact_added": {**CONTACT, "contact": "new@acme.test"},
    "contact_removed": {**CONTACT, "contact": "old@acme.test"},
    "contact_error": {**CONTACT, "subject": "contacts", "errors": ["#contact add x@: not a valid address"],
                      "applied": ["#contact add new@acme.test"], "limit": 10},
    "command_error": {"ticket": FACTS, "errors": ["#frobnicate: unknown command"], "subject": "Re: [EX #42] x"},
    "held": {"ticket": None, "reason": "rate-limited", "why": "more than 10 new tickets in an hour", "limit": 10},
    "new_deadline": {"ticket": FACTS, "old_due": "2026-01-09 10:00 CET", "new_due": "2026-01-16 12:00 CET",
                     "reason": "we wait for the vendor's patch", "consultant_name": "Jana Nováková"},
    "sla_warning": {"ticket": FACTS, "target": "resolution", "target_name": "resolution", "due": "2026-01-09 10:00 CET",
                    "used_percent": 80, "consultant": CONSULTANT},
    "sla_breached": {"ticket": FACTS, "target": "resolution", "target_name": "resolution",
                     "due": "2026-01-09 10:00 CET", "consultant": CONSULTANT},
    "status_reply": {"tickets": [{**FACTS, "due": "2026-01-09 10:00 CET"}], "customer_name": "ACME s.r.o."},
    "kb_reply": {"words": "tiskarna netiskne", "articles": [{"id": 12, "title": "Tiskárna netiskne", "url": ""}],
                 "article": {"id": 12, "title": "Tiskárna netiskne", "body": "Restartujte tiskovou frontu.",
                             "url": ""}},
    "kb_receipt": {"ticket": FACTS, "article_id": 12, "title": "Tiskárna netiskne", "status": "draft"},
    "closed_thanks": {"ticket": FACTS},
    "password_reset": {"customer_name": "ACME s.r.o.", "customer_id": "12345678", "password": "s4mpleS4mple0000"},
    "password_neutral": {},
    "consultant_held": {"sender": "jan@acme.test", "sender_name": "Jan Novák", "customer_name": "ACME s.r.o.",
                        "customer_id": "12345678", "subject": "Printer", "reason": "rate-limited",
                        "why": "more than 10 new tickets in an hour", "quarantine_id": 7},
}
