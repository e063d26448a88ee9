"""Scheduled jobs (APScheduler 3.x on the daemon's event loop).

- outbox-retry: wakes the outbox sender, so deferred mails go out when due;
- housekeeping: forgets expired notice rate-limit entries, purges what [retention] says is old, and
  checkpoints the WAL;
- escalation: every minute, SLA warnings and breach reports (act.escalate), computed from the database.

Jobs only *wake* work or run short writes on the loop thread, so the daemon
keeps a single SQLite writer. They are coroutines for that reason: APScheduler's
AsyncIOExecutor runs a plain function in a thread pool, where it would share
the connection with the loop's transactions (a job's BEGIN inside a message's
transaction: "cannot start a transaction within a transaction").
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from maildesk import clock
from maildesk.act.desk import Desk
from maildesk.act.escalate import escalate
from maildesk.act.retention import purge
from maildesk.config import Config
from maildesk.outbound.smtp import OutboxSender
from maildesk.store import Store

log = logging.getLogger("maildesk.schedule")


async def housekeeping_job(store: Store, cfg: Config, sender: OutboxSender) -> None:
    housekeeping(store, cfg, sender)


async def escalation_job(desk: Desk, sender: OutboxSender) -> None:
    escalation(desk, sender)


async def wake_job(sender: OutboxSender) -> None:
    sender.wake.set()


def housekeeping(store: Store, cfg: Config, sender: OutboxSender) -> None:
    """Drop expired notice entries, free mails of a dead sender, keep the WAL file small."""
    sender.release_stale_claims()
    n = store.forget_notices(clock.now() - timedelta(hours=cfg.authorise.notice_interval_hours))
    if cfg.retention.raw_days or cfg.retention.attachment_days:
        purge(cfg, store)
    store.checkpoint()
    log.debug("housekeeping: %d expired notice entries removed", n)


def escalation(desk: Desk, sender: OutboxSender) -> None:
    """SLA warnings and breach reports that are due; the sender is woken when there is mail."""
    if escalate(desk):
        sender.wake.set()


def start(cfg: Config, store: Store, sender: OutboxSender, desk: Desk) -> AsyncIOScheduler:
    """Start the scheduler on the running loop and return it (call .shutdown() to stop)."""
    sched = AsyncIOScheduler(timezone=UTC)
    tick = max(1, min(cfg.smtp.retry_base, 15))
    sched.add_job(wake_job, "interval", seconds=tick, args=(sender,), id="outbox-retry", coalesce=True,
                  max_instances=1)
    sched.add_job(housekeeping_job, "interval", hours=1, args=(store, cfg, sender), id="housekeeping", coalesce=True,
                  # the scheduler runs on the real clock; only what the jobs decide reads maildesk's clock
                  max_instances=1, next_run_time=datetime.now(UTC) + timedelta(minutes=1))
    sched.add_job(escalation_job, "interval", minutes=1, args=(desk, sender), id="escalation", coalesce=True,
                  max_instances=1, next_run_time=datetime.now(UTC) + timedelta(seconds=5))
    sched.start()
    return sched
