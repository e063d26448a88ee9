"""rules.toml: errors name the key and the line; secrets come from key, env or file."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildesk.config import load, secret
from maildesk.errors import ConfigError

GOOD = """\
[helpdesk]
name = "Example Support"
address = "helpdesk@example.test"
tag = "EX"

[imap]
host = "127.0.0.1"
username = "helpdesk"
password_env = "MD_TEST_PW"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rules.toml"
    p.write_text(text)
    return p


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    return info.value


def test_minimal_config_gets_defaults(tmp_path):
    cfg = load(write(tmp_path, GOOD))
    assert cfg.imap.port == 993 and cfg.smtp.security == "tls" and cfg.default_queue == "general"
    assert cfg.data_dir == tmp_path / "var"


def test_unknown_key_names_key_and_line(tmp_path):
    err = error_of(tmp_path, GOOD + "prot = 143\n")
    assert err.key == "imap.prot" and err.line == 10 and "unknown key" in str(err)


def test_wrong_type_names_key_and_line(tmp_path):
    err = error_of(tmp_path, GOOD.replace('host = "127.0.0.1"', 'host = "127.0.0.1"\nport = "993"'))
    assert err.key == "imap.port" and err.line == 8 and "integer" in str(err)


def test_missing_required_key(tmp_path):
    err = error_of(tmp_path, GOOD.replace('tag = "EX"\n', ""))
    assert err.key == "helpdesk.tag" and err.line == 1 and "required" in str(err)


def test_bad_choice(tmp_path):
    err = error_of(tmp_path, GOOD + 'security = "ssl"\n')
    assert err.key == "imap.security" and err.line == 10 and "tls, starttls, none" in str(err)


def test_key_in_second_table_array_entry(tmp_path):
    text = GOOD + '\n[[queue]]\nname = "a"\ndefault = true\n\n[[queue]]\nname = "b"\ncolour = "red"\n'
    err = error_of(tmp_path, text)
    assert err.key == "queue[1].colour" and err.line == 17


def test_unknown_section_and_syntax_error(tmp_path):
    assert error_of(tmp_path, GOOD + "[smpt]\nhost = 'x'\n").key == "smpt"
    assert "line 3" in str(error_of(tmp_path, '[helpdesk]\nname = "x"\naddress = \n'))


def test_consultant_with_unknown_queue(tmp_path):
    text = GOOD + '\n[[consultant]]\nemail = "j@example.test"\nname = "J"\nqueues = ["sales"]\n'
    err = error_of(tmp_path, text)
    assert err.key == "consultant[0].queues" and err.line == 14


def test_secrets_from_env_file_and_key(tmp_path, monkeypatch):
    cfg = load(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="MD_TEST_PW"):
        secret(cfg, "imap")
    monkeypatch.setenv("MD_TEST_PW", "s3cret")
    assert secret(cfg, "imap") == "s3cret"
    (tmp_path / "pw").write_text("from-file\n")
    cfg = load(write(tmp_path, GOOD.replace('password_env = "MD_TEST_PW"', 'password_file = "pw"')))
    assert secret(cfg, "imap") == "from-file"
    err = error_of(tmp_path, GOOD + 'password = "x"\n')
    assert err.key == "imap.password_env" or err.key == "imap.password"


def test_shipped_sample_loads():
    cfg = load(Path(__file__).resolve().parent.parent / "rules.toml")
    assert cfg.helpdesk.tag == "EX" and cfg.consultant[0].language == "cs"


SERVICE = """
[[hours]]
name = "office"
timezone = "Europe/Prague"
intervals = ["09:00-12:00", "13:00-18:00"]
country = "CZ"
closed = ["2026-12-31"]

[[hours]]
name = "24/7"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "00:00"
end = "24:00"

[[plan]]
name = "paid"
hours = "office"
first_response_hours = 4
express = true
express_price = "1500 CZK"

[[queue]]
name = "general"
default = true
lead = "boss@example.test"
"""


def test_calendars_plans_and_a_queue_lead(tmp_path):
    cfg = load(write(tmp_path, GOOD.replace('tag = "EX"', 'tag = "EX"\ndefault_plan = "paid"') + SERVICE))
    assert [h.name for h in cfg.hours] == ["office", "24/7"]
    assert cfg.default_plan.name == "paid" and cfg.calendar_hours("office").country == "CZ"
    assert set(cfg.plans) == {"standard", "paid"} and cfg.plans["standard"].hours == "office"
    assert cfg.queue[0].lead == "boss@example.test"


def test_one_hours_table_is_the_calendar_named_default(tmp_path):
    cfg = load(write(tmp_path, GOOD + '\n[hours]\ntimezone = "Europe/Bratislava"\ncountry = "SK"\n'))
    assert [(h.name, h.country) for h in cfg.hours] == [("default", "SK")]


@pytest.mark.parametrize("change,key,line", [
    ('intervals = ["09:00-12:00", "13:00-18:00"]', "hours[0].intervals", 5),
    ('country = "CZ"', "hours[0].country", 6),
    ('closed = ["2026-12-31"]', "hours[0].closed", 7),
    ('hours = "office"', "plan[0].hours", 17),
])
def test_bad_calendar_and_plan_keys_name_the_key_and_line(tmp_path, change, key, line):
    bad = {"intervals": 'intervals = ["12:00-09:00"]', "country": 'country = "XX"', "closed": 'closed = ["31.12.2026"]',
           "hours": 'hours = "weekend"'}[key.rsplit(".", 1)[1]]
    err = error_of(tmp_path, GOOD + SERVICE.replace(change, bad))
    assert (err.key, err.line) == (key, line + GOOD.count("\n"))


@pytest.mark.parametrize("address", ["jörg@example.test", "j <j@example.test>", 'j\\"@example.test', "j@@example.test"])
def test_an_address_that_cannot_go_into_the_smtp_envelope_is_a_config_error(tmp_path, address):
    """Mail from or to it would be refused on the wire (no SMTPUTF8) or smuggle SMTP parameters."""
    err = error_of(tmp_path, GOOD + f'\n[[consultant]]\nemail = "{address}"\nname = "J"\n')
    assert err.key == "consultant[0].email" and err.line == 12 and "ASCII" in str(err)
    err = error_of(tmp_path, GOOD.replace('"helpdesk@example.test"', f'"{address}"'))
    assert err.key == "helpdesk.address" and err.line == 3
