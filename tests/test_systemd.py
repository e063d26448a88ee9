"""sd_notify against a real NOTIFY_SOCKET: READY=1 after the first IMAP login, STATUS, WATCHDOG, STOPPING."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

from conftest import cli, eml

from maildesk import systemd


def receive(sock: socket.socket, until: str, timeout: float = 20) -> list[str]:
    """Every datagram until one contains `until`."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if until in got[-1]:
            return got
    raise AssertionError(f"no {until!r} within {timeout}s; got {got}")


def test_ready_status_watchdog_and_stopping_reach_the_notify_socket(cfg, tmp_path):
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
        proc = subprocess.Popen([sys.executable, "-m", "maildesk", "--config", str(cfg.path), "run"], env=env,
                                stderr=subprocess.DEVNULL)
        try:
            ready = receive(sock, "READY=1")
            assert any("STATUS=idle; 0 in outbox" in m for m in ready)
            assert receive(sock, "WATCHDOG=1", timeout=5)  # every half WatchdogSec, from the event loop
            healthy = cli(cfg, "status", "--json")
            assert healthy.returncode == 0, healthy.stdout
            assert json.loads(healthy.stdout)["daemon"]["pid"] == proc.pid
            deadline = time.monotonic() + 10  # the first pass is in the heartbeat soon, not after 30 s
            while json.loads(cli(cfg, "status", "--json").stdout)["daemon"]["last_fetch"] is None:
                assert time.monotonic() < deadline, "last_fetch not written after the first pass"
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert receive(sock, "STOPPING=1", timeout=10)
            assert proc.wait(10) == 0
            stopped = cli(cfg, "status")
            assert stopped.returncode == 1 and "UNHEALTHY: the daemon is not running (stopped" in stopped.stdout
        finally:
            if proc.poll() is None:
                proc.kill()


def test_without_systemd_nothing_is_sent_and_an_abstract_socket_works(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False
    name = f"@maildesk-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name[1:])
        monkeypatch.setenv("NOTIFY_SOCKET", name)
        assert systemd.notify("READY=1", "STATUS=x") is True
        assert sock.recv(100) == b"READY=1\nSTATUS=x"
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")  # another process is watched: not us
    assert systemd.watchdog_seconds() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_seconds() == 30.0


def test_status_names_dead_mail_an_old_outbox_and_a_silent_fetch(offline, frozen_clock):
    from datetime import timedelta

    from maildesk.cli.status import problems
    cfg, store, p = offline()
    p.process(eml("new_request", n=1))  # a confirmation waits in the outbox (no SMTP here)
    store.heartbeat(os.getpid(), started=frozen_clock["now"].isoformat())
    assert problems(cfg, store.health_rows(), frozen_clock["now"]) == []
    frozen_clock["now"] += timedelta(hours=2)
    store.heartbeat(os.getpid())
    with store.transaction():
        store.update_mail(1, status="dead")
    p.process(eml("new_request", n=2))
    frozen_clock["now"] += timedelta(hours=2)
    store.heartbeat(os.getpid())
    found = problems(cfg, store.health_rows(), frozen_clock["now"])
    assert any("dead mail" in f for f in found) and any("waiting since" in f for f in found)
