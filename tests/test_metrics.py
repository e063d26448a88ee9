"""[metrics] listen: Prometheus metrics of a real daemon over Dovecot and aiosmtpd; off by default, loopback only."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest
from conftest import Running, eml
from prometheus_client.parser import text_string_to_metric_families
from servers import free_port

from maildesk.config import ConfigError, load


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def wait_for(port: int, want: dict[tuple[str, tuple[tuple[str, str], ...]], float], timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = scrape(port)
        if all(got.get(k) == v for k, v in want.items()) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def start(make_config, customer_factory, port: int, log: str) -> tuple:
    """A daemon with metrics on `port`, once its log says `log`."""
    cfg = make_config(extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    customer_factory(cfg)
    daemon = Running(cfg)
    daemon.wait_log(log)
    return cfg, daemon


def test_a_running_daemon_exports_mail_in_out_timing_and_backlog(make_config, customer_factory, dovecot, smtp):
    port = free_port()
    cfg, daemon = start(make_config, customer_factory, port, "maildesk running")
    try:
        dovecot.append(cfg.imap.username, eml("new_request", n=1))
        dovecot.append(cfg.imap.username, eml("stranger"))
        smtp.wait_for(2)
        want = {
            ("maildesk_mails_in_total", (("outcome", "new"),)): 1.0,
            ("maildesk_mails_in_total", (("outcome", "quarantined"),)): 1.0,
            ("maildesk_processing_seconds_count", ()): 2.0,
            ("maildesk_mails_out_total", (("kind", "confirmation"), ("result", "sent"))): 1.0,
            ("maildesk_quarantine_held", (("reason", "unknown-sender"),)): 1.0,
            ("maildesk_outbox_mails", (("state", "pending"),)): 0.0,
            ("maildesk_outbox_mails", (("state", "dead"),)): 0.0,
            ("maildesk_tickets", (("status", "open"),)): 1.0,
        }
        got = wait_for(port, want)
        assert {k: got.get(k) for k in want} == want
        assert got[("maildesk_processing_seconds_sum", ())] > 0
        assert not [k for k in got if k[0].startswith(("python_", "process_"))]  # our registry only
    finally:
        daemon.terminate()
    with pytest.raises(OSError):  # the endpoint stops with the daemon
        scrape(port)


def test_a_port_in_use_is_logged_once_and_mail_flows_on(make_config, customer_factory, dovecot, smtp):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg, daemon = start(make_config, customer_factory, taken.getsockname()[1], "running without metrics")
        try:
            dovecot.append(cfg.imap.username, eml("new_request", n=1))
            assert smtp.wait_for(1)
        finally:
            daemon.terminate()
        assert daemon.log.read_text().count("cannot listen") == 1


@pytest.mark.parametrize(("listen", "error"), [
    ("0.0.0.0:9425", "'0.0.0.0' is not a loopback address"),
    ("192.168.1.5:9425", "is not a loopback address"),
    ("metrics.example.test:9425", "is not a loopback address"),
    ("127.0.0.1", "must be HOST:PORT"),
    ("127.0.0.1:99999", "must be HOST:PORT"),
])
def test_listen_is_loopback_only_and_the_error_names_key_and_line(tmp_path, listen, error):
    from conftest import OFFLINE_RULES
    text = OFFLINE_RULES.format(helpdesk="", limits="", extra=f'[metrics]\nlisten = "{listen}"\n')
    (tmp_path / "rules.toml").write_text(text)
    line = text.splitlines().index(f'listen = "{listen}"') + 1
    with pytest.raises(ConfigError, match=f"line {line}: metrics.listen: .*{error}"):
        load(tmp_path / "rules.toml")


def test_loopback_forms_are_accepted_and_metrics_are_off_by_default(tmp_path):
    from conftest import OFFLINE_RULES
    for listen in ("127.0.0.1:9425", "[::1]:9425", "localhost:9425"):
        (tmp_path / "rules.toml").write_text(OFFLINE_RULES.format(helpdesk="", limits="",
                                                                  extra=f'[metrics]\nlisten = "{listen}"\n'))
        assert load(tmp_path / "rules.toml").metrics.listen == listen
    (tmp_path / "rules.toml").write_text(OFFLINE_RULES.format(helpdesk="", limits="", extra=""))
    assert load(tmp_path / "rules.toml").metrics.listen == ""
