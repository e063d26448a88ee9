"""Fixtures: a real Dovecot (per session), a real aiosmtpd sink (per test), configs and mails."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
from servers import PASSWORD, Dovecot, SmtpSink

from maildesk.act.customers import add_customer
from maildesk.config import Config, load
from maildesk.daemon import Daemon, open_store
from maildesk.pipeline import Pipeline
from maildesk.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_users = itertools.count(1)

RULES = """\
[helpdesk]
name = "Example Support"
address = "helpdesk@example.test"
tag = "EX"
data_dir = "var"

[imap]
host = "127.0.0.1"
port = {imap_port}
security = "none"
username = "{user}"
password_file = "imap.secret"
poll_interval = {poll}
timeout = 5
reconnect_max = 2

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout = 5
retry_base = 1
retry_max = 2

[[queue]]
name = "general"
default = true

[[consultant]]
email = "jana@example.test"
name = "Jana Nováková"
queues = [{jana_queues}]
language = "cs"
{extra}
"""


@pytest.fixture(scope="session")
def dovecot():
    server = Dovecot().start()
    yield server
    server.destroy()


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def make_config(tmp_path, dovecot, smtp):
    """Write a rules.toml for this test (own IMAP user = own mailbox) and load it."""

    def make(extra: str = "", poll: int = 60, jana_queues: str = "", **over: object) -> Config:
        """jana_queues='"general"' makes Jana a consultant of the default queue (she gets notifications)."""
        user = f"helpdesk{next(_users)}"
        (tmp_path / "imap.secret").write_text(PASSWORD)
        text = RULES.format(imap_port=over.get("imap_port", dovecot.port), user=user,
                            smtp_port=over.get("smtp_port", smtp.port), poll=poll, extra=extra,
                             jana_queues=jana_queues)
        (tmp_path / "rules.toml").write_text(text)
        return load(tmp_path / "rules.toml")

    return make


@pytest.fixture
def cfg(make_config) -> Config:
    return make_config()


def _acme(cfg: Config) -> str:
    add_customer(open_store(cfg), "12345678", "ACME s.r.o.", ["alice@acme.test", "bob@acme.test"], "en", None)
    return "12345678"


@pytest.fixture
def customer(cfg):
    """ACME with alice@acme.test and bob@acme.test as contacts."""
    return _acme(cfg)


@pytest.fixture
def customer_factory():
    """ACME in a config made by the test itself."""
    return _acme


@pytest.fixture
def frozen_clock():
    """An injected clock the test moves by hand."""
    from datetime import datetime

    from maildesk import clock
    state = {"now": datetime(2026, 11, 16, 9, 0, tzinfo=UTC)}
    clock.set_source(lambda: state["now"])
    yield state
    clock.set_source(None)


async def until(cond, timeout: float = 15.0) -> None:
    """Wait (in an async test) until cond() is true; fail when it is not within the timeout."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def eml(name: str, **subs: object) -> bytes:
    """A fixture mail from tests/fixtures, with {placeholders} filled in."""
    text = (FIXTURES / f"{name}.eml").read_bytes()
    for key, value in subs.items():
        text = text.replace(b"{" + key.encode() + b"}", str(value).encode())
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def stored_blobs(cfg: Config) -> dict[str, bytes]:
    """Every blob maildesk keeps, by name: the rows of the database's blobs table (small ones) and the
    files under data_dir/blobs (big ones, and any temp file). A test of what is stored looks at both."""
    out: dict[str, bytes] = {}
    db = cfg.data_dir / "maildesk.db"
    if db.exists():
        conn = sqlite3.connect(db)
        try:
            out.update((sha, bytes(data)) for sha, data in conn.execute("SELECT sha256, data FROM blobs"))
        finally:
            conn.close()
    root = cfg.data_dir / "blobs"
    out.update((p.name, p.read_bytes()) for p in (root.rglob("*") if root.is_dir() else ()) if p.is_file())
    return out


def age_blobs(cfg: Config, days: float = 2) -> None:
    """The blobs were stored long ago: files' mtime and rows' last put (purge and fsck spare fresh ones)."""
    old = time.time() - days * 86400
    conn = sqlite3.connect(cfg.data_dir / "maildesk.db")
    with conn:
        conn.execute("UPDATE blobs SET used = ?", (old,))
    conn.close()
    for path in (cfg.data_dir / "blobs").glob("*/*"):
        os.utime(path, (old, old))


def run_once(cfg: Config) -> None:
    asyncio.run(Daemon(cfg).run(once=True))


def cli(cfg: Config, *args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `maildesk` command in a child process."""
    return subprocess.run([sys.executable, "-m", "maildesk", "--config", str(cfg.path), *args],
                          capture_output=True, text=True, input=stdin, env={**os.environ, **(env or {})}, timeout=120)


# A calendar with Czech holidays and the plan "paid" (8 h / 16 h, express 1 h / 4 h for 1500 CZK).
PAID_PLAN = """
[[hours]]
name = "office"
timezone = "Europe/Prague"
start = "09:00"
end = "18:00"
country = "CZ"

[[plan]]
name = "paid"
hours = "office"
first_response_hours = 8
resolution_hours = 16
express = true
express_first_response_hours = 1
express_resolution_hours = 4
express_price = "1500 CZK"
"""


# -- without servers ---------------------------------------------------------------

OFFLINE_RULES = """\
[helpdesk]
name = "Example Support"
address = "helpdesk@example.test"
tag = "EX"
{helpdesk}
[imap]
enabled = false
[limits]
parse_timeout = 0
{limits}
[[queue]]
name = "general"
default = true
[[consultant]]
email = "jana@example.test"
name = "Jana"
queues = ["general"]
{extra}
"""


@pytest.fixture
def offline(tmp_path):  # the fast unit layer: real SQLite, no IMAP, no SMTP
    """(config, store, pipeline) with ACME (alice, bob) and a password; no IMAP, no SMTP."""
    def make(helpdesk: str = "", limits: str = "", extra: str = "") -> tuple[Config, Store, Pipeline]:
        (tmp_path / "rules.toml").write_text(OFFLINE_RULES.format(helpdesk=helpdesk, limits=limits, extra=extra))
        cfg = load(tmp_path / "rules.toml")
        store = Store(cfg.data_dir / "maildesk.db")
        add_customer(store, "12345678", "ACME", ["alice@acme.test", "bob@acme.test"], "en", "the-right-password")
        return cfg, store, Pipeline(cfg, store)
    return make


@pytest.fixture
def offline_cfg(offline) -> Config:
    """A config for tests of the CLI and the store that deliver no mail (IMAP off, no SMTP server)."""
    return offline()[0]


class Running:
    """`maildesk run` in a child process, its log in a file the test can wait on."""

    def __init__(self, cfg, env: dict | None = None) -> None:
        self.log = Path(cfg.path).parent / "daemon.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "maildesk", "--config", str(cfg.path), "run"],
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("w"),
                                     env={**os.environ, **(env or {})})

    def wait_log(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text():
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.log.read_text()}"
            time.sleep(0.05)

    def terminate(self) -> tuple[float, int]:
        """SIGTERM; (seconds until the process was gone, exit code)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        return time.monotonic() - t0, code
