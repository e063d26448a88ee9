"""`make demo`: maildesk against a throwaway Dovecot and SMTP sink, with sample mails.

The customer has a service plan with express handling; the mails open a
ticket, add to it, are refused (a stranger) or ignored (an auto-reply), get
an answer, ask for express handling, and get a new deadline with its notice;
the consultant publishes an answer (#publish now), a later request gets it
suggested, and a #status mail gets the list of open requests.

Starts a private Dovecot and an aiosmtpd sink on loopback, writes a config to
demo/run/, adds a customer, APPENDs the mails in demo/mails/ (each one only
after the previous one was processed, as they would arrive in life), runs the
real daemon (`maildesk run`) until everything is processed and sent, then
prints the tickets, the quarantine, the outbox and the mails that went out.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test servers (not installed)
from servers import PASSWORD, Dovecot, SmtpSink

PLAN = """
[[plan]]                          # the demo customer's service plan
name = "paid"
hours = "office"
first_response_hours = 4
resolution_hours = 16
express = true
express_first_response_hours = 1
express_resolution_hours = 8
express_price = "1500 CZK"
"""

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUN = HERE / "run"


def maildesk(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "maildesk", "--config", str(RUN / "rules.toml"), *args],
                         capture_output=True, text=True, check=True)
    return out.stdout


def wait(cond, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            sys.exit(f"demo: timed out waiting for {what}")
        time.sleep(0.1)


def point_at(section: str, port: int, secret_line: str) -> str:
    """Aim one [imap]/[smtp] section of the sample config at a loopback server."""
    out = []
    for line in section.splitlines():
        key = line.split("=")[0].strip()
        if key == "host":
            line = 'host = "127.0.0.1"'
        elif key == "port":
            line = f"port = {port}"
        elif key == "security":
            line = 'security = "none"'
        elif key == "username" and not secret_line:
            continue
        elif key.startswith("password"):
            line = secret_line
        out.append(line)
    return "\n".join(out)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("demo: run as root (Dovecot needs to switch to its own users)")
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    imap, smtp = Dovecot().start(), SmtpSink().start()
    daemon = None
    try:
        shutil.copytree(ROOT / "templates", RUN / "templates")
        (RUN / "imap.secret").write_text(PASSWORD)
        text = (ROOT / "rules.toml").read_text()
        head, _, rest = text.partition("\n[smtp]\n")
        smtp_part, _, tail = rest.partition("\n[authorise]\n")
        head = point_at(head, imap.port, 'password_file = "imap.secret"')
        smtp_part = point_at(smtp_part, smtp.port, "")
        text = f"{head}\n[smtp]\n{smtp_part}\n[authorise]\n{tail}" + PLAN
        (RUN / "rules.toml").write_text(text)
        print(maildesk("customer", "add", "12345678", "--name", "ACME s.r.o.", "--contact", "alice@acme.test",
                       "--language", "en", "--plan", "paid"), end="")
        print(maildesk("contact", "add", "12345678", "bob@acme.test"), end="")
        print(maildesk("check"))

        daemon = subprocess.Popen([sys.executable, "-m", "maildesk", "--config", str(RUN / "rules.toml"), "run"],
                                  stderr=open(RUN / "daemon.log", "w"))
        user = "helpdesk@example.test"
        for path in sorted((HERE / "mails").glob("*.eml")):
            print(f"-> delivering {path.name}")
            imap.append(user, path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
            wait(lambda: imap.count(user, "INBOX") == 0, f"{path.name} to be processed")
        wait(lambda: "pending" not in maildesk("outbox", "list"), "the outbox to drain")
        print("\n== maildesk status  (while the daemon runs; exit 0 = healthy)")
        print(maildesk("status"))
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(10)

        print("\n== maildesk ticket list")
        print(maildesk("ticket", "list"))
        print("== maildesk ticket show 1")
        print(maildesk("ticket", "show", "1"))
        print("== maildesk ticket show 2  (an express request under the plan `paid`, its deadline moved)")
        print(maildesk("ticket", "show", "2"))
        today = date.today()
        print(f"== maildesk report --from {today.replace(day=1)} --to {today}")
        print(maildesk("report", "--from", str(today.replace(day=1)), "--to", str(today)))
        print("== maildesk kb list  (the consultant's #publish now)")
        print(maildesk("kb", "list"))
        print("== maildesk quarantine list")
        print(maildesk("quarantine", "list"))
        print("== maildesk outbox list")
        print(maildesk("outbox", "list"))
        print("== maildesk rules test demo/mails/03-stranger.eml  (which step decided, and why)")
        print(maildesk("rules", "test", str(HERE / "mails" / "03-stranger.eml")))
        print(f"== mails the SMTP server received ({len(smtp.received)})")
        for r in smtp.received:
            msg = r.message
            print(f"\nTo: {msg['To']}\nSubject: {msg['Subject']}\nAuto-Submitted: {msg['Auto-Submitted']}\n")
            print("    " + msg.get_body(("plain",)).get_content().strip().replace("\n", "\n    "))
            for att in msg.iter_attachments():
                print(f"    [attached: {att.get_filename()}]")
        print(f"\n== daemon log ({RUN / 'daemon.log'})")
        print((RUN / "daemon.log").read_text())
    finally:
        if daemon and daemon.poll() is None:
            daemon.kill()
        smtp.stop()
        imap.destroy()


if __name__ == "__main__":
    main()
