"""A 20 MB mail does not keep the daemon's memory: big buffers are returned to the system when freed.

How much memory a backlog with 20 MB mails takes is measured by `make bench` (the memory section);
these tests check the mechanism, not a figure.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import run_once

from maildesk import daemon

PROBE = """
import os, sys
from maildesk.daemon import give_back_big_buffers
def rss(): return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20
if sys.argv[1] == "on": give_back_big_buffers()
base = rss()
first = bytes(20 << 20); del first   # glibc would now raise its threshold past 20 MB...
second = b"x" * (20 << 20); del second  # ...and keep this one's pages on its heap
print(rss() - base)
"""


def kept_mib(mode: str) -> int:
    return int(subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                              check=True).stdout)


def test_a_freed_20_mb_buffer_is_given_back():
    assert kept_mib("off") >= 15  # the problem is real on this libc...
    assert kept_mib("on") <= 3  # ...and the daemon's setting removes it


def test_the_daemon_sets_it_before_any_mail(offline_cfg, monkeypatch):
    calls = []
    monkeypatch.setattr(daemon, "give_back_big_buffers", lambda: calls.append(1))
    run_once(offline_cfg)
    assert calls == [1]
