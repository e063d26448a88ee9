"""Outbox sender: delivers queued mails over SMTP, each once.

4xx answers and connection failures are retried with capped exponential
backoff (and logged once per outage, not per try); 5xx answers mark the mail
dead with the server's reason. A crash between the server's 250 and our
'sent' mark can repeat the one mail in that window (the connections take
turns from the final dot to the mark, _Settle): the only duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Coroutine, Iterable
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib

from maildesk import clock, crash, metrics, shutdown
from maildesk.config import Config, secret, tls_context
from maildesk.errors import BlobUnreadable
from maildesk.models import MailState
from maildesk.outbound.message import Assembled, assemble
from maildesk.store import Store, now
from maildesk.store.blobs import BlobStore
from maildesk.store.rows import OutboxMail

log = logging.getLogger("maildesk.smtp")

SECRET_KINDS = ("password_reset",)


def smtp_args(cfg: Config) -> dict[str, Any]:
    """[smtp] as aiosmtplib keyword arguments (for send() and SMTP()); reads the password."""
    s = cfg.smtp
    args: dict[str, Any] = {"hostname": s.host, "port": s.port, "timeout": s.timeout,
                  "use_tls": s.security == "tls", "start_tls": s.security == "starttls"}
    if s.security != "none":
        args["tls_context"] = tls_context(cfg, "smtp")
    if s.username:
        args["username"], args["password"] = s.username, secret(cfg, "smtp")
    return args


BIG = 1 << 20  # from this size on a mail is written to DATA a piece at a time
# What may not stand in an envelope address: it would end the address on the command line or
# start a new command (aiosmtplib refuses these too, with a ValueError), or it needs SMTPUTF8.
_UNSENDABLE = re.compile(r'[\s<>"\x00-\x1f\x7f]|[^\x00-\x7f]')


def unsendable(address: str) -> str | None:
    """Why an envelope address cannot go on the wire, or None when it can."""
    if not address or _UNSENDABLE.search(address):
        return (f"address {address[:200]!r} cannot be sent: it is empty, not ASCII (SMTPUTF8 is not used), "
                "or holds white space, a control character, <, > or \"")
    return None


_DOT = re.compile(rb"(?m)^\.")


def _crlf_only(data: bytes) -> bool:
    """Every line ends in CRLF (as maildesk writes mail): the mail can go to DATA as it is, stuffed."""
    crlf = data.count(b"\r\n")
    return data.count(b"\n") == crlf == data.count(b"\r") and data.endswith(b"\r\n")


class _Settle:
    """A mail's last step, one lane at a time: from the final dot of DATA until its mark is committed.

    However many connections send side by side, at most one mail is ever accepted by the server and
    not yet marked 'sent', so a crash repeats at most that one. The lanes still overlap in everything
    before the dot (envelope, body) and the server in everything after the mark.
    """

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock
        self.held = False

    async def enter(self) -> None:
        await self.lock.acquire()
        self.held = True

    def leave(self) -> None:
        if self.held:
            self.held = False
            self.lock.release()


async def _sendmail(client: aiosmtplib.SMTP, sender: str, rcpt: str, mail: Assembled,
                    settle: _Settle | None = None) -> None:
    """sendmail() for a mail maildesk built (CRLF line ends, addresses passed unsendable()): the same
    EHLO, MAIL (with SIZE), RCPT and DATA, without aiosmtplib's copies of the message (line ends, SIZE,
    dot-stuffing, the final dot: four times 20 MB for a forwarded attachment) and its four parses of
    the two addresses (a third of the sender's time per mail). The body is dot-stuffed and written a
    MiB at a time, whole lines each; an assembled mail's attachments are encoded as they go out."""
    try:
        if client.is_ehlo_or_helo_needed:
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:  # an old server that knows only HELO (then: no SIZE either)
                await client.helo()
        size = [b"SIZE=%d" % mail.size] if client.supports_extension("size") else []
        answer = await client.execute_command(b"MAIL", b"FROM:<" + sender.encode("ascii") + b">", *size)
        if answer.code != 250:
            raise aiosmtplib.SMTPSenderRefused(answer.code, answer.message, sender)
        answer = await client.execute_command(b"RCPT", b"TO:<" + rcpt.encode("ascii") + b">")
        if answer.code not in (250, 251):
            raise aiosmtplib.SMTPRecipientRefused(answer.code, answer.message, rcpt)
        started = await client.execute_command(b"DATA")
        if started.code != 354:
            raise aiosmtplib.SMTPDataError(started.code, started.message)
        proto = client.protocol
        if proto is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost before DATA")
        for piece in mail.pieces:  # each ends at a line's end, and so does each MiB written of it
            view, start = memoryview(piece), 0
            while start < len(piece):
                end = piece.find(b"\r\n", min(start + BIG, len(piece) - 2)) + 2
                proto.write(_DOT.sub(b"..", view[start:end]))
                start = end
                await _drained(proto.transport, client.timeout)
        if settle is not None:  # the server's 250 after this dot is the mail gone: one lane at a time from here
            await settle.enter()
        proto.write(b".\r\n")
        done = await proto.read_response(timeout=client.timeout)
        if done.code != 250:
            raise aiosmtplib.SMTPDataError(done.code, done.message)
    except aiosmtplib.SMTPResponseException:
        try:  # as sendmail does: the envelope is reset for the next mail on this connection
            await client.rset()
        except (ConnectionError, aiosmtplib.SMTPResponseException):
            pass
        raise


async def _drained(transport: asyncio.BaseTransport | None, timeout: float | None) -> None:
    """Wait until the socket took all but a MiB of what was written: aiosmtplib does not flow-control DATA,
    so without this a slow server's share of a 20 MB mail would wait in one more copy in memory."""
    if not isinstance(transport, asyncio.WriteTransport):
        return
    async with asyncio.timeout(timeout):  # a server that stops reading is a timeout, as any other stall
        while not transport.is_closing() and transport.get_write_buffer_size() > BIG:
            await asyncio.sleep(0.002)


class _Chunk:
    """Claimed mails shared by a flush's lanes: each takes the oldest whose ticket and recipient are free.

    Mails to one recipient about one ticket go out in order, one after the other (a reply never
    overtakes the confirmation before it); everything else goes out side by side.
    """

    def __init__(self, rows: list[OutboxMail], claimed: datetime) -> None:
        self.rows = list(rows)
        self.claimed = claimed
        self.sent = 0
        self.stop: str | None = None  # "down": the server is unreachable; "slow": the claim is getting old
        self._busy: set[tuple[str, int | None]] = set()
        self._freed = asyncio.Condition()
        self.answered = asyncio.Event()  # the server answered the first lane (or the chunk ended): others may start

    async def take(self) -> OutboxMail | None:
        """The next mail for a lane, waiting while only mails behind one on the wire are left; None: no more."""
        async with self._freed:
            while self.rows and self.stop is None:
                row = next((r for r in self.rows if (r.rcpt, r.ticket) not in self._busy), None)
                if row is not None:
                    self.rows.remove(row)
                    self._busy.add((row.rcpt, row.ticket))
                    return row
                await self._freed.wait()
            return None

    async def done(self, row: OutboxMail, stop: str | None = None, tried: bool = True) -> None:
        """The lane is finished with this mail (untried: it goes back first); `stop` ends the chunk."""
        async with self._freed:
            self._busy.discard((row.rcpt, row.ticket))
            if not tried:
                self.rows.insert(0, row)
            self.stop = self.stop or stop
            self._freed.notify_all()
        self.answered.set()


async def _all(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run the lanes side by side; when one fails, the others are stopped and its exception is raised."""
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks)


def backoff(attempts: int, base: int, cap: int) -> int:
    """Seconds to wait after the given number of failed attempts: base * 2^(n-1), at most cap."""
    return int(min(cap, base * 2 ** max(0, attempts - 1)))


class OutboxSender:
    """Sends what is due in the outbox table; one instance per process."""

    def __init__(self, cfg: Config, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        self.blobs = BlobStore(cfg.data_dir / "blobs", store)
        self.down_since: datetime | None = None
        self.wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._clients: dict[int, aiosmtplib.SMTP] = {}  # by lane, kept from mail to mail until a flush finishes
        self._heavy = asyncio.Lock()  # one mail with attachments at a time: memory holds one forwarded file
        self._settling = asyncio.Lock()  # one mail at a time between the final dot and its mark (_Settle)
        self._refused: set[int] = set()  # lanes whose connection the server refused (logged once, not per chunk)

    async def flush(self, max_priority: int = 1) -> int:
        """Deliver every due mail (max_priority 0: only live mail); stops early while the server is down.

        The lock is taken a chunk at a time, so a flush of live mail (the daemon's, right after a
        message it took while a backlog drains) gets in between the chunks of a long flush. A chunk
        goes out over up to `smtp.connections` connections at once. Returns how many were sent.
        """
        sent = 0
        args: dict[str, Any] | None = None
        while True:
            async with self._lock:
                due = self.store.due_mail(max_priority=max_priority)
                rows = self._claim(due)
                if rows and args is None:
                    args = smtp_args(self.cfg)  # once per flush, and only with mail to send (password_file is a read)
                chunk = _Chunk(rows, clock.now())
                finished = True  # no mail left, the server is down, or a fault: hang up
                try:
                    await _all(self._lane(lane, chunk, args or {})
                               for lane in range(min(self.cfg.smtp.connections, len(rows))))
                    finished = chunk.stop == "down" or (chunk.stop is None and not due)
                finally:
                    self.store.unclaim_mails([r.id for r in chunk.rows], os.getpid())  # never tried: pending again
                    if finished:
                        await self._hang_up()
                sent += chunk.sent
                if finished:
                    return sent

    async def _lane(self, lane: int, chunk: _Chunk, args: dict[str, Any]) -> None:
        """One connection's share of a chunk: the next mail whose ticket and recipient are not on the wire.

        The first lane goes alone until the server has answered once (a server that is down costs
        one attempt, not one per lane); a further connection the server refuses is simply not used.
        """
        if lane:
            await chunk.answered.wait()
            if chunk.stop is not None or not chunk.rows or not await self._connect(lane, args):
                return
        while (row := await chunk.take()) is not None:
            if clock.now() - chunk.claimed > timedelta(seconds=self.cfg.smtp.timeout):
                # a slow server: claim the rest afresh before anyone thinks them stale
                await chunk.done(row, stop="slow", tried=False)
                return
            ok: bool | None = False
            try:
                ok = await self._deliver(row, args, lane)
                chunk.sent += bool(ok)
            finally:  # server unreachable (None): no point trying the rest now
                await chunk.done(row, stop="down" if ok is None else None)

    async def _connect(self, lane: int, args: dict[str, Any]) -> bool:
        """Open a further lane's connection; False when the server will not have it (many allow only a few)."""
        if lane in self._clients:
            return True
        try:
            await self._open(lane, args)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            if lane not in self._refused:
                self._refused.add(lane)
                log.info("SMTP server %s:%d refused connection %d (%s); sending over fewer",
                         self.cfg.smtp.host, self.cfg.smtp.port, lane + 1, str(exc)[:120])
            return False
        self._refused.discard(lane)
        return True

    async def _open(self, lane: int, args: dict[str, Any]) -> aiosmtplib.SMTP:
        """Connect a lane (connect, STARTTLS, login); its connection is kept until the flush hangs up."""
        client = aiosmtplib.SMTP(**args)
        try:
            await client.connect()
        except BaseException:
            client.close()
            raise
        self._clients[lane] = client
        return client

    async def _transmit(self, row: OutboxMail, mail: Assembled, args: dict[str, Any], lane: int = 0,
                        settle: _Settle | None = None) -> None:
        """One mail over the lane's connection (opened on first use: connect, STARTTLS, login)."""
        client = self._clients.get(lane) or await self._open(lane, args)
        try:
            if _crlf_only(bytes(row.raw)):  # as maildesk writes mail (attachments too): straight to the wire
                await _sendmail(client, row.mail_from, row.rcpt, mail, settle)
            else:  # an outbox row from elsewhere: aiosmtplib mends its line ends (and settles it whole)
                if settle is not None:
                    await settle.enter()
                await client.sendmail(row.mail_from, [row.rcpt], mail.whole())
        except BaseException:  # whatever state the session is in now, the next mail gets a fresh one
            await self._hang_up(lane)
            raise

    async def _hang_up(self, lane: int | None = None) -> None:
        """QUIT one lane's connection, or every lane's."""
        for n in [lane] if lane is not None else list(self._clients):
            client = self._clients.pop(n, None)
            if client is not None:
                try:
                    async with asyncio.timeout(2):
                        await client.quit()
                except Exception:  # already gone, or rude: it is closed either way
                    client.close()

    def _claim(self, rows: list[OutboxMail]) -> list[OutboxMail]:
        """Mark a chunk of mails as being sent (one commit), so another maildesk process cannot send them too.

        At most smtp.connections of them are on the wire at once; the rest are given back if the chunk stops early.
        """
        got = self.store.claim_mails([r.id for r in rows], os.getpid())
        return [r for r in rows if r.id in got]

    def release_stale_claims(self) -> int:
        """Put mails back to pending whose sender died mid-send (the SMTP window after a crash).

        A claim is stale when its process is gone, or older than any send could take.
        """
        cutoff = (clock.now() - timedelta(seconds=2 * self.cfg.smtp.timeout + 30))
        released = 0
        with self.store.transaction():
            for row in self.store.sending():
                if row.claimed_by == os.getpid():
                    continue
                if not shutdown.pid_alive(row.claimed_by) or datetime.fromisoformat(row.next_attempt) < cutoff:
                    self.store.update_mail(row.id, status=MailState.PENDING, claimed_by=None)
                    released += 1
        if released:
            log.warning("%d mail(s) left 'sending' by a stopped process are queued again; the one it was "
                        "sending when it stopped may reach its recipient twice", released)
        return released

    async def _deliver(self, row: OutboxMail, args: dict[str, Any], lane: int = 0) -> bool | None:
        """True when sent, False when deferred or dead, None when the server is unreachable (a claimed mail)."""
        async with self._heavy if row.attachments else contextlib.nullcontext():
            return await self._build_and_send(row, args, lane)

    async def _build_and_send(self, row: OutboxMail, args: dict[str, Any], lane: int) -> bool | None:
        if (why := unsendable(row.mail_from) or unsendable(row.rcpt)) is not None:  # never a crash of the flush
            self._mark(row, MailState.DEAD, why)
            log.error("<%s> outbox %d dead: %s", row.message_id, row.id, why)  # repr: no raw control character
            return False
        try:
            mail = assemble(bytes(row.raw), row.attachments, self.blobs)
        except (OSError, ValueError) as exc:  # a blob removed by hand: this mail cannot be built again
            self._mark(row, MailState.DEAD, f"attachment missing: {exc.__class__.__name__}")
            log.error("<%s> outbox %d to %s dead: an attachment is missing from the blob store", row.message_id,
                      row.id, row.rcpt)
            return False
        settle = _Settle(self._settling)
        try:
            return await self._send_and_mark(row, mail, args, lane, settle)
        finally:
            settle.leave()
            mail.close()

    async def _send_and_mark(self, row: OutboxMail, mail: Assembled, args: dict[str, Any], lane: int,
                             settle: _Settle) -> bool | None:
        try:
            try:
                await self._transmit(row, mail, args, lane, settle)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                raise exc.recipients[0] from exc  # one recipient per mail: its own answer is the answer
        except BlobUnreadable as exc:  # our disk, mid-DATA: the session was hung up; the mail is tried again
            self._retry(row, str(exc))
            log.error("<%s> outbox %d to %s deferred: %s", row.message_id, row.id, row.rcpt, exc)
            return False
        except aiosmtplib.SMTPResponseException as exc:
            self._server_up()
            if exc.code >= 500:
                self._mark(row, MailState.DEAD, f"{exc.code} {exc.message}")
                log.error("<%s> outbox %d to %s dead: %d %s", row.message_id, row.id, row.rcpt,
                          exc.code, exc.message)
            else:
                self._retry(row, f"{exc.code} {exc.message}")
            return False
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            self._server_down(exc)
            self._retry(row, f"{exc.__class__.__name__}: {exc}")
            return None
        crash.point("after-smtp")
        self._server_up()
        self._mark(row, MailState.SENT, None)
        log.info("<%s> outbox %d sent to %s", row.message_id, row.id, row.rcpt)
        return True

    def _mark(self, row: OutboxMail, status: MailState, error: str | None) -> None:
        with self.store.transaction():
            self.store.update_mail(row.id, status=status, attempts=row.attempts + 1, last_error=error,
                                   sent_at=now() if status is MailState.SENT else None)
        metrics.mail_out(row.kind, status.value)
        if row.kind in SECRET_KINDS:  # a new password: once it is out (or never will be), no copy stays
            self.store.scrub_mail(row.id, f"[{row.kind} {status.value}: its text held a password and was removed]")

    def _retry(self, row: OutboxMail, error: str) -> None:
        attempts = row.attempts + 1
        created = datetime.fromisoformat(row.created)
        if clock.now() - created > timedelta(hours=self.cfg.smtp.give_up_hours):
            self._mark(row, MailState.DEAD, f"gave up after {attempts} attempts: {error}")
            log.error("<%s> outbox %d to %s dead: gave up: %s", row.message_id, row.id, row.rcpt, error)
            return
        wait = backoff(attempts, self.cfg.smtp.retry_base, self.cfg.smtp.retry_max)
        nxt = (clock.now() + timedelta(seconds=wait)).isoformat(timespec="seconds")
        with self.store.transaction():
            self.store.update_mail(row.id, status=MailState.PENDING, attempts=attempts, last_error=error[:500],
                                   next_attempt=nxt, claimed_by=None)
        metrics.mail_out(row.kind, "deferred")
        log.debug("<%s> outbox %d deferred %ds: %s", row.message_id, row.id, wait, error)

    def _server_down(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = clock.now()
            log.warning("SMTP server %s:%d unreachable (%s); retrying with backoff",
                        self.cfg.smtp.host, self.cfg.smtp.port, exc.__class__.__name__)

    def _server_up(self) -> None:
        if self.down_since is not None:
            gone = (clock.now() - self.down_since).total_seconds()
            log.warning("SMTP server %s:%d reachable again after %.0fs", self.cfg.smtp.host, self.cfg.smtp.port, gone)
            self.down_since = None
