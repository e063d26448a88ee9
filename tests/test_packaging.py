"""What users install: the wheel, its packaged samples and templates, and start-up refusal of bad templates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, cli, eml
from servers import PASSWORD

from maildesk.config import load
from maildesk.outbound.render import Renderer


def sh(*args: str | Path, cwd: Path | None = None, timeout: int = 240, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=timeout, **kw)
    assert out.returncode == 0, f"{args}: {out.stdout}\n{out.stderr}"
    return out


def set_keys(text: str, section: str, **keys: object) -> str:
    """Set (or, with None, remove) keys of one [section] of a rules.toml, as an operator's editor would."""
    head, _, rest = text.partition(f"\n[{section}]\n")
    body, sep, tail = rest.partition("\n[")
    lines = [ln for ln in body.split("\n") if ln.split("=")[0].strip() not in keys]
    lines += [f"{k} = {v}" for k, v in keys.items() if v is not None]
    return f"{head}\n[{section}]\n" + "\n".join(lines) + sep + tail


@pytest.mark.timeout(400)
def test_the_wheel_installs_inits_checks_and_answers_a_mail(tmp_path, dovecot, smtp):
    """pip install of the built wheel into a fresh venv, run from outside the checkout."""
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", ROOT)
    wheel = next((tmp_path / "dist").glob("maildesk-*.whl"))
    base = getattr(sys, "_base_executable", sys.executable)
    sh(base, "-m", "venv", tmp_path / "venv")
    sh(tmp_path / "venv/bin/pip", "install", "-q", "--disable-pip-version-check", wheel, timeout=380)
    where = sh(tmp_path / "venv/bin/python", "-c", "import maildesk; print(maildesk.__file__)", cwd=tmp_path).stdout
    assert str(tmp_path / "venv") in where and str(ROOT) not in where

    maildesk = tmp_path / "venv/bin/maildesk"
    site = tmp_path / "etc"
    assert "wrote" in sh(maildesk, "init", site, cwd=tmp_path).stdout
    rules = (site / "rules.toml").read_text()
    rules = set_keys(rules, "imap", host='"127.0.0.1"', port=dovecot.port, security='"none"', username='"wheeluser"',
                     password_env=None, password_file='"imap.secret"')
    rules = set_keys(rules, "smtp", host='"127.0.0.1"', port=smtp.port, security='"none"', username=None,
                     password_env=None)
    (site / "rules.toml").write_text(rules)
    (site / "imap.secret").write_text(PASSWORD)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    conf = ["--config", site / "rules.toml"]
    check = sh(maildesk, *conf, "check", cwd=tmp_path, env=env).stdout
    assert "ok    templates" in check and "ok    IMAP" in check and "ok    SMTP" in check
    sh(maildesk, *conf, "customer", "add", "12345678", "--name", "ACME", "--contact", "alice@acme.test",
       cwd=tmp_path, env=env)
    dovecot.append("wheeluser", eml("new_request", n=1))
    sh(maildesk, *conf, "run", "--once", cwd=tmp_path, env=env)
    received = smtp.wait_for(2)
    confirmation = [r for r in received if "alice@acme.test" in r.rcpts]
    assert confirmation and "[EX #1]" in confirmation[0].message["Subject"]
    assert "Printer on fire" in sh(maildesk, *conf, "ticket", "show", "1", cwd=tmp_path, env=env).stdout


def test_site_templates_override_file_by_file(tmp_path):
    (tmp_path / "tpl" / "en").mkdir(parents=True)
    (tmp_path / "tpl" / "en" / "confirmation.txt").write_text("Subject: Got it {{ ticket.tag }}\n\nOur own words.\n")
    (tmp_path / "rules.toml").write_text('[helpdesk]\nname = "X"\naddress = "h@x.test"\ntag = "EX"\n'
                                         'templates_dir = "tpl"\n[imap]\nenabled = false\n')
    r = Renderer(load(tmp_path / "rules.toml"))
    assert r.problems() == []
    subject, body = r.render("confirmation", "en", ticket={"tag": "[EX #1]"})
    assert (subject, body) == ("Got it [EX #1]", "Our own words.\n")
    ticket = {"tag": "[EX #1]", "subject": "s", "parent": None, "position": 0, "first_response_due": ""}
    subject, _ = r.render("confirmation", "cs", ticket=ticket, requester_name="", hours=None)
    assert subject == "[EX #1] s"  # the packaged Czech one: only en/confirmation.txt was overridden


def _site(cfg, templates_dir: str) -> None:
    cfg.path.write_text(cfg.path.read_text().replace('tag = "EX"', f'tag = "EX"\ntemplates_dir = "{templates_dir}"'))


def test_a_missing_templates_dir_stops_run_and_keeps_mail(cfg, dovecot, customer):
    _site(cfg, "no-such-dir")
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    out = cli(cfg, "run", "--once")
    assert out.returncode == 78 and "no-such-dir" in out.stderr and "does not exist" in out.stderr
    ingest = cli(cfg, "ingest", str(ROOT / "tests/fixtures/new_request.eml"))
    assert ingest.returncode == 75  # the MTA keeps the mail
    assert dovecot.count(cfg.imap.username, "INBOX") == 1


@pytest.mark.parametrize("text,named", [
    ("Subject: {{ ticket.tag }\n\nbroken\n", "TemplateSyntaxError"),
    ("Subject: {{ ticket.tagg }}\n\nx\n", "tagg"),
    ("{{ ticket.tag }}\n\nno subject line\n", "Subject"),
])
def test_a_broken_template_stops_run_naming_it(cfg, dovecot, customer, tmp_path, text, named):
    (tmp_path / "site" / "cs").mkdir(parents=True)
    (tmp_path / "site" / "cs" / "confirmation.txt").write_text(text)
    _site(cfg, str(tmp_path / "site"))
    dovecot.append(cfg.imap.username, eml("new_request", n=1))
    out = cli(cfg, "run", "--once")
    assert out.returncode == 78, out.stderr
    assert "cs/confirmation.txt" in out.stderr and named in out.stderr
    assert dovecot.count(cfg.imap.username, "INBOX") == 1
