"""`maildesk check`: config, templates, database, IMAP and SMTP, each reported on its own line."""

from __future__ import annotations

import aiosmtplib

from maildesk.cli.views import safe
from maildesk.config import Config
from maildesk.errors import MaildeskError
from maildesk.inbound.fetch import ImapSource
from maildesk.outbound.render import check_templates
from maildesk.outbound.smtp import smtp_args
from maildesk.store import Store


def report(ok: bool, what: str, detail: str = "") -> bool:
    print(safe(f"{'ok  ' if ok else 'FAIL'}  {what}" + (f": {detail}" if detail else "")))  # server text too
    return ok


async def check_imap(cfg: Config) -> bool:
    src = ImapSource(cfg)
    try:
        await src.connect()
        n = len(await src.uids())
        caps = [c for c in ("IDLE", "MOVE", "UIDPLUS") if src.conn.has_capability(c)]
        return report(True, f"IMAP {cfg.imap.host}:{cfg.imap.port}",
                      f"{cfg.imap.mailbox} has {n} message(s); server offers {', '.join(caps) or 'none of IDLE/MOVE'}")
    except MaildeskError as exc:
        return report(False, f"IMAP {cfg.imap.host}:{cfg.imap.port}", str(exc))
    finally:
        await src.close()


async def check_smtp(cfg: Config) -> bool:
    s = cfg.smtp
    try:
        client = aiosmtplib.SMTP(**smtp_args(cfg))  # the daemon's own settings; logs in on connect
        await client.connect()
        await client.quit()
        return report(True, f"SMTP {s.host}:{s.port}", "connected" + (" and logged in" if s.username else ""))
    except (TimeoutError, aiosmtplib.SMTPException, OSError, MaildeskError) as exc:
        return report(False, f"SMTP {s.host}:{s.port}", f"{exc.__class__.__name__}: {exc}")


async def run_checks(cfg: Config) -> bool:
    """Every check, all run even after a failure; True when all passed."""
    results = [report(True, f"config {cfg.path}")]
    problems = check_templates(cfg)
    where = f"templates {cfg.templates_dir} over the packaged ones" if cfg.templates_dir else "templates (packaged)"
    results.append(report(not problems, where, "; ".join(problems)))
    try:
        Store(cfg.data_dir / "maildesk.db").close()
        results.append(report(True, f"database {cfg.data_dir / 'maildesk.db'}"))
    except Exception as exc:  # any failure to open is worth one clear line
        results.append(report(False, "database", str(exc)))
    if cfg.imap.enabled:
        results.append(await check_imap(cfg))
    else:
        results.append(report(True, "IMAP", "disabled (imap.enabled = false): mail arrives via `maildesk ingest`"))
    results.append(await check_smtp(cfg))
    if not cfg.trust.authserv_id:
        print("warn  trust.authserv_id is not set: a known From address is trusted without checking DMARC")
    return all(results)
