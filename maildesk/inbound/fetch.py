"""Fetch stage: the IMAP side (aioimaplib): connect, list, fetch, move, IDLE.

Messages are read with BODY.PEEK[] so that a crash leaves them unread and in
the INBOX; they are moved out only after the pipeline has committed what they
caused. UIDVALIDITY + UID are kept as a watermark in SQLite, and the
message key (a hash of the bytes without the per-delivery trace fields) makes
a re-fetch harmless even when the mailbox was re-created.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Awaitable

import aioimaplib
from aioimaplib import quoted

from maildesk import shutdown
from maildesk.config import Config, secret, tls_context
from maildesk.errors import MailServerDown
from maildesk.inbound.imapwire import IMAP4

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
            context = tls_context(self.cfg, "imap") if c.security == "tls" else None
            imap = IMAP4(c.host, c.port, timeout=c.timeout, ssl_context=context)
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

    async def uids(self, above: int = 0) -> list[int]:
        """The UIDs in the mailbox above `above`, ascending (one UID SEARCH; a line of numbers even for 100k)."""
        resp = await self._call(self.conn.uid_search(f"UID {above + 1}:*", charset=None), "UID SEARCH")
        if resp.result != "OK":
            raise MailServerDown(f"UID SEARCH: {_text(resp)}")
        found: set[int] = set()
        for line in resp.lines[:-1]:  # the untagged "* SEARCH n n n" (aioimaplib drops the "SEARCH"); then "OK"
            words = bytes(line).split() if isinstance(line, (bytes, bytearray)) else []
            words = words[1:] if words[:1] == [b"SEARCH"] else words
            if all(w.isdigit() for w in words):
                found.update(int(w) for w in words)
        return sorted(u for u in found if u > above)  # "n:*" also names the highest UID when it is below n

    async def sizes(self, uids: list[int]) -> dict[int, int]:
        """RFC822.SIZE of some messages, by UID, in one command (callers pass a bounded window)."""
        resp = await self._call(self.conn.uid("fetch", uid_set(uids), "(UID RFC822.SIZE)"), "UID FETCH SIZE")
        if resp.result != "OK":
            raise MailServerDown(f"UID FETCH RFC822.SIZE: {_text(resp)}")
        out: dict[int, int] = {}
        for line in resp.lines:
            if isinstance(line, (bytes, bytearray)):
                uid, size = re.search(rb"UID (\d+)", line), re.search(rb"RFC822\.SIZE (\d+)", line)
                if uid and size:
                    out[int(uid.group(1))] = int(size.group(1))
        return out

    async def fetch_many(self, uids: list[int]) -> dict[int, bytes]:
        """The raw bytes of several messages in one command, without setting \\Seen; a vanished one is left out."""
        resp = await self._call(self.conn.uid("fetch", uid_set(uids), "(UID BODY.PEEK[])"), "UID FETCH")
        if resp.result != "OK":
            raise MailServerDown(f"UID FETCH {uid_set(uids)[:40]}: {_text(resp)}")
        return literals_by_uid(resp.lines)

    async def fetch_pieces(self, uid: int, limit: int) -> bytes | None:
        """One big message a piece at a time (partial FETCH, RFC 3501 6.4.5); None when it vanished.

        aioimaplib gathers a literal in a buffer and copies it out whole, so a 20 MB mail fetched
        in one go stood in memory three times over; in pieces, only the mail itself and one piece.
        A server that sends more than asked, or more than `limit` bytes in all, is a fault.
        """
        out = io.BytesIO()
        while True:
            what = f"(UID BODY.PEEK[]<{out.tell()}.{PIECE}>)"
            resp = await self._call(self.conn.uid("fetch", str(uid), what), "UID FETCH piece")
            if resp.result != "OK":
                raise MailServerDown(f"UID FETCH {uid} {what}: {_text(resp)}")
            piece = next((line for line in resp.lines if isinstance(line, bytearray)), None)
            answered = any(b"FETCH" in line for line in resp.lines if isinstance(line, bytes))
            del resp
            if piece is None:
                if not answered:  # expunged meanwhile: no FETCH line at all (never half a message)
                    return None
                break  # past the end: an empty string instead of a literal
            if len(piece) > PIECE or out.tell() + len(piece) > limit:
                raise MailServerDown(f"UID FETCH {uid}: the server sent more than asked for ({what})")
            out.write(piece)
            if len(piece) < PIECE:
                break
        return out.getvalue() if out.tell() else None

    async def fetch_headers(self, uid: int) -> bytes | None:
        """Only the header of a message (for one too large to fetch)."""
        resp = await self._call(self.conn.uid("fetch", str(uid), "(UID BODY.PEEK[HEADER])"), "UID FETCH HEADER")
        for line in resp.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        return None

    async def move(self, uids: list[int], folder: str) -> None:
        """Move messages out of the mailbox in one command (MOVE, else COPY + \\Deleted + UID EXPUNGE)."""
        if not uids:
            return
        imap, which = self.conn, uid_set(uids)
        if imap.has_capability("MOVE"):
            resp = await self._call(imap.uid("move", which, quoted(folder)), "UID MOVE")
            if resp.result != "OK":
                raise MailServerDown(f"UID MOVE {which[:40]}: {_text(resp)}")
            return
        resp = await self._call(imap.uid("copy", which, quoted(folder)), "UID COPY")
        if resp.result != "OK":
            raise MailServerDown(f"UID COPY {which[:40]}: {_text(resp)}")
        await self._call(imap.uid("store", which, "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE")
        if imap.has_capability("UIDPLUS"):
            await self._call(imap.uid("expunge", which), "UID EXPUNGE")
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


PIECE = 1 << 20  # a message this big or bigger is fetched in pieces of this size (fetch_pieces)
BATCH_BYTES = 8 * 1024 * 1024  # one FETCH brings at most this much (a larger message comes alone)
BATCH_COUNT = 50  # and at most this many messages


def fetch_batches(sizes: dict[int, int], too_large: int) -> list[list[int]]:
    """Consecutive UIDs grouped for one FETCH each: bounded in bytes and count, so memory stays flat.

    A message over `too_large` is not fetched at all (only its header), so it costs nothing here.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    weight = 0
    for uid in sorted(sizes):
        size = 0 if sizes[uid] > too_large else sizes[uid]
        if current and (weight + size > BATCH_BYTES or len(current) >= BATCH_COUNT):
            batches.append(current)
            current, weight = [], 0
        current.append(uid)
        weight += size
    if current:
        batches.append(current)
    return batches


def uid_set(uids: list[int]) -> str:
    """An IMAP UID set with runs folded: [1, 2, 3, 7, 9, 10] -> "1:3,7,9:10"."""
    parts: list[str] = []
    ordered = sorted(set(uids))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def literals_by_uid(lines: list[bytes | bytearray]) -> dict[int, bytes]:
    """Each message literal of a multi-message FETCH with its UID (named before the literal, or after it)."""
    out: dict[int, bytes] = {}
    for i, line in enumerate(lines):
        if not isinstance(line, bytearray):
            continue
        for near in (lines[i - 1] if i else b"", lines[i + 1] if i + 1 < len(lines) else b""):
            m = re.search(rb"UID (\d+)", near) if isinstance(near, bytes) else None
            if m:
                out[int(m.group(1))] = bytes(line)
                break
    return out


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
