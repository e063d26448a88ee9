"""The README documents every rules.toml key, every CLI command and every reason code."""

from __future__ import annotations

import re
from pathlib import Path

from maildesk.cli.main import build_parser
from maildesk.config import load, schema
from maildesk.models import Reason

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_config_key_is_documented():
    missing = [key for key, _ in schema() if f"`{key}`" not in README]
    assert missing == []


def test_config_table_is_current():
    from maildesk.config import markdown_table
    assert markdown_table() in README, "regenerate the README table with: python -m maildesk.config"


def test_every_config_key_has_help_text():
    assert all(len(f.metadata["help"]) > 10 for _, f in schema())


def commands(parser, prefix="maildesk"):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                nested = list(commands(sub, f"{prefix} {name}"))
                yield from nested or [f"{prefix} {name}"]


def test_every_cli_command_is_documented():
    found = list(commands(build_parser()))
    assert len(found) >= 13
    missing = [c for c in found if f"`{c}" not in README]
    assert missing == []


def test_every_reason_code_is_documented():
    assert [r.value for r in Reason if f"`{r.value}`" not in README] == []


def test_the_worked_desks_and_the_calendar_example_load(tmp_path):
    """Every rules.toml fragment of 'Service plans…' is a config that loads (with a minimal [helpdesk])."""
    section = README.split("## Service plans, support hours and the SLA clock")[1].split("\n## ")[0]
    fragments = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert len(fragments) >= 5
    for i, fragment in enumerate(fragments):
        extra = ""
        if "[helpdesk]" in fragment:  # the fragment's [helpdesk] keys join the minimal one
            fragment, _, rest = fragment.partition("[helpdesk]")
            extra = rest.split("\n", 1)[1]
        text = ('[helpdesk]\nname = "X"\naddress = "help@x.test"\ntag = "X"\n' + extra
                + "[imap]\nenabled = false\n" + fragment)
        if "[[queue]]" not in fragment:
            text += '\n[[queue]]\nname = "general"\ndefault = true\n'
        (tmp_path / f"rules{i}.toml").write_text(text)
        load(tmp_path / f"rules{i}.toml")
