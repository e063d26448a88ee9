"""The one clock maildesk reads, so tests can move time (caps, backoffs, rate limits, retries, bounces).

Every decision that depends on the time reads `now()`; only APScheduler's own
timer and the monotonic timeouts of network calls use the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); None restores the real one."""
    global _source
    _source = source or (lambda: datetime.now(UTC))
