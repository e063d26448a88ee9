"""`maildesk status [--json]`: is the daemon healthy? Exit 0 when it is, 1 with the reasons when not.

For Monit, Nagios or a systemd timer as it is. Unhealthy: the daemon is not
running (no live pid, or no heartbeat for two minutes), no successful fetch
in 3 x imap.poll_interval, dead mail in the outbox, or an outbox mail older
than an hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from maildesk import clock, shutdown
from maildesk.cli.views import emit, say
from maildesk.config import Config
from maildesk.store import Store


def problems(cfg: Config, health: dict[str, Any], now: datetime) -> list[str]:
    """Why maildesk is unhealthy ([] when it is not)."""
    out = []
    d = health["daemon"]
    if not d or not d["pid"]:
        out.append("the daemon is not running" + (f" (stopped; last heartbeat {d['heartbeat']})" if d else ""))
    elif not shutdown.pid_alive(d["pid"]) or now - datetime.fromisoformat(d["heartbeat"]) > timedelta(minutes=2):
        out.append(f"the daemon (pid {d['pid']}) is not responding: last heartbeat {d['heartbeat']}")
    elif cfg.imap.enabled:
        since = datetime.fromisoformat(d["last_fetch"] or d["started"])
        if now - since > timedelta(seconds=3 * cfg.imap.poll_interval):
            out.append(f"no successful fetch since {since.isoformat(timespec='seconds')} (IMAP: {d['imap']})")
    dead = health["outbox"].get("dead", {}).get("count", 0)
    if dead:
        out.append(f"{dead} dead mail(s) in the outbox (maildesk outbox list; outbox retry ID)")
    waiting = [v["oldest"] for k, v in health["outbox"].items() if k in ("pending", "sending") and v["oldest"]]
    if waiting and now - datetime.fromisoformat(min(waiting)) > timedelta(hours=1):
        out.append(f"the outbox has mail waiting since {min(waiting)}")
    return out


def show(cfg: Config, store: Store, as_json: bool) -> int:
    health = store.health_rows()
    now = clock.now()
    issues = problems(cfg, health, now)
    overdue = len(store.due_rows(now.isoformat(timespec="minutes")))
    if as_json:
        emit({**health, "overdue": overdue, "healthy": not issues, "problems": issues})
        return 1 if issues else 0
    d = health["daemon"] or {}
    say(f"daemon      {'pid ' + str(d['pid']) if d.get('pid') else 'not running'}; started {d.get('started') or '-'}; "
        f"heartbeat {d.get('heartbeat') or '-'}; last fetch {d.get('last_fetch') or '-'}")
    say(f"imap/smtp   {d.get('imap') or '-'} / {d.get('smtp') or '-'}")
    outbox = health["outbox"]
    say(f"outbox      {outbox.get('pending', {}).get('count', 0)} queued ({health['deferred']} deferred), "
        f"{outbox.get('sending', {}).get('count', 0)} sending, {outbox.get('dead', {}).get('count', 0)} dead")
    say("quarantine  " + (", ".join(f"{k} {v}" for k, v in sorted(health["quarantine"].items())) or "empty"))
    say("tickets     " + (", ".join(f"{k} {v}" for k, v in sorted(health["tickets"].items())) or "none")
        + f"; {overdue} overdue")
    say("healthy" if not issues else "UNHEALTHY: " + "; ".join(issues))
    return 1 if issues else 0
