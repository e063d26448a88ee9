"""The systemd unit: `systemd-analyze verify` clean, exposure <= 2.0, and maildesk runs under its sandbox.

No systemd runs as PID 1 in CI, so the two settings that could break the
daemon at run time are applied here by hand to a real `maildesk run --once`
over Dovecot and aiosmtpd: the system-call filter (the unit's allow-list and
deny-list, expanded by `systemd-analyze syscall-filter`, loaded with libseccomp
returning EPERM like `SystemCallErrorNumber=EPERM`) and MemoryDenyWriteExecute
(the kernel's PR_SET_MDWE, the same rule).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT, eml

from maildesk.daemon import open_store

UNIT = ROOT / "maildesk.service"


def installed_unit(tmp_path: Path) -> Path:
    """The unit as installed, with ExecStart naming this venv's maildesk (verify checks it exists)."""
    text = UNIT.read_text().replace("/opt/maildesk/.venv/bin/maildesk", str(Path(sys.prefix) / "bin" / "maildesk"))
    path = tmp_path / "maildesk.service"
    path.write_text(text)
    return path


def test_systemd_analyze_verify_is_clean(tmp_path):
    done = subprocess.run(["systemd-analyze", "verify", str(installed_unit(tmp_path))], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stderr


def test_systemd_analyze_security_exposure_is_at_most_2(tmp_path):
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(installed_unit(tmp_path))],
                          capture_output=True, text=True, timeout=60)
    level = re.search(r"Overall exposure level for maildesk.service: (\d+\.\d+)", done.stdout)
    assert level, done.stdout + done.stderr
    assert float(level.group(1)) <= 2.0, done.stdout


def unit_settings(key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(key + "=")]


@cache
def expand(group: str) -> frozenset[str]:
    """The system calls of a `@group`, nested groups included, as this systemd defines them."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    calls: set[str] = set()
    for line in out.splitlines()[1:]:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        calls |= expand(name) if name.startswith("@") else {name}
    return frozenset(calls)


def allowed_calls() -> set[str]:
    """SystemCallFilter= as systemd reads it: the first line is an allow-list, a `~` line removes from it."""
    allowed: set[str] = set()
    for value in unit_settings("SystemCallFilter"):
        deny = value.startswith("~")
        names = {c for g in value.lstrip("~").split() for c in (expand(g) if g.startswith("@") else {g})}
        allowed = allowed - names if deny else allowed | names
    return allowed


def sandbox(calls: set[str]):
    """A preexec_fn: MemoryDenyWriteExecute and the system-call filter, as the unit sets them."""
    libc = ctypes.CDLL(None, use_errno=True)
    seccomp = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    numbers = [n for n in (seccomp.seccomp_syscall_resolve_name(c.encode()) for c in sorted(calls)) if n >= 0]

    def apply() -> None:
        if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
            raise OSError(ctypes.get_errno(), "PR_SET_MDWE")
        ctx = seccomp.seccomp_init(0x00050000 | 1)  # SCMP_ACT_ERRNO(EPERM)
        for n in numbers:
            seccomp.seccomp_rule_add(ctx, 0x7FFF0000, n, 0)  # SCMP_ACT_ALLOW
        if seccomp.seccomp_load(ctx) != 0:
            raise OSError("seccomp_load failed")
    return apply


def test_maildesk_runs_under_the_units_syscall_filter_and_memory_deny_write_execute(make_config, customer_factory,
                                                                                   dovecot, smtp):
    assert unit_settings("MemoryDenyWriteExecute") == ["yes"] and unit_settings("SystemCallErrorNumber") == ["EPERM"]
    calls = allowed_calls()
    assert "execve" in calls and "sched_setaffinity" not in calls and "chroot" not in calls
    if not os.path.exists("/proc/self/status") or "Seccomp:" not in Path("/proc/self/status").read_text():
        pytest.fail("this kernel has no seccomp")
    cfg = make_config(jana_queues='"general"')
    customer_factory(cfg)
    dovecot.append(cfg.imap.username, eml("new_request_attachment"))
    dovecot.append(cfg.imap.username, eml("stranger"))
    cmd = [sys.executable, "-m", "maildesk", "--config", str(cfg.path), "run", "--once"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, preexec_fn=sandbox(calls))
    assert done.returncode == 0, done.stderr
    store = open_store(cfg)
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 1
    assert store.one("SELECT COUNT(*) AS n FROM attachments")["n"] == 1
    assert len(smtp.wait_for(3)) >= 3  # confirmation, consultant copy, the stranger's notice
    denied = subprocess.run([sys.executable, "-c", "import os; os.sched_setaffinity(0, os.sched_getaffinity(0))"],
                            capture_output=True, text=True, timeout=60, preexec_fn=sandbox(calls))
    assert "Operation not permitted" in denied.stderr  # the filter is really loaded
    wx = subprocess.run([sys.executable, "-c", "import mmap; mmap.mmap(-1, 4096, prot=7)"],  # read+write+exec
                        capture_output=True, text=True, timeout=60, preexec_fn=sandbox(calls))
    assert wx.returncode != 0 and "PermissionError" in wx.stderr  # and so is MemoryDenyWriteExecute
