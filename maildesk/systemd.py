"""The sd_notify protocol: tell systemd we are ready, what we are doing, and that the event loop still runs.

About 20 lines of socket code instead of a library: `sdnotify` has had no
release since 2017, and `systemd-python` needs libsystemd's headers to build.
The protocol is one datagram of KEY=VALUE lines to $NOTIFY_SOCKET (a path, or
an abstract socket when it starts with '@').
"""

from __future__ import annotations

import os
import socket


def notify(*fields: str) -> bool:
    """Send READY=1, STATUS=..., WATCHDOG=1, STOPPING=1...; False when not started by systemd (or it failed)."""
    path = os.environ.get("NOTIFY_SOCKET", "")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall("\n".join(fields).encode("utf-8", "replace"))
    except OSError:
        return False  # systemd went away (or never was): the daemon runs on regardless
    return True


def watchdog_seconds() -> float | None:
    """How often to send WATCHDOG=1 (half of WatchdogSec), or None when systemd does not watch this process."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6
