"""Real customers are never silenced: bounces, rate limits and caps hold back bots and strangers only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from conftest import cli, eml, run_once

from maildesk.daemon import Daemon, open_store
from maildesk.decide import bounces


def _confirm_then_bounce(cfg, dovecot, bounce: str) -> None:
    """Alice opens a ticket; her confirmation comes back as the given DSN fixture."""
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    run_once(cfg)
    mid = open_store(cfg).one("SELECT message_id FROM outbox WHERE kind = 'confirmation'")["message_id"]
    dovecot.append(cfg.imap.username, eml(bounce, n=1, rcpt="alice@acme.test", original=mid))
    run_once(cfg)


def test_a_mailbox_full_bounce_is_soft_and_silences_nobody(cfg, customer, dovecot, smtp):
    _confirm_then_bounce(cfg, dovecot, "dsn_mailbox_full")
    store = open_store(cfg)
    assert store.one("SELECT COUNT(*) AS n FROM bounced")["n"] == 0
    assert "soft bounce" in store.one("SELECT last_error FROM outbox WHERE id = 1")["last_error"]
    dovecot.append(cfg.imap.username, eml("new_request", n=2))
    run_once(cfg)
    assert len(smtp.wait_for(2) and smtp.to("alice@acme.test")) == 2


def test_a_hard_bounce_flag_is_shown_and_cleared_when_the_customer_writes_again(cfg, customer, dovecot, smtp):
    _confirm_then_bounce(cfg, dovecot, "dsn_bounce")
    shown = cli(cfg, "contact", "show", "alice@acme.test")
    assert shown.returncode == 0 and "hard bounce" in shown.stdout and "12345678" in shown.stdout
    dovecot.append(cfg.imap.username, eml("new_request", n=2))  # she writes again: her mailbox works
    run_once(cfg)
    assert len(smtp.wait_for(2) and smtp.to("alice@acme.test")) == 2
    assert "hard bounce" not in cli(cfg, "contact", "show", "alice@acme.test").stdout
    assert any(e["kind"] == "bounce-cleared" for e in open_store(cfg).all("SELECT kind FROM events"))


def test_a_forged_bounce_cannot_silence_a_customer(cfg, customer, dovecot, smtp):
    """Bounces that do not name one of our Message-IDs *and* its recipient are ignored."""
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    dovecot.append(cfg.imap.username, eml("stranger", n=1))
    run_once(cfg)
    store = open_store(cfg)
    to_stranger = store.one("SELECT message_id FROM outbox WHERE rcpt = 'stranger@nowhere.test'")["message_id"]
    forged = [  # a made-up Message-ID; the stranger's own notice ID claiming Alice failed
        eml("dsn_bounce", n=1, rcpt="alice@acme.test", original="md.1.0123456789abcdef0123@example.test"),
        eml("dsn_bounce", n=2, rcpt="alice@acme.test", original=to_stranger),
    ]
    for raw in forged:
        dovecot.append(cfg.imap.username, raw)
    run_once(cfg)
    assert store.one("SELECT COUNT(*) AS n FROM bounced")["n"] == 0
    dovecot.append(cfg.imap.username, eml("new_request", n=2))
    run_once(cfg)
    assert len(smtp.wait_for(3) and smtp.to("alice@acme.test")) == 2


def test_a_hard_bounce_flag_expires(offline, frozen_clock):
    cfg, store, _ = offline()
    with store.transaction():
        store.flag_bounced("alice@acme.test", 0)
    assert bounces.flagged(store, cfg, "Alice@acme.test")
    frozen_clock["now"] += timedelta(days=cfg.limits.bounce_expiry_days, minutes=1)
    assert bounces.flagged(store, cfg, "alice@acme.test") is None


def test_a_rate_limited_contact_and_the_queue_are_told(make_config, customer_factory, dovecot, smtp, frozen_clock):
    cfg = make_config(extra="[limits]\nnew_tickets_per_hour = 2\n", jana_queues='"general"')
    customer_factory(cfg)
    for n in range(1, 6):
        dovecot.append(cfg.imap.username, eml("new_request", n=n))
    run_once(cfg)
    store = open_store(cfg)
    assert [q["reason"] for q in store.all("SELECT reason FROM quarantine")] == ["rate-limited"] * 3
    alice = smtp.wait_for(6) and smtp.to("alice@acme.test")
    assert sorted(m["Subject"].split(" ")[0] for m in alice) == ["Your", "[EX", "[EX"]
    held = [m for m in smtp.to("jana@example.test") if m["Subject"].startswith("[zadrženo]")]
    assert len(held) == 1 and "quarantine release" in held[0].get_content()
    daemon = Daemon(cfg)  # in-process, on the test's clock: what `maildesk quarantine release 1` does
    released = daemon.pipeline.release(1)  # the operator's word beats the rate limit
    asyncio.run(daemon.sender.flush())
    assert (released.kind.value, released.ticket) == ("new", 3)
    assert len(smtp.wait_for(4) and smtp.to("alice@acme.test")) == 4
    frozen_clock["now"] += timedelta(minutes=61)  # 2 tokens an hour, less the released one: 1 of 3 opens
    for n in range(6, 9):
        dovecot.append(cfg.imap.username, eml("new_request", n=n))
    run_once(cfg)
    assert len(smtp.wait_for(9) and smtp.to("alice@acme.test")) == 6  # one more confirmation, a new notice


def test_backscatter_is_capped_and_never_echoes_the_subject(make_config, dovecot, smtp):
    cfg = make_config(extra="[limits]\nstranger_notices_per_hour = 5\n")
    for n in range(12):
        forged = eml("stranger", n=n).replace(b"stranger@nowhere.test", f"victim{n}@nowhere.test".encode(), 1)
        forged = forged.replace(b"Subject: Do you sell printers?", b"Subject: BUY CHEAP PILLS http://spam.test")
        dovecot.append(cfg.imap.username, forged)
    run_once(cfg)
    sent = smtp.wait_for(6, timeout=0.3)
    assert len(sent) == 5
    assert all(b"PILLS" not in r.data and b"spam.test" not in r.data for r in sent)
    assert open_store(cfg).one("SELECT COUNT(*) AS n FROM quarantine")["n"] == 12  # all kept for the operator


def test_no_bad_credentials_notice_while_the_backoff_holds(make_config, dovecot, smtp):
    cfg = make_config(extra="[authorise]\nmax_failures = 2\n")
    assert cli(cfg, "customer", "add", "12345678", "--name", "ACME", "--password-stdin",
               stdin="the-right-password\n").returncode == 0
    for n in range(6):  # every guess from a new address: the customer-ID backoff holds after two
        guess = eml("credentials_plain", n=n, cid="12345678", password=f"guess-{n}-xyz")
        dovecot.append(cfg.imap.username, guess.replace(b"newperson@", f"guesser{n}@".encode(), 1))
    run_once(cfg)
    reasons = [q["reason"] for q in open_store(cfg).all("SELECT reason FROM quarantine ORDER BY id")]
    assert reasons == ["bad-credentials"] * 2 + ["credentials-backoff"] * 4
    assert len(smtp.wait_for(3, timeout=0.3)) == 2
