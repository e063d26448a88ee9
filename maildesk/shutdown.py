"""The daemon's signals: SIGTERM/SIGINT end it within STOP_GRACE seconds, in every state; SIGHUP reloads.

A signal sets `requested` (read by code that may block the event loop, like
the parse wait) and asks the loop to stop. Python runs signal handlers only
between bytecodes of the main thread, so a main thread stuck in C code (SQLite
waiting for another process's lock) would never see one. The C-level handler
also writes the signal number to a wakeup pipe, though: a watchdog thread
reads it and, unless the graceful stop finishes in STOP_GRACE seconds, ends the
process. Every commit is atomic and mail leaves the INBOX only after its
commit, so a forced exit loses nothing. SIGHUP (`systemctl reload`) only asks
the loop to reload the configuration; the watchdog ignores it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Protocol

STOP_GRACE = 4.0  # seconds from the signal to a forced exit; systemd and operators expect < 5
SIGNALS = (signal.SIGTERM, signal.SIGINT)
requested = threading.Event()

log = logging.getLogger("maildesk.daemon")


def pid_alive(pid: int | None) -> bool:
    """Is there a process with this pid (ours or another user's)?"""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user (the service user)
    return True


def force_exit() -> None:
    """Last resort when the graceful stop hangs: exit now (nothing committed is lost)."""
    log.error("still running %.1fs after the stop signal: exiting now (nothing committed is lost)", STOP_GRACE)
    logging.shutdown()
    os._exit(1)


class Uninstall(Protocol):
    """Undo install(); graceful=False leaves the forced exit armed (a task still hangs)."""

    def __call__(self, graceful: bool = True) -> None: ...


def install(on_stop: Callable[[], object], on_reload: Callable[[], object] | None = None) -> Uninstall:
    """Handle SIGTERM/SIGINT (and SIGHUP with `on_reload`; call from the main thread); returns the undo."""
    requested.clear()
    finished = threading.Event()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def handler(signum: int, frame: object) -> None:
        if not requested.is_set():
            requested.set()
            on_stop()

    def reload(signum: int, frame: object) -> None:
        if on_reload is not None and not requested.is_set():
            on_reload()

    def watchdog() -> None:
        stops = {int(sig) for sig in SIGNALS}
        try:
            while got := os.read(read_fd, 1):  # b"" when uninstall closes the pipe
                if got[0] in stops:  # the pipe carries every handled signal's number: a SIGHUP is no stop
                    if not finished.wait(STOP_GRACE):
                        force_exit()
                    return
        finally:
            os.close(read_fd)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    if on_reload is not None:
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload)
    old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    threading.Thread(target=watchdog, name="stop-watchdog", daemon=True).start()

    def uninstall(graceful: bool = True) -> None:
        if graceful:
            finished.set()
        signal.set_wakeup_fd(old_fd)
        for sig, old in previous.items():
            signal.signal(sig, old)
        if graceful:
            os.close(write_fd)  # the watchdog reads end-of-file and leaves
    return uninstall
