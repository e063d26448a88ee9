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

from maildesk import shutdown
from maildesk.config import Limits
from maildesk.errors import ShuttingDown
from maildesk.inbound.credentials import passwords_in_parts
from maildesk.inbound.headers import message_key
from maildesk.inbound.parse import parse, stub
from maildesk.models import ParsedMail, Reason

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


class ParseWorker:
    """parse() in a separate process with a time limit, so no message can hang or crash the daemon."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pool: ProcessPoolExecutor | None = None
        self.ahead: dict[bytes, Future[ParsedMail]] = {}  # parses started before the daemon asked for them

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                            initializer=_die_with_parent, initargs=(os.getpid(),))
        return self.pool

    def prefetch(self, raws: list[bytes]) -> None:
        """Start parsing a fetched batch now: the worker parses the next mail while the daemon commits this one."""
        if self.limits.parse_timeout > 0:
            for raw in raws:
                if raw not in self.ahead:
                    self.ahead[raw] = self._pool().submit(_remote, raw, self.limits)

    def forget(self) -> None:
        """Drop parses started for mails that will not be asked for now (a stop in the middle of a batch)."""
        for future in self.ahead.values():
            future.cancel()
        self.ahead.clear()

    def __call__(self, raw: bytes) -> ParsedMail:
        if self.limits.parse_timeout <= 0:
            return scan_parse(raw, self.limits)
        future = self.ahead.pop(raw, None) or self._pool().submit(_remote, raw, self.limits)
        deadline = time.monotonic() + self.limits.parse_timeout
        while True:  # in slices, so a stop signal does not wait for a hostile parse to time out
            try:
                return dataclasses.replace(future.result(timeout=max(0.0, min(0.2, deadline - time.monotonic()))),
                                           raw=raw)
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
