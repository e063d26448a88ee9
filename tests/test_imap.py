"""IMAP specifics: TLS and STARTTLS, servers without MOVE, outages with backoff."""

from __future__ import annotations

import asyncio
import logging

import pytest
from conftest import RULES, eml, run_once, until
from servers import PASSWORD, Dovecot

from maildesk.act.customers import add_customer
from maildesk.config import load
from maildesk.daemon import Daemon, open_store


@pytest.fixture
def own_dovecot(request):
    """A Dovecot for this test alone (TLS, capabilities or restarts of its own)."""
    servers = []

    def make(**kw) -> Dovecot:
        servers.append(Dovecot(**kw).start())
        return servers[-1]

    yield make
    for s in servers:
        s.destroy()


def config_for(tmp_path, server: Dovecot, smtp, port: int, security: str, extra_imap: str = "", poll: int = 60):
    (tmp_path / "imap.secret").write_text(PASSWORD)
    text = RULES.format(imap_port=port, user="helpdesk", smtp_port=smtp.port,
                        poll=poll, extra="", jana_queues="")
    text = text.replace('security = "none"\nusername', f'security = "{security}"\n{extra_imap}username', 1)
    (tmp_path / "rules.toml").write_text(text)
    cfg = load(tmp_path / "rules.toml")
    add_customer(open_store(cfg), "1", "ACME", ["alice@acme.test"], "en", None)
    return cfg


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls(tmp_path, own_dovecot, smtp, security):
    server = own_dovecot(tls=True)
    port = server.imaps_port if security == "tls" else server.port
    cfg = config_for(tmp_path, server, smtp, port, security, f'ca_file = "{server.cert}"\n')
    server.append("helpdesk", eml("new_request", n=1))
    run_once(cfg)
    assert len(smtp.wait_for(1)) == 1
    assert server.count("helpdesk", cfg.imap.processed_folder) == 1


def test_tls_refuses_an_untrusted_certificate(tmp_path, own_dovecot, smtp):
    server = own_dovecot(tls=True)
    cfg = config_for(tmp_path, server, smtp, server.imaps_port, "tls")
    server.append("helpdesk", eml("new_request", n=2))
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        run_once(cfg)
    assert server.count("helpdesk", "INBOX") == 1


def test_server_without_move_gets_copy_and_expunge(tmp_path, own_dovecot, smtp):
    caps = "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT THREAD=REFERENCES UIDPLUS NAMESPACE"
    server = own_dovecot(extra_conf=f"imap_capability = {caps}")
    cfg = config_for(tmp_path, server, smtp, server.port, "none")
    server.append("helpdesk", eml("new_request", n=3))
    server.append("helpdesk", eml("stranger", n=3))
    run_once(cfg)
    assert server.count("helpdesk", "INBOX") == 0
    assert server.count("helpdesk", cfg.imap.processed_folder) == 1
    assert server.count("helpdesk", cfg.imap.quarantine_folder) == 1


async def test_imap_outage_backs_off_and_logs_once(tmp_path, own_dovecot, smtp, caplog):
    caplog.set_level(logging.DEBUG, logger="maildesk")
    server = own_dovecot()
    cfg = config_for(tmp_path, server, smtp, server.port, "none", poll=2)
    task = asyncio.create_task(Daemon(cfg).run())
    try:
        await asyncio.sleep(1)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(6)  # several reconnect attempts (backoff 1, 2, 2 s)
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(server.append, "helpdesk", eml("new_request", n=4))
        await until(lambda: smtp.received)
        assert len(smtp.received) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    fetch = [r for r in caplog.records if r.name == "maildesk.fetch"]
    down = [r for r in fetch if r.levelno == logging.WARNING and "retrying with backoff" in r.getMessage()]
    back = [r for r in fetch if "recovered" in r.getMessage()]
    retries = [r for r in fetch if r.levelno == logging.DEBUG and "still failing" in r.getMessage()]
    assert len(down) == 1 and len(back) == 1 and len(retries) >= 2


async def test_imap_restart_mid_batch_loses_and_doubles_nothing(tmp_path, own_dovecot, smtp):
    server = own_dovecot()
    cfg = config_for(tmp_path, server, smtp, server.port, "none", poll=2)
    cfg.path.write_text(cfg.path.read_text()
                        + "\n[limits]\nnew_tickets_per_hour = 1000\nauto_per_recipient_day = 1000\n")
    from maildesk.config import load
    cfg = load(cfg.path)
    with server.client("helpdesk") as c:
        for n in range(60):
            c.append("INBOX", "", None, eml("new_request", n=f"batch{n}").replace(b"Printer", f"P{n}".encode()))
    task = asyncio.create_task(Daemon(cfg).run())
    try:
        await asyncio.sleep(0.4)  # in the middle of the batch
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(2)
        await asyncio.to_thread(server.start)
        await until(lambda: server.count("helpdesk", "INBOX") == 0, timeout=40)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    store = open_store(cfg)
    assert server.count("helpdesk", "INBOX") == 0
    assert server.count("helpdesk", cfg.imap.processed_folder) == 60
    assert store.one("SELECT COUNT(*) AS n FROM tickets")["n"] == 60
    assert store.one("SELECT COUNT(DISTINCT message_id) AS n FROM messages")["n"] == 60
