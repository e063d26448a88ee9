"""The `maildesk` command line: every command, its arguments and its help (the README documents each one)."""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="maildesk", description="Email-driven helpdesk daemon.")
    p.add_argument("--config", help="path of rules.toml (default: $MAILDESK_CONFIG, else ./rules.toml)")
    p.add_argument("--verbose", "-v", action="store_true", help="log at DEBUG level")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="text (under systemd: the journal's own format, no second timestamp) or json, "
                        "one object per line for log shippers")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="write a sample rules.toml and templates, create the database")
    s.add_argument("dir", nargs="?", help="directory to initialise (default: .)")
    sub.add_parser("check", help="validate config and templates, reach the IMAP and SMTP servers")
    s = sub.add_parser("run", help="run the daemon (IDLE, poll fallback)")
    s.add_argument("--once", action="store_true", help="drain the mailbox, deliver the outbox, exit")
    s = sub.add_parser("ingest", help="process one raw message from a file or stdin (exit 75: retry later)")
    s.add_argument("file", nargs="?", help="message file, or - for stdin (default)")

    g = sub.add_parser("customer", help="manage customers").add_subparsers(dest="action", required=True)
    a = g.add_parser("add", help="add a customer")
    a.add_argument("id")
    a.add_argument("--name", required=True)
    a.add_argument("--contact", action="append", metavar="EMAIL", help="an address that may write (repeatable)")
    a.add_argument("--language", choices=("en", "cs", "sk"))
    a.add_argument("--password-stdin", action="store_true", help="read the customer's password from stdin")
    a.add_argument("--plan", help="service plan (a [[plan]] name; default: helpdesk.default_plan)")
    a.add_argument("--licence", action="append", metavar="PRODUCT=NUMBER", help="a licence the customer holds "
                   "(repeatable); a mail beginning 'Licence: NUMBER' is about that product")
    a = g.add_parser("edit", help="change a customer's name, language or plan")
    a.add_argument("id")
    a.add_argument("--name")
    a.add_argument("--language", choices=("en", "cs", "sk"))
    a.add_argument("--plan", help="a [[plan]] name, or '' for helpdesk.default_plan")
    a.add_argument("--licence", action="append", metavar="PRODUCT=NUMBER", help="add a licence (repeatable)")
    a.add_argument("--contract-address", metavar="EMAIL", help="the one address that may ask for a new password "
                   "by mail (#password); '' removes it")
    g.add_parser("passwd", help="set a customer's password (read from stdin)").add_argument("id")
    g.add_parser("show", help="a customer with its contacts and who added them").add_argument("id")

    g = sub.add_parser("contact", help="manage contacts").add_subparsers(dest="action", required=True)
    a = g.add_parser("add", help="allow an address to write for a customer")
    a.add_argument("customer_id")
    a.add_argument("email")
    a.add_argument("--admin", action="store_true", help="may add and remove contacts by mail (#contact)")
    a = g.add_parser("remove", help="withdraw an address's right to write for a customer")
    a.add_argument("customer_id")
    a.add_argument("email")
    g.add_parser("show", help="the customers an address writes for, and its bounce flag").add_argument("email")

    g = sub.add_parser("ticket", help="inspect tickets").add_subparsers(dest="action", required=True)
    a = g.add_parser("list", help="list tickets")
    a.add_argument("--json", action="store_true")
    a.add_argument("--overdue", action="store_true", help="only unfinished tickets with a target already passed")
    a.add_argument("--due-before", metavar="DATE", help="only unfinished tickets with a target due before DATE "
                   "(YYYY-MM-DD [HH:MM], in the first calendar's time zone)")
    a = g.add_parser("show", help="one ticket with its messages")
    a.add_argument("number", type=int)
    a.add_argument("--json", action="store_true")
    g.add_parser("verify", help="open an unverified (triage) ticket and confirm it").add_argument("number", type=int)

    g = sub.add_parser("quarantine", help="held messages").add_subparsers(dest="action", required=True)
    a = g.add_parser("list", help="list held messages")
    a.add_argument("--json", action="store_true")
    g.add_parser("show", help="one held message with its decision log").add_argument("id", type=int)
    g.add_parser("release", help="reprocess a held message").add_argument("id", type=int)
    a = g.add_parser("drop", help="delete a held message for good (asks first)")
    a.add_argument("id", type=int)
    a.add_argument("--yes", action="store_true", help="do not ask")

    s = sub.add_parser("fsck", help="remove stored files (blobs) that no ticket, quarantine or outbox entry needs")
    s.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    s = sub.add_parser("purge", help="drop raw mails and attachment files of tickets closed longer ago than "
                                     "[retention] says (text and events stay)")
    s.add_argument("--dry-run", action="store_true", help="only print what would go")

    g = sub.add_parser("outbox", help="outgoing mail").add_subparsers(dest="action", required=True)
    a = g.add_parser("list", help="list outgoing mails and their state")
    a.add_argument("--json", action="store_true")
    g.add_parser("retry", help="send a deferred or dead mail again now").add_argument("id", type=int)
    s = sub.add_parser("backup", help="a consistent copy of the database, its blobs and the config, while running")
    s.add_argument("dest", help="a new (or empty) folder")
    s = sub.add_parser("restore", help="a backup's database and blobs into the empty data_dir, checked")
    s.add_argument("src", help="the backup folder")

    s = sub.add_parser("status", help="is the daemon healthy? exit 0 when it is, 1 with the reasons when not")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("report", help="per customer and consultant: tickets, response times, SLA, express, prices")
    s.add_argument("--from", dest="start", required=True, metavar="DATE", help="first day (YYYY-MM-DD)")
    s.add_argument("--to", dest="end", required=True, metavar="DATE", help="last day (YYYY-MM-DD), included")
    s.add_argument("--customer", metavar="ID", help="only this customer")
    s.add_argument("--format", choices=("table", "csv", "json"), default="table")

    g = sub.add_parser("kb", help="the knowledge base").add_subparsers(dest="action", required=True)
    a = g.add_parser("add", help="add a draft article from FILE or stdin")
    a.add_argument("--title", required=True)
    a.add_argument("--lang", required=True, choices=("cs", "sk", "en"))
    a.add_argument("--queue", action="append", help="a queue the article belongs to (repeatable; none: all)")
    a.add_argument("file", nargs="?", help="Markdown or plain text file, or - for stdin (default)")
    a = g.add_parser("edit", help="change an article's title, language, queues or text")
    a.add_argument("id", type=int)
    a.add_argument("--title")
    a.add_argument("--lang", choices=("cs", "sk", "en"))
    a.add_argument("--queue", action="append")
    a.add_argument("file", nargs="?", help="the new text (file, or - for stdin)")
    g.add_parser("publish", help="publish an article (suggested and sent from now on)").add_argument("id", type=int)
    g.add_parser("unpublish", help="withdraw an article (back to draft)").add_argument("id", type=int)
    g.add_parser("list", help="every article").add_argument("--json", action="store_true")
    g.add_parser("show", help="one article").add_argument("id", type=int)
    a = g.add_parser("search", help="published articles for some words, best first")
    a.add_argument("words", nargs="+")
    a.add_argument("--lang", choices=("cs", "sk", "en"))
    g.add_parser("import", help="Markdown files with front matter from DIR").add_argument("dir")
    a = g.add_parser("export", help="every article as a Markdown file in DIR (--html: the published ones as a site)")
    a.add_argument("dir")
    a.add_argument("--html", action="store_true", help="a static site: index per language, a page per article, "
                   "an offline search box")

    g = sub.add_parser("rules", help="the decision steps").add_subparsers(dest="action", required=True)
    a = g.add_parser("test", help="which step would decide what for a mail, and why (nothing is written or sent)")
    a.add_argument("file", nargs="?", help="message file, or - for stdin (default)")
    a.add_argument("--json", action="store_true")
    return p
