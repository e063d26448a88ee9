"""Inbound stages: fetch a mail over IMAP, parse it, find its new text and any credentials in it."""
