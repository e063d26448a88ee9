"""Throwaway real servers for tests, the demo and the benchmark.

`Dovecot` runs a private, unprivileged-enough Dovecot IMAP server on a free
loopback port (Debian's dovecot-imapd; needs root to start, as in CI).
`SmtpSink` is an aiosmtpd server that keeps every mail it accepts and can be
told to answer 4xx/5xx or to go away and come back. Neither is used by the
daemon itself.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

PASSWORD = "secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
{extra}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
"""


class Dovecot:
    """A private Dovecot on loopback; every user name logs in with PASSWORD and has its own maildir."""

    def __init__(self, extra_conf: str = "", tls: bool = False) -> None:
        if not shutil.which("dovecot"):
            raise RuntimeError("dovecot is not installed (Debian package dovecot-imapd)")
        self.root = Path(tempfile.mkdtemp(prefix="maildesk-dovecot-"))
        os.chmod(self.root, 0o755)
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir()
        shutil.chown(self.root / "mail", "dovecot", "dovecot")
        self.port = free_port()
        self.imaps_port = free_port() if tls else 0
        self.cert = self.root / "cert.pem"
        ssl_conf = "ssl = no"
        if tls:
            self._make_cert()
            ssl_conf = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{self.root / 'key.pem'}"
        self.conf = self.root / "dovecot.conf"
        self.conf.write_text(DOVECOT_CONF.format(root=self.root, port=self.port, imaps_port=self.imaps_port,
                                                 password=PASSWORD, extra=extra_conf, ssl=ssl_conf))
        self.running = False

    def _make_cert(self) -> None:
        """A self-signed certificate for 127.0.0.1; clients trust it through ca_file."""
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(self.root / "key.pem"), "-out", str(self.cert)],
                       check=True, capture_output=True)
        os.chmod(self.root / "key.pem", 0o644)

    def start(self) -> Dovecot:
        subprocess.run(["dovecot", "-c", str(self.conf)], check=True)
        self.running = True
        wait_port(self.port)
        return self

    def _children(self) -> list[int]:
        """PIDs of the processes the Dovecot master started (imap sessions among them)."""
        try:
            master = (self.root / "run" / "master.pid").read_text().strip()
        except OSError:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if stat.rsplit(")", 1)[1].split()[1] == master:
                    pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        """Stop the server like a crash or restart would: every session of it is gone afterwards.

        `doveadm stop` leaves imap sessions in IDLE running, so they are killed by PID.
        """
        if self.running:
            children = self._children()
            subprocess.run(["doveadm", "-c", str(self.conf), "stop"], check=False, capture_output=True)
            for pid in children:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            self.running = False
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", self.port)) != 0:
                        break
                time.sleep(0.05)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self, user: str) -> imaplib.IMAP4:
        c = imaplib.IMAP4("127.0.0.1", self.port)
        c.login(user, PASSWORD)
        return c

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        with self.client(user) as c:
            typ, data = c.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data}")

    def count(self, user: str, folder: str) -> int:
        with self.client(user) as c:
            typ, data = c.select(f'"{folder}"', readonly=True)
            return int(data[0]) if typ == "OK" else 0

    def messages(self, user: str, folder: str) -> list[bytes]:
        with self.client(user) as c:
            typ, _ = c.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            _, data = c.uid("SEARCH", None, "ALL")
            out = []
            for uid in data[0].split():
                _, parts = c.uid("FETCH", uid, "(BODY.PEEK[])")
                out.append(parts[0][1])
            return out


@dataclass
class Received:
    sender: str
    rcpts: list[str]
    data: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


class SmtpSink:
    """A real aiosmtpd SMTP server on loopback that records what it accepts."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.answer: str | None = None  # e.g. "451 try later" or "550 no such user"
        self.helo_only = False  # an old server: EHLO is an unknown command, HELO works
        self.rcpt_answer: str | None = None  # e.g. "550 5.1.1 no such user" at RCPT TO
        self.controller = None
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        if self.answer:
            return self.answer
        with self.arrived:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            self.arrived.notify_all()
        return "250 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:  # aiosmtpd hook
        if self.helo_only:
            return ["502 5.5.2 Error: command not recognized"]
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # aiosmtpd hook
        if self.rcpt_answer:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, n: int, timeout: float = 15.0) -> list[Received]:
        """Block until at least n mails arrived (or the timeout); return them all."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < n and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
            return list(self.received)

    def to(self, rcpt: str) -> list[EmailMessage]:
        return [r.message for r in self.received if rcpt in r.rcpts]


class StallingProxy:
    """A TCP proxy on loopback whose open connections can be made to stall: bytes stop, sockets stay open."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.stalled: set[socket.socket] = set()
        self.conns: list[socket.socket] = []
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if src in self.stalled:
                    continue  # swallow: the peer sees a connection that says nothing
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if src not in self.stalled:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_RDWR)

    def stall_all(self) -> None:
        """From now on, nothing more passes on the connections open right now."""
        self.stalled.update(self.conns)

    def close(self) -> None:
        self._stop = True
        self._server.close()
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.close()
