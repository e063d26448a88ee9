"""maildesk: an email-driven helpdesk daemon (IMAP in, numbered tickets, templated mail out)."""

__version__ = "0.1.0"
