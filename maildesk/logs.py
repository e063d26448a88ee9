"""Log lines for the three places maildesk's stderr ends up: a terminal, the journal, a log shipper.

- text: `2026-11-25 12:04:31,512 INFO maildesk.fetch: ...` for a terminal or a file.
- journal: started by systemd with stderr connected to the journal ($JOURNAL_STREAM names
  stderr's device and inode). The journal stamps each line itself, so there is no second
  timestamp, and a `<N>` prefix (sd-daemon(3)) gives each line its syslog priority, so
  `journalctl -p warning` shows warnings and errors only. Every line of a traceback carries
  the prefix, or the journal would file the continuation lines as INFO.
- json: one JSON object per line (`--log-format json`) for Loki, Elasticsearch or Vector.

In every format control characters from a mail are escaped: a log line never drives
the operator's terminal, and never starts a forged journal line of its own.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TextIO

from maildesk.cli.views import safe

# sd-daemon(3) priorities for Python's levels
PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
NOISY = ("apscheduler", "mail-parser", "mailparser", "asyncio")


def priority(levelno: int) -> int:
    """The syslog priority of a Python log level (levels between two known ones round up in severity)."""
    return next((p for level, p in sorted(PRIORITY.items(), reverse=True) if levelno >= level), 7)


class TextFormatter(logging.Formatter):
    """Plain lines with a timestamp, control characters escaped."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return safe(super().format(record))


class JournalFormatter(logging.Formatter):
    """`<N>name: message` on every line: the journal adds the time and reads the priority."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in safe(super().format(record)).split("\n"))


class JsonFormatter(logging.Formatter):
    """One object per line: time (UTC, ISO 8601), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "priority": priority(record.levelno), "logger": record.name,
            "message": safe(record.getMessage()), "pid": record.process}
        if record.exc_info:
            entry["exception"] = safe(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def journal_stream(stream: TextIO) -> bool:
    """True when `stream` is the journal systemd connected us to ($JOURNAL_STREAM is "device:inode")."""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def setup(fmt: str = "text", verbose: bool = False, stream: TextIO | None = None) -> logging.Handler:
    """Install the one handler on the root logger; `fmt` is text or json (text becomes journal under systemd)."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter()
    elif journal_stream(stream):
        formatter = JournalFormatter()
    else:
        formatter = TextFormatter()
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    if not verbose:
        for noisy in NOISY:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
