"""rules.toml as frozen dataclasses: every key has a default and a sentence of help.

keys.py holds the sections and their keys (the documentation), model.py the
whole Config and the README table, load.py the reading and the checks.
Errors name the key and, where the file has it, the line.
"""

from maildesk.config.keys import (
    WEEKDAYS,
    Authorise,
    Consultant,
    Helpdesk,
    Hours,
    Imap,
    Kb,
    Limits,
    Metrics,
    Plan,
    Processing,
    Queue,
    Retention,
    Rule,
    Sla,
    Smtp,
    Trust,
)
from maildesk.config.load import config_path, find_line, load, secret, tls_context
from maildesk.config.model import SECTIONS, TABLE_ARRAYS, Config, markdown_table, schema, update_readme
from maildesk.errors import ConfigError

__all__ = [
    "SECTIONS", "TABLE_ARRAYS", "WEEKDAYS", "Authorise", "Config", "ConfigError", "Consultant", "Helpdesk", "Hours",
    "Imap", "Kb", "Limits", "Metrics", "Plan", "Processing", "Queue", "Retention", "Rule", "Sla", "Smtp", "Trust",
    "config_path", "find_line", "load", "markdown_table", "schema", "secret", "tls_context", "update_readme",
]
