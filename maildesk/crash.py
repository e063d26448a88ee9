"""Deterministic crash and fault points for the nothing-lost tests.

`MAILDESK_CRASH_AT=step` makes the process exit at once (no cleanup, like a
power cut) when it reaches that step; `MAILDESK_FAULT_AT=step` raises an
unexpected error there instead; `MAILDESK_STALL_AT=step` hangs there (a parser
stuck on a hostile message). Steps: after-fetch, before-commit, after-commit,
after-smtp, process, parse. Unset in production, these cost a dict lookup.
"""

from __future__ import annotations

import os
import time

CRASH_EXIT_CODE = 86


def point(step: str) -> None:
    """Die or fail here when the environment asks for it."""
    if os.environ.get("MAILDESK_CRASH_AT") == step:
        os._exit(CRASH_EXIT_CODE)
    if os.environ.get("MAILDESK_FAULT_AT") == step:
        raise RuntimeError(f"injected fault at {step}")
    if os.environ.get("MAILDESK_STALL_AT") == step:
        time.sleep(3600)
