"""parse() in a separate process with a time limit, so no message can hang or crash the daemon."""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from maildesk import shutdown
from maildesk.config import Limits
from maildesk.errors import ShuttingDown
from maildesk.inbound.credentials import passwords_in_parts, to_redact
from maildesk.inbound.headers import message_key
from maildesk.inbound.parse import parse, stub
from maildesk.models import ParsedMail, Reason
from maildesk.store.blobs import BlobStore

BIG = 1 << 20  # a mail, or an attachment, this big does not cross between the processes through the pipe

log = logging.getLogger("maildesk.parse")


def _die_with_parent(parent: int) -> None:
    """Worker initializer: the kernel kills the worker when the daemon dies (Linux PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def scan_parse(raw: bytes, limits: Limits) -> ParsedMail:
    """parse() that also finds the passwords in every text part, from the same parse."""
    return parse(raw, limits, scan=passwords_in_parts)


def _remote(raw: bytes, limits: Limits) -> ParsedMail:
    """scan_parse() in the worker; the raw bytes are not sent back (the daemon has them: 20 MB saved twice)."""
    return dataclasses.replace(scan_parse(raw, limits), raw=b"")


def _remote_big(parent: int, fd: int, limits: Limits, blobs: str) -> ParsedMail | None:
    """scan_parse() of a big mail the daemon put in a memory file; big attachments go to the blob store from here.

    Neither goes through the pipe: pickling copies a mail on both sides (+20 MB in the daemon and
    +40 MB here for a 20 MB mail), and a 15 MB attachment pickled back cost the daemon 30 MB.
    """
    try:
        with open(f"/proc/{parent}/fd/{fd}", "r+b") as fh:  # the daemon's memfd, read from the start...
            raw = fh.read()
            fh.truncate(0)  # ...and emptied at once: its copy of the mail does not wait for the parse to end
    except OSError:  # no /proc here (or not ours to read): the daemon sends it through the pipe instead
        return None
    mail = dataclasses.replace(scan_parse(raw, limits), raw=b"")
    del raw
    if to_redact(mail):  # its files are redacted first, then stored by the daemon: never here
        return mail
    store, atts = BlobStore(Path(blobs)), []
    for att in mail.attachments:
        if len(att.data) >= BIG:
            store.put(att.data)
            att = dataclasses.replace(att, data=b"", stored=len(att.data))
        atts.append(att)
    return dataclasses.replace(mail, attachments=tuple(atts))


def _memory_file(raw: bytes) -> int | None:
    """A memory-only file (memfd: never on disk, gone when closed) holding `raw`; None where there is none."""
    try:
        fd = os.memfd_create("maildesk-mail", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None
    try:
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
    except OSError:  # no memory for it: the pipe, as for any mail
        os.close(fd)
        return None
    return fd


class ParseWorker:
    """parse() in a separate process with a time limit, so no message can hang or crash the daemon."""

    def __init__(self, limits: Limits, data_dir: Path | None = None) -> None:
        self.limits = limits
        self.blobs = data_dir / "blobs" if data_dir is not None else None  # where the worker stores big files
        self.pool: ProcessPoolExecutor | None = None
        self.ahead: dict[bytes, Future[ParsedMail | None]] = {}  # parses started before the daemon asked for them

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                            initializer=_die_with_parent, initargs=(os.getpid(),))
        return self.pool

    def _submit(self, raw: bytes) -> Future[ParsedMail | None]:
        """Hand a mail to the worker: through the pipe, or a big one as a memory file (closed once parsed)."""
        if self.blobs is None or len(raw) < BIG or (fd := _memory_file(raw)) is None:
            return self._pool().submit(_remote, raw, self.limits)
        try:
            future = self._pool().submit(_remote_big, os.getpid(), fd, self.limits, str(self.blobs))
        except BaseException:
            os.close(fd)
            raise
        future.add_done_callback(lambda _: os.close(fd))
        return future

    def prefetch(self, raws: list[bytes]) -> None:
        """Start parsing a fetched batch now: the worker parses the next mail while the daemon commits this one."""
        if self.limits.parse_timeout > 0:
            for raw in raws:
                if raw not in self.ahead:
                    self.ahead[raw] = self._submit(raw)

    def forget(self) -> None:
        """Drop parses started for mails that will not be asked for now (a stop in the middle of a batch)."""
        for future in self.ahead.values():
            future.cancel()
        self.ahead.clear()

    def __call__(self, raw: bytes) -> ParsedMail:
        if self.limits.parse_timeout <= 0:
            return scan_parse(raw, self.limits)
        future = self.ahead.pop(raw, None) or self._submit(raw)
        deadline = time.monotonic() + self.limits.parse_timeout
        while True:  # in slices, so a stop signal does not wait for a hostile parse to time out
            try:
                parsed = future.result(timeout=max(0.0, min(0.2, deadline - time.monotonic())))
                if parsed is None:  # the memory file could not be read over there: through the pipe after all
                    future = self._pool().submit(_remote, raw, self.limits)
                    continue
                return dataclasses.replace(parsed, raw=raw)
            except FutureTimeout:
                if shutdown.requested.is_set():
                    self.close()
                    raise ShuttingDown("stop signal during a parse: the message stays in the INBOX") from None
                if time.monotonic() >= deadline:
                    reason = Reason.PARSE_TIMEOUT.value
                    break
            except BrokenProcessPool:  # the worker died (out of memory, a crash in C code)
                reason = Reason.UNPARSEABLE.value
                break
        key = message_key(raw)
        log.warning("key:%s #- parse failed: %s", key[:16], reason)
        self.close()
        return stub(key, raw, reason)

    def close(self) -> None:
        """Stop the worker at once, even in the middle of a parse."""
        self.ahead.clear()  # they die with the worker: asked for again, they are parsed anew
        pool, self.pool = self.pool, None
        if pool is not None:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()
            pool.shutdown(wait=False, cancel_futures=True)
