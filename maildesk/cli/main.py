"""The `maildesk` command: a thin layer of argument parsing over the other modules."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from maildesk import logs
from maildesk.act.customers import (
    InputError,
    add_contact,
    add_customer,
    edit_customer,
    remove_contact,
    set_password,
)
from maildesk.cli import views
from maildesk.cli.parser import build_parser
from maildesk.config import Config, config_path, load
from maildesk.errors import ConfigError, MaildeskError, NotFound, SchemaTooNew, TransientError
from maildesk.store import open_store
from maildesk.store.blobs import BlobStore

if TYPE_CHECKING:
    from maildesk.daemon import Daemon

# Commands that only read the database import only the store: an operator's `ticket list` (and every
# test that calls the CLI) should not pay for loading IMAP, SMTP, scheduler and parser libraries.


def make_daemon(cfg: Config) -> Daemon:
    from maildesk.daemon import Daemon
    return Daemon(cfg)

EX_TEMPFAIL = 75  # sysexits.h: what MTAs expect for "try again later"


def _copy_tree(src: Traversable, dest: Path) -> None:
    """Copy packaged files (importlib.resources) into a real directory."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_dir():
            _copy_tree(item, dest / item.name)
        elif item.name.endswith((".txt", ".toml")):
            (dest / item.name).write_bytes(item.read_bytes())


def cmd_init(args: argparse.Namespace) -> int:
    """Sample rules.toml and templates from the installed package, and an empty database."""
    target = Path(args.dir or ".")
    target.mkdir(parents=True, exist_ok=True)
    sample = resources.files("maildesk") / "sample"
    rules = target / "rules.toml"
    if rules.exists():
        print(f"{rules} exists; leaving it alone")
    else:
        rules.write_bytes((sample / "rules.toml").read_bytes())
        print(f"wrote {rules}")
    if (target / "templates").exists():
        print(f"{target / 'templates'} exists; leaving it alone")
    else:
        _copy_tree(sample / "templates", target / "templates")
        print(f"wrote {target / 'templates'}/ (a copy of the packaged templates: keep only the files you change)")
    cfg = load(rules)
    store = open_store(cfg)
    print(f"database ready: {store.path}")
    return 0


def cmd_check(args: argparse.Namespace, cfg: Config) -> int:
    from maildesk.cli.check import run_checks
    return 0 if asyncio.run(run_checks(cfg)) else 1


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    try:
        asyncio.run(make_daemon(cfg).run(once=args.once))
    except TransientError as exc:
        logging.getLogger("maildesk.daemon").error("%s", exc)
        return EX_TEMPFAIL
    return 0


def cmd_ingest(args: argparse.Namespace, cfg: Config) -> int:
    raw = sys.stdin.buffer.read() if args.file in (None, "-") else Path(args.file).read_bytes()
    daemon = make_daemon(cfg)
    outcome = daemon.handle(raw)  # TransientError -> exit 75 in main(), and the MTA retries
    if outcome is None:
        return EX_TEMPFAIL
    if not outcome.duplicate:  # a second delivery of a message sends nothing, not even the first one's mail
        asyncio.run(daemon.sender.flush())  # best effort: the daemon's sender retries what fails here
    print(json.dumps({"outcome": outcome.kind.value, "ticket": outcome.ticket, "reason": outcome.reason,
                      "duplicate": outcome.duplicate}))
    return 0


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError("no password on standard input")
    return password


def cmd_customer(args: argparse.Namespace, cfg: Config) -> int:
    store = open_store(cfg)
    if args.action == "show":
        return views.customer_show(store, args.id)
    if args.action == "passwd":
        set_password(store, args.id, _read_password())
        print(f"password of customer {args.id} changed")
        return 0
    if args.action == "edit":
        edit_customer(store, cfg, args.id, name=args.name, language=args.language, plan=args.plan,
                      licences=args.licence or [], contract_address=args.contract_address)
        print(f"customer {args.id} changed")
        return 0
    if args.plan is not None and args.plan not in cfg.plans:
        raise InputError(f"no plan {args.plan!r} in rules.toml (known: {', '.join(cfg.plans)})")
    password = _read_password() if args.password_stdin else None
    add_customer(store, args.id, args.name, args.contact or [], args.language, password, plan=args.plan,
                 licences=args.licence or [])
    print(f"customer {args.id} added")
    return 0


def cmd_contact(args: argparse.Namespace, cfg: Config) -> int:
    store = open_store(cfg)
    if args.action == "show":
        return views.contact_show(store, cfg, args.email)
    if args.action == "remove":
        with store.transaction():
            removed = remove_contact(store, args.customer_id, args.email)
        print(f"{args.email} removed from {args.customer_id}" if removed else f"{args.email} was no contact")
        return 0 if removed else 1
    add_contact(store, args.customer_id, args.email, admin=args.admin)
    print(f"{args.email} is now {'an admin ' if args.admin else 'a '}contact of {args.customer_id}")
    return 0


def cmd_ticket(args: argparse.Namespace, cfg: Config) -> int:
    if args.action == "verify":
        from maildesk.act import access
        daemon = make_daemon(cfg)
        with daemon.store.transaction():
            ok = access.verify_ticket(daemon.pipeline.desk, args.number, "operator")
        if not ok:
            print(f"ticket {args.number} is not an unverified ticket", file=sys.stderr)
            return 1
        asyncio.run(daemon.sender.flush())
        print(f"ticket {args.number} verified; confirmation sent to the requester")
        return 0
    store = open_store(cfg)
    if args.action == "list":
        if args.overdue or args.due_before:
            return views.ticket_due(store, cfg, args.due_before, args.json)
        return views.ticket_list(store, args.json)
    return views.ticket_show(store, cfg, args.number, args.json)


def cmd_quarantine(args: argparse.Namespace, cfg: Config) -> int:
    if args.action != "release":  # looking needs no templates: only release processes (and sends) mail
        store = open_store(cfg)
        if args.action == "list":
            return views.quarantine_list(store, args.json)
        if args.action == "show":
            return views.quarantine_show(store, args.id)
        return views.quarantine_drop(store, BlobStore(cfg.data_dir / "blobs", store), args.id, args.yes)
    daemon = make_daemon(cfg)
    try:
        outcome = daemon.pipeline.release(args.id)
    except NotFound as exc:  # only that: any other fault while processing is a real error, reported as such
        print(f"maildesk: {exc}", file=sys.stderr)
        return 1
    asyncio.run(daemon.sender.flush())
    views.say(f"released {args.id}: {outcome.kind.value}" + (f" #{outcome.ticket}" if outcome.ticket else "")
          + (f" ({outcome.reason})" if outcome.reason else ""))
    return 0


def cmd_outbox(args: argparse.Namespace, cfg: Config) -> int:
    if args.action == "list":
        return views.outbox_list(open_store(cfg), args.json)
    daemon = make_daemon(cfg)
    status = views.outbox_retry(daemon.store, args.id)
    if status == 0:
        asyncio.run(daemon.sender.flush())
    return status


def cmd_fsck(args: argparse.Namespace, cfg: Config) -> int:
    from maildesk.cli.fsck import GRACE, fsck
    store = open_store(cfg)
    result = fsck(store, BlobStore(cfg.data_dir / "blobs", store), dry_run=args.dry_run)
    for name in (*map(str, result.orphans), *(f"database blob {sha}" for sha in result.rows)):
        views.say(f"{'would remove' if args.dry_run else 'removed'} {name}")
    views.say(f"{len(result.orphans) + len(result.rows)} unreferenced blob(s) ({len(result.orphans)} file(s), "
              f"{len(result.rows)} database row(s)), {result.size} bytes"
              + (" (dry run: nothing removed)" if args.dry_run else "")
              + f"; blobs younger than {GRACE // 60} minutes are left for a commit in progress")
    return 0


def cmd_purge(args: argparse.Namespace, cfg: Config) -> int:
    """`purge`: what [retention] says is old, per ticket; --dry-run changes nothing."""
    from maildesk.act.retention import purge
    r = cfg.retention
    if not (r.raw_days or r.attachment_days):
        views.say("retention is off ([retention] raw_days and attachment_days are 0): everything is kept")
        return 0
    done = purge(cfg, open_store(cfg), dry_run=args.dry_run)
    verb = "would drop" if args.dry_run else "dropped"
    for t in done.purge.tickets:
        names = ", ".join(f"{name} ({size} bytes)" for _, _, name, size in t.files)
        views.say(f"#{t.number} closed {t.closed[:10]}: {verb} {len(t.raw)} raw mail(s), "
                  f"{len(t.files)} attachment file(s){': ' + names if names else ''}")
    views.say(f"{len(done.purge.tickets)} ticket(s); {done.files_removed} file(s), {done.bytes_freed} bytes "
              + ("would be freed (dry run: nothing changed)" if args.dry_run else "freed"))
    return 0


def cmd_report(args: argparse.Namespace, cfg: Config) -> int:
    """`report`: the billing and service sheet for a period."""
    from maildesk import clock
    from maildesk.cli import report
    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError:
        raise InputError("--from and --to take dates as YYYY-MM-DD") from None
    if end < start:
        raise InputError("--to is before --from")
    return report.show(report.build(open_store(cfg), cfg, start, end, args.customer, clock.now()), args.format)


def cmd_status(args: argparse.Namespace, cfg: Config) -> int:
    from maildesk.cli import status
    return status.show(cfg, open_store(cfg), args.json)


def cmd_backup(args: argparse.Namespace, cfg: Config) -> int:
    from maildesk.cli import backup
    if args.command == "backup":
        return backup.backup(cfg, open_store(cfg), Path(args.dest))
    return backup.restore(cfg, Path(args.src))


def cmd_kb(args: argparse.Namespace, cfg: Config) -> int:
    from maildesk.cli import kb
    return kb.run(args, cfg, open_store(cfg))


def cmd_rules(args: argparse.Namespace, cfg: Config) -> int:
    """`rules test`: the trace of the decision steps for one mail, against the database as it is now."""
    from maildesk.pipeline import Pipeline
    raw = sys.stdin.buffer.read() if args.file in (None, "-") else Path(args.file).read_bytes()
    pipeline = Pipeline(cfg, open_store(cfg))
    try:
        trace = pipeline.trace(raw)
    finally:
        pipeline.parse.close()
    return views.trace(trace, args.json)


HANDLERS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "check": cmd_check, "run": cmd_run, "ingest": cmd_ingest, "customer": cmd_customer, "contact": cmd_contact,
    "ticket": cmd_ticket, "fsck": cmd_fsck, "quarantine": cmd_quarantine, "outbox": cmd_outbox, "rules": cmd_rules,
    "report": cmd_report, "kb": cmd_kb, "status": cmd_status, "purge": cmd_purge,
    "backup": cmd_backup, "restore": cmd_backup}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_format, args.verbose)
    try:
        if args.command == "init":
            return cmd_init(args)
        cfg = load(config_path(args.config))
        return HANDLERS[args.command](args, cfg)
    except ConfigError as exc:
        print(f"maildesk: config error: {exc}", file=sys.stderr)
        # An MTA bounces a mail on most exit codes: with a broken config, ask it to keep the mail instead.
        return EX_TEMPFAIL if args.command == "ingest" else 78  # EX_CONFIG
    except SchemaTooNew as exc:
        print(f"maildesk: {exc}", file=sys.stderr)
        return EX_TEMPFAIL if args.command == "ingest" else 78  # a restart cannot fix it either
    except TransientError as exc:
        print(f"maildesk: temporary failure, try again later: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    except (InputError, MaildeskError) as exc:
        print(f"maildesk: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
