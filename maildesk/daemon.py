"""The daemon: wires fetch -> pipeline -> ack, the outbox sender and the scheduler.

A message leaves the INBOX only after the pipeline committed everything it
caused. A fault in one message is counted and, after `processing.max_attempts`,
the message is quarantined, so it never blocks the mailbox. Outages back off
exponentially and are logged once when they start and once when they end.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from maildesk import clock, crash, metrics, schedule, shutdown, systemd
from maildesk.act.escalate import escalate
from maildesk.config import Config, load
from maildesk.errors import ConfigError, TransientError
from maildesk.inbound.fetch import PIECE, ImapSource, fetch_batches
from maildesk.inbound.headers import message_key
from maildesk.models import Outcome
from maildesk.outbound.smtp import OutboxSender
from maildesk.pipeline import Pipeline
from maildesk.store import open_store

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("maildesk.daemon")
flog = logging.getLogger("maildesk.fetch")

WINDOW = 50  # UIDs whose sizes are asked in one command (between windows, fresh mail is looked for)
FRESH_EVERY = 1.0  # seconds between looks for mail that arrived during a long pass
INTERLEAVE = 5  # the newest arrivals at each look go before the backlog
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter

# Keys a reload cannot apply: the open database, and whether there is a fetch loop at all.
RESTART_ONLY: dict[str, Callable[[Config], object]] = {
    "helpdesk.data_dir": lambda c: c.data_dir, "imap.enabled": lambda c: c.imap.enabled,
    "metrics.listen": lambda c: c.metrics.listen}


def give_back_big_buffers() -> None:
    """glibc: every buffer of 1 MiB or more gets its own mapping, returned to the system when freed.

    By default glibc raises that threshold after the first big buffer is freed (up to 32 MiB), so
    the copies of the next 20 MB mail land on the heap and keep the daemon's memory long after
    (a 20 MB mail's peak: 243 -> 167 MiB, measured). Elsewhere (musl, macOS) this does nothing.
    """
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        pass


class Daemon:
    """One running maildesk: a fetch loop and a send loop sharing one store."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.store = open_store(cfg)
        self.pipeline = Pipeline(cfg, self.store)
        self.pipeline.renderer.validate()  # broken templates stop the start, not mail after mail
        self.sender = OutboxSender(cfg, self.store)
        self._incident: str | None = None  # the fault being retried, logged once when it starts
        self.last_fetch: datetime | None = None  # the last pass over the mailbox that succeeded
        self.ready = False
        self.sched: AsyncIOScheduler | None = None
        self.beat_soon = asyncio.Event()  # a pass over the mailbox or an outbox run ended: write the heartbeat

    def handle(self, raw: bytes, uidvalidity: int | None = None, uid: int | None = None,
               oversized: int | None = None) -> Outcome | None:
        """Process one message; None means 'leave it where it is and try again later'."""
        if oversized is None and len(raw) > self.cfg.limits.max_message_bytes:
            oversized = len(raw)
        started = time.perf_counter()  # a measurement for the metrics, never a decision
        try:
            outcome = self.pipeline.process(raw, uidvalidity=uidvalidity, uid=uid, oversized=oversized)
            metrics.mail_in("duplicate" if outcome.duplicate else outcome.kind.value, time.perf_counter() - started)
            return outcome
        except TransientError:
            metrics.mail_in("failed")
            raise
        except Exception as exc:  # a bug or a mail we cannot handle: count it, never loop on it forever
            metrics.mail_in("failed")
            key = message_key(raw)
            attempts = self.store.count_processing_failure(key, traceback.format_exc(), uidvalidity=uidvalidity,
                                                           uid=uid)
            log.error("key:%s #- processing failed (attempt %d of %d): %s\n%s", key[:16], attempts,
                      self.cfg.processing.max_attempts, exc, traceback.format_exc())
            if attempts >= self.cfg.processing.max_attempts:
                return self.pipeline.give_up(raw, f"{exc.__class__.__name__}: {exc}", attempts)
            return None

    async def drain(self, src: ImapSource) -> int:
        """Process every message in the mailbox once, in bounded batches; returns how many left it.

        UIDs come from one UID SEARCH; sizes, bodies and moves go a window or a batch at a time, so
        neither a 100k backlog nor one slow command can stall a pass, and every batch makes progress.
        While a backlog drains, the newest arrivals are interleaved: at each look (every FRESH_EVERY s)
        the last few new UIDs go first, the rest queue behind the backlog in order; and a backlog's
        outgoing mail waits behind theirs. A customer who writes now is answered now.
        """
        mailbox = self.cfg.imap.mailbox
        mark = self.store.watermark(mailbox)
        if mark and mark.uidvalidity != src.uidvalidity:
            flog.warning("UIDVALIDITY of %s changed (%s -> %s): mailbox was re-created; message keys prevent "
                         "duplicates", mailbox, mark.uidvalidity, src.uidvalidity)
        pending = await src.uids()
        newest = pending[-1] if pending else 0
        loop = asyncio.get_running_loop()
        looked = loop.time()
        moved = 0
        while pending and not shutdown.requested.is_set():
            live: list[int] = []
            if loop.time() - looked > FRESH_EVERY:
                fresh = await src.uids(above=newest)
                looked = loop.time()
                if fresh:
                    newest, live = fresh[-1], fresh[-INTERLEAVE:]
                    pending += fresh[:-INTERLEAVE]
            if live:  # the newest arrivals, on their own, before the next window of the backlog
                window = live
            else:
                window, pending = pending[:WINDOW], pending[WINDOW:]
            busy = len(pending) >= WINDOW  # a backlog: its mail waits behind live mail in the outbox
            sizes = await src.sizes(window)
            for batch in fetch_batches(sizes, self.cfg.limits.max_message_bytes):
                moved += await self.take(src, batch, sizes, backlog=busy and not live)
                if shutdown.requested.is_set():  # the messages in hand were finished; the rest waits
                    return moved
            if busy and live:  # their answers go out now, not after the backlog's
                await self.sender.flush(max_priority=0)
        return moved

    async def take(self, src: ImapSource, uids: list[int], sizes: dict[int, int], backlog: bool = False) -> int:
        """Fetch, process and move one batch; returns how many left the mailbox (backlog: outbox priority 1).

        The batch is one group commit: each message is its own savepoint (a failing one rolls back
        alone), all are made durable by one commit, and only then do they leave the INBOX.
        """
        big = [u for u in uids if sizes[u] > self.cfg.limits.max_message_bytes]
        whole = [u for u in uids if u not in big and sizes[u] < PIECE]
        raws = await src.fetch_many(whole) if whole else {}
        for uid in (u for u in uids if u not in big and u not in whole):  # a big one, in a batch of its own
            if (raw := await src.fetch_pieces(uid, limit=2 * sizes[uid] + PIECE)) is not None:  # a piece at a time
                raws[uid] = raw
        for uid in big:  # too large to fetch: the header is enough to quarantine it
            if (header := await src.fetch_headers(uid)) is not None:
                raws[uid] = header
        self.pipeline.parse.prefetch([raws[u] for u in sorted(raws) if u not in big])
        c = self.cfg.imap
        done: dict[str, list[int]] = {c.processed_folder: [], c.quarantine_folder: []}
        try:
            outcomes, fault = self._process(raws, src.uidvalidity, big, sizes, backlog)
            crash.point("after-commit")
            for uid, outcome in outcomes:
                folder = c.quarantine_folder if outcome.folder == "quarantine" else c.processed_folder
                if outcome.replacement is not None:  # the original holds a password: keep only the redacted copy
                    await src.replace(uid, outcome.replacement, folder)
                else:
                    done[folder].append(uid)
            if outcomes:
                self.sender.wake.set()
            if fault is not None:  # what was decided before it is committed and moves; the rest waits
                raise fault
        finally:  # what was committed leaves the INBOX now (a failure here: the next pass finds it a duplicate)
            self.pipeline.parse.forget()
            if not src.lost:
                for folder, moving in done.items():
                    await src.move(moving, folder)
                if any(done.values()):
                    self.store.set_watermark(self.cfg.imap.mailbox, src.uidvalidity, max(sum(done.values(), [])))
        return sum(len(v) for v in done.values())

    def _process(self, raws: dict[int, bytes], uidvalidity: int | None, big: list[int], sizes: dict[int, int],
                 backlog: bool) -> tuple[list[tuple[int, Outcome]], TransientError | None]:
        """Process fetched messages in UID order as one group commit; a transient fault ends the batch early."""
        outcomes: list[tuple[int, Outcome]] = []
        fault: TransientError | None = None
        self.pipeline.desk.outbox.priority = int(backlog)
        try:
            with self.store.group(), self.pipeline.blobs.deferred():  # blobs synced once, before the commit
                for uid in sorted(raws):
                    crash.point("after-fetch")
                    try:
                        outcome = self.handle(raws.pop(uid), uidvalidity, uid,
                                              oversized=sizes[uid] if uid in big else None)
                    except TransientError as exc:
                        fault = exc
                        break
                    if outcome is not None:
                        outcomes.append((uid, outcome))
                    if shutdown.requested.is_set():  # the messages in hand are finished and committed
                        break
        finally:
            self.pipeline.desk.outbox.priority = 0
        return outcomes, fault

    async def fetch_loop(self, once: bool = False) -> None:
        """Connect, drain, wait for mail (IDLE or poll); on a fault back off, logging once per incident."""
        delay = 1.0
        while True:
            src = ImapSource(self.cfg)
            try:
                await src.connect()
                self._ready()  # the database is open and the first IMAP login succeeded
                while src.cfg.imap == self.cfg.imap:  # a reload that changed [imap] reconnects
                    # Mail that arrived during a drain was announced to the earlier commands, not to
                    # IDLE: drain again until a pass finds nothing, then wait.
                    while await self.drain(src):
                        pass
                    self.last_fetch = clock.now()
                    self.beat_soon.set()
                    self._recovered()
                    delay = 1.0
                    if once:
                        return
                    await src.wait_for_mail()
                flog.info("[imap] changed by a reload: reconnecting to %s:%d", self.cfg.imap.host, self.cfg.imap.port)
                continue
            except TransientError as exc:
                if shutdown.requested.is_set():
                    return
                if once:
                    raise
                if self._incident is None:
                    flog.warning("%s; retrying with backoff (at most every %ds)", exc, self.cfg.imap.reconnect_max)
                    self._incident = str(exc)
                else:
                    flog.debug("still failing: %s", exc)
            finally:
                await src.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, float(self.cfg.imap.reconnect_max))

    def reload(self) -> bool:
        """SIGHUP: read rules.toml and the templates again and swap them in between two messages.

        The new configuration is loaded and every template rendered first; anything wrong is
        logged with its key and line, and the running configuration stays. Nothing is dropped
        or processed twice: the event loop runs one message at a time, and the swap happens
        between two of them.
        """
        systemd.notify("RELOADING=1", "STATUS=reloading the configuration")
        try:
            new = load(self.cfg.path)
            for key, value in RESTART_ONLY.items():
                if value(new) != value(self.cfg):
                    raise ConfigError("changed, but only a restart can apply it", key=key)
            pipeline = Pipeline(new, self.store)
            pipeline.renderer.validate()
        except ConfigError as exc:
            log.error("reload refused, the running configuration stays: %s", exc)
            systemd.notify("READY=1", f"STATUS=reload refused: {str(exc)[:200]}")
            return False
        old, self.cfg, self.pipeline = self.pipeline, new, pipeline
        self.sender.cfg = new
        if self.sched is not None:  # the jobs hold the old desk and config: start them anew
            self.sched.shutdown(wait=False)
            self.sched = schedule.start(new, self.store, self.sender, pipeline.desk)
        old.parse.close()
        log.info("configuration reloaded from %s", new.path)
        systemd.notify("READY=1", f"STATUS={self.status()}")
        self.sender.wake.set()
        return True

    def _ready(self) -> None:
        if not self.ready:
            self.ready = True
            systemd.notify("READY=1", f"STATUS={self.status()}")

    def status(self) -> str:
        """One line for `systemctl status`: state, outbox, last fetch."""
        state = "retrying: " + self._incident[:80] if self._incident else "idle"
        fetched = self.last_fetch.astimezone().strftime("%H:%M:%S") if self.last_fetch else "-"
        return f"{state}; {self.store.pending_mail_count()} in outbox; last fetch {fetched}"

    async def heartbeat_loop(self, started: str) -> None:
        """Liveness, last fetch, IMAP and SMTP state in the database (`maildesk status` reads it).

        Every 30 s, and after a pass over the mailbox or an outbox run, but at most once in 5 s however
        busy it is.
        """
        loop = asyncio.get_running_loop()
        while True:
            self.beat(os.getpid(), started)
            self.beat_soon.clear()
            beaten = loop.time()
            try:
                async with asyncio.timeout(30):
                    await self.beat_soon.wait()
            except TimeoutError:
                continue
            await asyncio.sleep(max(0.0, 5 - (loop.time() - beaten)))

    def beat(self, pid: int | None, started: str | None = None) -> None:
        down = self.sender.down_since
        self.snapshot()
        self.store.heartbeat(pid, started=started,
                             last_fetch=self.last_fetch.isoformat(timespec="seconds") if self.last_fetch else None,
                             imap=("off" if not self.cfg.imap.enabled else
                                   f"retrying: {self._incident[:200]}" if self._incident else "ok"),
                             smtp=f"down since {down.isoformat(timespec='seconds')}" if down else "ok")

    def snapshot(self) -> None:
        """The metrics' gauges from the database, with each heartbeat (at most every 5 s: it counts tickets)."""
        if self.cfg.metrics.listen:
            metrics.SNAPSHOT.update(self.store.health_rows())

    async def watchdog_loop(self, every: float) -> None:
        """WATCHDOG=1 from the event loop: a wedged loop stops it, and systemd restarts the process."""
        while True:
            systemd.notify("WATCHDOG=1", f"STATUS={self.status()}")
            await asyncio.sleep(every)

    def _recovered(self) -> None:
        if self._incident is not None:
            flog.warning("recovered: mail is processed again (the problem was: %s)", self._incident)
            self._incident = None

    async def send_loop(self) -> None:
        """Deliver the outbox whenever something is committed or the scheduler ticks."""
        while True:
            self.sender.wake.clear()
            await self.sender.flush()
            self.beat_soon.set()  # the outbox changed: the heartbeat (and the metrics' gauges) follow soon
            await self.sender.wake.wait()

    async def run(self, once: bool = False) -> None:
        """`maildesk run`: forever (until SIGTERM/SIGINT), or drain once and deliver."""
        give_back_big_buffers()
        self.sender.release_stale_claims()
        if once:
            if self.cfg.imap.enabled:
                await self.fetch_loop(once=True)
            escalate(self.pipeline.desk)  # what a timer-driven `run --once` owes: the SLA mails that are due
            await self.sender.flush()
            return
        self.sched = schedule.start(self.cfg, self.store, self.sender, self.pipeline.desk)
        tasks = [asyncio.create_task(self.send_loop(), name="send"),
                 asyncio.create_task(self.heartbeat_loop(clock.now().isoformat(timespec="seconds")), name="heartbeat")]
        if (every := systemd.watchdog_seconds()) is not None:
            tasks.append(asyncio.create_task(self.watchdog_loop(every), name="watchdog"))
        served = metrics.serve(self.cfg.metrics.listen) if self.cfg.metrics.listen else None
        if not self.cfg.imap.enabled:
            self._ready()  # nothing to log in to: the open database is all there is to wait for
        if self.cfg.imap.enabled:
            tasks.append(asyncio.create_task(self.fetch_loop(), name="fetch"))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        uninstall = shutdown.install(lambda: loop.call_soon_threadsafe(stop.set),
                                     on_reload=lambda: loop.call_soon_threadsafe(self.reload))
        log.info("maildesk running: %s (IMAP %s, SMTP %s:%d)", self.cfg.helpdesk.address,
                 f"{self.cfg.imap.host}:{self.cfg.imap.port}" if self.cfg.imap.enabled else "off",
                 self.cfg.smtp.host, self.cfg.smtp.port)
        waiter = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not waiter and t.exception():
                    raise t.exception()  # type: ignore[misc]
        finally:
            for t in [waiter, *tasks]:
                t.cancel()
            _, pending = await asyncio.wait([waiter, *tasks], timeout=shutdown.STOP_GRACE - 1)
            if pending:
                log.error("tasks did not stop in time: %s", ", ".join(t.get_name() for t in pending))
            systemd.notify("STOPPING=1", "STATUS=stopping")
            try:
                self.beat(None)  # stopped on purpose: `status` says so rather than "not responding"
            except Exception:  # a stop must not fail on a busy database
                log.debug("last heartbeat not written", exc_info=True)
            self.sched.shutdown(wait=False)
            if served is not None:
                served[0].shutdown()
            self.pipeline.parse.close()
            uninstall(graceful=not pending)  # with a task still hanging, the forced exit stays armed
            log.info("maildesk stopped")
