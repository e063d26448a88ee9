"""`systemctl reload` = SIGHUP: new rules and templates swap in between two messages; a broken one never does."""

from __future__ import annotations

import signal
import time

from conftest import Running, eml

from maildesk.daemon import open_store

SITE_CONFIRMATION = """Subject: RELOADED {{ ticket.tag }} {{ ticket.subject }}

Your message is ticket {{ ticket.tag }}.
"""


def hup(daemon: Running, text: str, count: int = 1) -> None:
    """SIGHUP, then wait until the log says `text` for the `count`-th time."""
    daemon.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while daemon.log.read_text().count(text) < count:
        assert daemon.proc.poll() is None, daemon.log.read_text()
        assert time.monotonic() < deadline, daemon.log.read_text()
        time.sleep(0.05)


def test_sighup_swaps_rules_and_templates_and_refuses_broken_ones(cfg, customer, dovecot, smtp):
    rules = cfg.path.read_text()
    user = cfg.imap.username
    daemon = Running(cfg)
    try:
        daemon.wait_log("maildesk running")
        dovecot.append(user, eml("new_request", n=1))
        first = smtp.wait_for(1)[0].message
        assert first["Subject"] == "[EX #1] Printer on fire" and first["From"].startswith("Example Support")

        # a valid change: another name, a site template, another poll interval (an [imap] change reconnects)
        site = cfg.path.parent / "site" / "en"
        site.mkdir(parents=True)
        (site / "confirmation.txt").write_text(SITE_CONFIRMATION)
        cfg.path.write_text(rules.replace('name = "Example Support"', 'name = "Reloaded Support"\n'
                                          'templates_dir = "site"').replace("poll_interval = 60", "poll_interval = 30"))
        hup(daemon, "configuration reloaded")
        t_hup = time.monotonic()
        dovecot.append(user, eml("new_request", n=2))
        second = smtp.wait_for(2)[1].message
        assert second["Subject"] == "RELOADED [EX #2] Printer on fire"
        assert second["From"].startswith("Reloaded Support")
        assert "[imap] changed by a reload: reconnecting" in daemon.log.read_text()

        # a broken rules.toml: logged with key and line, the running configuration stays
        good = cfg.path.read_text()
        broken = good.replace("poll_interval = 30", 'poll_interval = "soon"')
        line = broken.splitlines().index('poll_interval = "soon"') + 1
        cfg.path.write_text(broken)
        hup(daemon, "reload refused")
        assert f"line {line}: imap.poll_interval" in daemon.log.read_text()

        # a template that does not render: refused too, and the compiled old one keeps being used
        cfg.path.write_text(good)
        (site / "confirmation.txt").write_text("Subject: {{ ticket.no_such_field }}\n\nbroken\n")
        hup(daemon, "reload refused", count=2)
        assert "templates do not render" in daemon.log.read_text()

        # a key only a restart can apply
        (site / "confirmation.txt").write_text(SITE_CONFIRMATION)
        cfg.path.write_text(good.replace('data_dir = "var"', 'data_dir = "elsewhere"'))
        hup(daemon, "reload refused", count=3)
        assert "helpdesk.data_dir: changed, but only a restart can apply it" in daemon.log.read_text()

        dovecot.append(user, eml("new_request", n=3))
        third = smtp.wait_for(3)[2].message
        assert third["Subject"] == "RELOADED [EX #3] Printer on fire"  # the last good configuration
        time.sleep(max(0.0, 5 - (time.monotonic() - t_hup)))  # the stop watchdog ignored every SIGHUP
        assert daemon.proc.poll() is None
        seconds, code = daemon.terminate()
        assert code == 0 and seconds < 5
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    store = open_store(cfg)
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 3  # nothing twice, nothing lost
    assert len(smtp.to("alice@acme.test")) == 3
    assert dovecot.count(user, "INBOX") == 0
