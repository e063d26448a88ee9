"""Scheduled jobs run on the event loop's thread: the daemon keeps one SQLite writer, never two threads."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from maildesk import schedule
from maildesk.outbound.smtp import OutboxSender


def test_every_job_runs_on_the_loop_thread_not_in_a_thread_pool(offline, monkeypatch):
    cfg, store, pipeline = offline()
    threads: dict[str, int] = {}
    monkeypatch.setattr(schedule, "escalate", lambda desk: threads.setdefault("escalation", threading.get_ident()))
    monkeypatch.setattr(schedule, "purge", lambda cfg, store: None)
    real = store.forget_notices
    monkeypatch.setattr(store, "forget_notices",
                        lambda before: (threads.setdefault("housekeeping", threading.get_ident()), real(before))[1])

    async def run() -> int:
        sender = OutboxSender(cfg, store)
        sched = schedule.start(cfg, store, sender, pipeline.desk)
        try:
            sender.wake.clear()
            for job in sched.get_jobs():
                job.modify(next_run_time=datetime.now(UTC))
            await asyncio.wait_for(sender.wake.wait(), 5)  # outbox-retry ran
            for _ in range(50):
                if len(threads) == 2:
                    break
                await asyncio.sleep(0.1)
            return threading.get_ident()
        finally:
            sched.shutdown(wait=False)

    loop_thread = asyncio.run(run())
    assert threads == {"escalation": loop_thread, "housekeeping": loop_thread}
