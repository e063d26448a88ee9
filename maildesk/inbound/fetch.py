"""Fetch stage: the IMAP side (aioimaplib): connect, list, fetch, move, IDLE.

Messages are read with BODY.PEEK[] so that a crash leaves them unread and in
the INBOX; they are moved out only after the pipeline has committed what they
caused. UIDVALIDITY + UID are kept as a watermark in SQLite, and the
message key (a hash of the bytes without the per-delivery trace fields) makes
a re-fetch harmless even when the mailbox was re-created.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable

import aioimaplib
from aioimaplib import quoted

from maildesk import shutdown
from maildesk.config import Config, secret, tls_context
from maildesk.errors import MailServerDown

log = logging.getLogger("maildesk.fetch")
# aioimaplib's DEBUG log is the IMAP wire: whole mails, passwords included. It never reaches a log, not even with -v.
logging.getLogger("aioimaplib").setLevel(logging.INFO)

STOP = aioimaplib.STOP_WAIT_SERVER_PUSH


class ImapSource:
    """One logged-in IMAP connection with the helpdesk mailbox selected."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.imap: aioimaplib.IMAP4 | None = None
        self.uidvalidity = 0
        self.lost = False

    async def connect(self) -> None:
        """Connect, log in, create the folders we move to, select the mailbox."""
        c = self.cfg.imap
        self.lost = False
        try:
            if c.security == "tls":
                imap = aioimaplib.IMAP4_SSL(c.host, c.port, timeout=c.timeout,
                                            ssl_context=tls_context(self.cfg, "imap"))
            else:
                imap = aioimaplib.IMAP4(c.host, c.port, timeout=c.timeout)
            imap.protocol.conn_lost_cb = self._connection_lost
            self.imap = imap
            await imap.wait_hello_from_server()
            if c.security == "starttls":
                await self._starttls(imap)
            resp = await imap.login(c.username, secret(self.cfg, "imap"))
            if resp.result != "OK":
                raise MailServerDown(f"IMAP login as {c.username} refused: {_text(resp)}")
            await imap.protocol.capability()
            for folder in (c.processed_folder, c.quarantine_folder):
                await imap.create(quoted(folder))  # NO when it exists already: fine
            resp = await imap.select(quoted(c.mailbox))
            if resp.result != "OK":
                raise MailServerDown(f"cannot select {c.mailbox}: {_text(resp)}")
            self.uidvalidity = _uidvalidity(resp)
        except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
            await self.close()
            raise MailServerDown(f"IMAP {c.host}:{c.port}: {exc.__class__.__name__}: {exc}") from exc

    async def _starttls(self, imap: aioimaplib.IMAP4) -> None:
        """aioimaplib has no STARTTLS: issue it, then upgrade the transport in place."""
        proto = imap.protocol
        resp = await proto.execute(aioimaplib.Command("STARTTLS", proto.new_tag(), loop=proto.loop))
        if resp.result != "OK":
            raise MailServerDown(f"STARTTLS refused: {_text(resp)}")
        loop = asyncio.get_running_loop()
        proto.transport = await loop.start_tls(proto.transport, proto, tls_context(self.cfg, "imap"),
                                               server_hostname=self.cfg.imap.host)
        await proto.capability()

    def _connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.imap is not None:
            self.imap.protocol.idle_queue.put_nowait(STOP)

    async def close(self) -> None:
        imap, self.imap = self.imap, None
        if imap is None:
            return
        try:
            if not self.lost and not shutdown.requested.is_set():  # stopping: no goodbye on a maybe-stalled line
                async with asyncio.timeout(2):  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                    await imap.logout()
        except Exception:  # a dying connection may fail in any way; we are leaving anyway
            pass

    @property
    def conn(self) -> aioimaplib.IMAP4:
        """The logged-in connection (MailServerDown before connect())."""
        if self.imap is None:
            raise MailServerDown("IMAP not connected")
        return self.imap

    async def _call(self, coro: Awaitable[aioimaplib.Response], what: str) -> aioimaplib.Response:
        """Run one IMAP command; a lost or stalled connection becomes MailServerDown."""
        if self.imap is None or self.lost:
            raise MailServerDown("IMAP connection lost")
        try:
            async with asyncio.timeout(self.cfg.imap.timeout):
                return await coro
        except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
            self.lost = True
            raise MailServerDown(f"IMAP {what}: {exc.__class__.__name__}: {exc}") from exc

    async def sizes(self) -> dict[int, int]:
        """RFC822.SIZE of every message in the mailbox, by UID, in one command."""
        resp = await self._call(self.conn.uid("fetch", "1:*", "(UID RFC822.SIZE)"), "UID FETCH SIZE")
        if resp.result != "OK":
            raise MailServerDown(f"UID FETCH RFC822.SIZE: {_text(resp)}")
        out: dict[int, int] = {}
        for line in resp.lines:
            if isinstance(line, (bytes, bytearray)):
                uid, size = re.search(rb"UID (\d+)", line), re.search(rb"RFC822\.SIZE (\d+)", line)
                if uid and size:
                    out[int(uid.group(1))] = int(size.group(1))
        return out

    async def fetch_headers(self, uid: int) -> bytes | None:
        """Only the header of a message (for one too large to fetch)."""
        resp = await self._call(self.conn.uid("fetch", str(uid), "(UID BODY.PEEK[HEADER])"), "UID FETCH HEADER")
        for line in resp.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        return None

    async def fetch(self, uid: int) -> bytes | None:
        """The raw bytes of one message, without setting \\Seen; None when it is gone."""
        resp = await self._call(self.conn.uid("fetch", str(uid), "(UID BODY.PEEK[])"), "UID FETCH")
        if resp.result != "OK":
            raise MailServerDown(f"UID FETCH {uid}: {_text(resp)}")
        for line in resp.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        return None

    async def move(self, uid: int, folder: str) -> None:
        """Move one message out of the mailbox (MOVE, else COPY + \\Deleted + UID EXPUNGE)."""
        imap = self.conn
        if imap.has_capability("MOVE"):
            resp = await self._call(imap.uid("move", str(uid), quoted(folder)), "UID MOVE")
            if resp.result != "OK":
                raise MailServerDown(f"UID MOVE {uid}: {_text(resp)}")
            return
        resp = await self._call(imap.uid("copy", str(uid), quoted(folder)), "UID COPY")
        if resp.result != "OK":
            raise MailServerDown(f"UID COPY {uid}: {_text(resp)}")
        await self._call(imap.uid("store", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE")
        if imap.has_capability("UIDPLUS"):
            await self._call(imap.uid("expunge", str(uid)), "UID EXPUNGE")
        else:
            await self._call(imap.expunge(), "EXPUNGE")

    async def replace(self, uid: int, raw: bytes, folder: str) -> None:
        """Keep `raw` (a redacted copy) in `folder` instead of the original: APPEND, then delete the original."""
        resp = await self._call(self.conn.append(raw, mailbox=quoted(folder), flags=r"(\Seen)"), "APPEND")
        if resp.result != "OK":
            raise MailServerDown(f"APPEND to {folder}: {_text(resp)}")
        await self._call(self.conn.uid("store", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE")
        if self.conn.has_capability("UIDPLUS"):
            await self._call(self.conn.uid("expunge", str(uid)), "UID EXPUNGE")
        else:
            await self._call(self.conn.expunge(), "EXPUNGE")

    async def wait_for_mail(self) -> None:
        """Return when new mail may be there: IDLE push, or the poll interval."""
        c = self.cfg.imap
        if not (c.idle and self.imap is not None and self.imap.has_capability("IDLE")):
            await asyncio.sleep(c.poll_interval)
            return
        idle = await self._call(self.imap.idle_start(timeout=c.poll_interval), "IDLE")
        try:
            while True:
                async with asyncio.timeout(c.poll_interval + c.timeout):
                    lines = await self.imap.wait_server_push()
                if lines == STOP or any(b"EXISTS" in ln for ln in lines if isinstance(ln, bytes)):
                    break
        except TimeoutError:
            self.lost = True  # no push and no timer: the connection has stalled
            raise MailServerDown("IMAP IDLE stalled") from None
        finally:
            if not self.lost:
                self.imap.idle_done()
                try:
                    async with asyncio.timeout(c.timeout):
                        await idle
                except (TimeoutError, aioimaplib.AioImapException):
                    self.lost = True
        if self.lost:
            raise MailServerDown("IMAP connection lost during IDLE")


def _text(resp: aioimaplib.Response) -> str:
    last = resp.lines[-1] if resp.lines else b""
    return last.decode(errors="replace") if isinstance(last, (bytes, bytearray)) else str(last)


def _uidvalidity(resp: aioimaplib.Response) -> int:
    for line in resp.lines:
        if isinstance(line, bytes):
            m = re.search(rb"UIDVALIDITY (\d+)", line)
            if m:
                return int(m.group(1))
    return 0
