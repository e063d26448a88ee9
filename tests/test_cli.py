"""Operator commands that the flow tests do not already cover: init, check, customer/contact errors."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import cli, eml, stored_blobs

from maildesk.config import load
from maildesk.store import open_store


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "maildesk", *args], capture_output=True, text=True, cwd=cwd)


def test_init_writes_a_working_sample(tmp_path):
    out = run("init", str(tmp_path / "site"))
    assert out.returncode == 0, out.stderr
    cfg = load(tmp_path / "site" / "rules.toml")
    assert (tmp_path / "site" / "templates" / "cs" / "confirmation.txt").is_file()
    assert (cfg.data_dir / "maildesk.db").is_file()
    again = run("init", str(tmp_path / "site"))
    assert "leaving it alone" in again.stdout


def test_check_reports_each_part(cfg):
    out = cli(cfg, "check")
    assert out.returncode == 0, out.stdout + out.stderr
    for part in ("config", "templates", "database", "IMAP", "SMTP"):
        assert f"ok    {part}" in out.stdout


def test_check_names_what_is_unreachable(make_config):
    from servers import free_port
    cfg = make_config(imap_port=free_port(), smtp_port=free_port())
    out = cli(cfg, "check")
    assert out.returncode == 1
    assert "FAIL  IMAP 127.0.0.1" in out.stdout and "FAIL  SMTP 127.0.0.1" in out.stdout
    assert "ok    templates" in out.stdout


def test_check_reports_a_broken_template(cfg, tmp_path):
    tdir = tmp_path / "tpl"
    (tdir / "sk").mkdir(parents=True)
    (tdir / "sk" / "confirmation.txt").write_text("Subject: {{ ticket.numbr }}\n\nx\n")
    cfg.path.write_text(cfg.path.read_text().replace('tag = "EX"', f'tag = "EX"\ntemplates_dir = "{tdir}"'))
    out = cli(cfg, "check")
    assert out.returncode == 1 and "sk/confirmation.txt" in out.stdout and "numbr" in out.stdout


def test_config_error_exit_code_and_message(cfg):
    cfg.path.write_text(cfg.path.read_text().replace("timeout = 5\nreconnect_max", 'timeout = "5"\nreconnect_max'))
    out = cli(cfg, "ticket", "list")
    assert out.returncode == 78 and "imap.timeout" in out.stderr and "line 14" in out.stderr


def test_customer_and_contact_errors(offline_cfg):
    assert cli(offline_cfg, "customer", "add", "C1", "--name", "One", "--contact", "a@one.test").returncode == 0
    dup = cli(offline_cfg, "customer", "add", "C1", "--name", "One")
    assert dup.returncode == 1 and "exists" in dup.stderr
    bad = cli(offline_cfg, "contact", "add", "C1", "not an address")
    assert bad.returncode == 1 and "not a plain e-mail address" in bad.stderr
    utf8 = cli(offline_cfg, "contact", "add", "C1", "müller@one.test")  # could never write in, nor be sent to
    assert utf8.returncode == 1 and "SMTPUTF8" in utf8.stderr
    assert cli(offline_cfg, "contact", "add", "C1", "a@bücher.test").returncode == 0  # a UTF-8 domain is fine
    assert "a@xn--bcher-kva.test" in cli(offline_cfg, "customer", "show", "C1").stdout
    store = open_store(offline_cfg)  # what an older release let in can still be taken out
    store.put_contact("C1", "müller@one.test", "operator")
    gone = cli(offline_cfg, "contact", "remove", "C1", "Müller@one.test")
    assert gone.returncode == 0, gone.stderr
    assert "müller@one.test" not in cli(offline_cfg, "customer", "show", "C1").stdout
    assert cli(offline_cfg, "contact", "remove", "C1", "not an address").returncode == 1
    assert cli(offline_cfg, "contact", "add", "C9", "x@y.test").returncode == 1
    assert cli(offline_cfg, "ticket", "show", "7").returncode == 1


def test_password_is_stored_only_as_argon2_hash(offline_cfg):
    out = cli(offline_cfg, "customer", "add", "C2", "--name", "Two", "--password-stdin", stdin="Tajn3-heslo\n")
    assert out.returncode == 0, out.stderr
    db = (offline_cfg.data_dir / "maildesk.db").read_bytes()
    assert b"Tajn3-heslo" not in db
    from maildesk.daemon import open_store
    assert open_store(offline_cfg).one("SELECT password_hash FROM customers")["password_hash"].startswith("$argon2id$")


def test_quarantine_drop_asks_first(cfg, dovecot, smtp):
    from conftest import eml, run_once
    dovecot.append(cfg.imap.username, eml("stranger", n=1))
    run_once(cfg)
    refused = cli(cfg, "quarantine", "drop", "1")  # no terminal to ask on
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert "unknown-sender" in cli(cfg, "quarantine", "list").stdout
    assert len(stored_blobs(cfg)) == 1
    assert cli(cfg, "quarantine", "drop", "1", "--yes").returncode == 0
    assert "stranger@nowhere.test" not in cli(cfg, "quarantine", "list").stdout
    assert stored_blobs(cfg) == {}  # its raw mail, the only blob, is gone too


def test_release_of_an_unknown_or_released_entry_says_so(cfg, dovecot, smtp):
    from conftest import eml, run_once
    missing = cli(cfg, "quarantine", "release", "99")
    assert missing.returncode == 1 and "no held quarantine entry 99" in missing.stderr
    dovecot.append(cfg.imap.username, eml("stranger", n=7))
    run_once(cfg)
    assert cli(cfg, "quarantine", "release", "1").returncode == 0  # still a stranger: held again as entry 2
    again = cli(cfg, "quarantine", "release", "1")
    assert again.returncode == 1 and "no held quarantine entry 1" in again.stderr


def test_rules_test_prints_the_deciding_step_and_writes_nothing(offline_cfg, tmp_path):
    mail = tmp_path / "m.eml"
    mail.write_bytes(eml("stranger", n=1).replace(b"Subject: ", b"Subject: \x1b[2J"))
    out = cli(offline_cfg, "rules", "test", str(mail))
    assert out.returncode == 0, out.stderr
    assert "unknown-sender  quarantined unknown-sender" in out.stdout
    assert "decision: quarantined unknown-sender (step unknown-sender; nothing was written or sent)" in out.stdout
    as_json = json.loads(cli(offline_cfg, "rules", "test", "--json", str(mail)).stdout)
    assert as_json["decided_by"] == "unknown-sender" and as_json["steps"][0] == {"step": "label", "said": "human"}
    store = open_store(offline_cfg)
    assert store.one("SELECT (SELECT COUNT(*) FROM quarantine) + (SELECT COUNT(*) FROM outbox) "
                     "+ (SELECT COUNT(*) FROM inbound) AS n")["n"] == 0
