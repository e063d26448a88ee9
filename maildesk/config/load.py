"""Reading rules.toml: types, choices and cross-key checks, each error naming the key and the line."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import ssl
import tomllib
import typing
from dataclasses import MISSING
from datetime import date
from pathlib import Path
from typing import Any

from maildesk.config.keys import WEEKDAYS, Imap, Smtp
from maildesk.config.model import SECTIONS, TABLE_ARRAYS, Config
from maildesk.errors import ConfigError


def find_line(text: str, section: str, key: str | None, index: int | None = None) -> int | None:
    """Best-effort line number of `key` in `[section]` (or the index-th `[[section]]`)."""
    header = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$")
    current, seen = None, -1
    for no, line in enumerate(text.splitlines(), 1):
        m = header.match(line)
        if m:
            current = m.group(1)
            if current == section:
                seen += 1
                if key is None and (index is None or index == seen):
                    return no
            continue
        if current == section and (index is None or index == seen) and key:
            if re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
                return no
    return None


def _check_type(value: Any, tp: Any) -> bool:
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if typing.get_origin(tp) is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return False


def _type_name(tp: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(tp, "a list of strings")


def _build(cls: type, data: Any, text: str, section: str, index: int | None = None) -> Any:
    """Validate one table against its dataclass and build it."""
    where = f"{section}[{index}]" if index is not None else section
    if not isinstance(data, dict):
        raise ConfigError("must be a table", key=where, line=find_line(text, section, None, index))
    hints = typing.get_type_hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown key (known: {', '.join(names)})", key=f"{where}.{key}",
                              line=find_line(text, section, key, index))
    kwargs = {}
    for name, f in names.items():
        line = find_line(text, section, name, index)
        if name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ConfigError("required key is missing", key=f"{where}.{name}",
                                  line=find_line(text, section, None, index))
            continue
        value = data[name]
        if not _check_type(value, hints[name]):
            raise ConfigError(f"must be {_type_name(hints[name])}, not {value!r}", key=f"{where}.{name}", line=line)
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"must be one of {', '.join(choices)}, not {value!r}", key=f"{where}.{name}", line=line)
        kwargs[name] = value
    return cls(**kwargs)


def load(path: Path | str) -> Config:
    """Read and validate rules.toml; raise ConfigError naming the key and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for key in data:
        if key not in SECTIONS and key not in TABLE_ARRAYS:
            raise ConfigError("unknown section", key=key, line=find_line(text, key, None))
    if "helpdesk" not in data:
        raise ConfigError("required section is missing", key="helpdesk")
    parts: dict[str, Any] = {s: _build(c, data[s], text, s) for s, c in SECTIONS.items() if s in data}
    for sec, cls in TABLE_ARRAYS.items():
        if sec in data:
            items = [data[sec]] if sec == "hours" and isinstance(data[sec], dict) else data[sec]
            if not isinstance(items, list):
                raise ConfigError(f"must be written as [[{sec}]] tables", key=sec, line=find_line(text, sec, None))
            parts[sec] = tuple(_build(cls, item, text, sec, i) for i, item in enumerate(items))
    cfg = Config(**parts, path=path.resolve())
    _validate(cfg, text)
    return cfg


# An address as it goes into the SMTP envelope: printable ASCII without white space, <, > or " (no SMTPUTF8).
_ADDRESS = re.compile(r'[!#-;=?A-~]+@[!#-;=?A-~]+\.[!#-;=?A-~]+|[!#-;=?A-~]+@localhost')


def _validate(cfg: Config, text: str) -> None:
    """Cross-key checks that a single type check cannot make."""
    if not re.fullmatch(r"[A-Za-z0-9]{1,16}", cfg.helpdesk.tag):
        raise ConfigError("must be 1-16 letters or digits", key="helpdesk.tag", line=find_line(text, "helpdesk", "tag"))
    if not _ADDRESS.fullmatch(cfg.helpdesk.address):
        raise ConfigError("is not a plain ASCII mail address", key="helpdesk.address",
                          line=find_line(text, "helpdesk", "address"))
    defaults = [q.name for q in cfg.queue if q.default]
    if len(defaults) != 1:
        raise ConfigError(f"exactly one queue must have default = true (found {len(defaults)})", key="queue.default",
                          line=find_line(text, "queue", None, 0))
    names = {q.name for q in cfg.queue}
    for i, c in enumerate(cfg.consultant):
        if not _ADDRESS.fullmatch(c.email):  # mail to it could never go on the wire
            raise ConfigError("is not a plain ASCII mail address", key=f"consultant[{i}].email",
                              line=find_line(text, "consultant", "email", i))
        for q in c.queues:
            if q not in names:
                raise ConfigError(f"names unknown queue {q!r}", key=f"consultant[{i}].queues",
                                  line=find_line(text, "consultant", "queues", i))
    _validate_service(cfg, text)
    for sec in ("imap", "smtp"):
        s = getattr(cfg, sec)
        given = [k for k in ("password", "password_env", "password_file") if getattr(s, k)]
        if len(given) > 1:
            raise ConfigError(f"give only one of {', '.join(given)}", key=f"{sec}.{given[1]}",
                              line=find_line(text, sec, given[1]))
    if cfg.authorise.unknown_sender == "triage" and cfg.authorise.triage_queue not in names:
        raise ConfigError(f"queue {cfg.authorise.triage_queue!r} is not defined as a [[queue]]",
                          key="authorise.triage_queue", line=find_line(text, "authorise", "unknown_sender"))
    for cap in cfg.limits.auto_caps:
        if not re.fullmatch(r"\d+/\d+[smhd]", cap):
            raise ConfigError(f"{cap!r} is not COUNT/WINDOW such as 10/10m", key="limits.auto_caps",
                              line=find_line(text, "limits", "auto_caps"))
    if not 1 <= cfg.smtp.connections <= 16:
        raise ConfigError("must be from 1 to 16", key="smtp.connections", line=find_line(text, "smtp", "connections"))
    if cfg.imap.enabled and not cfg.imap.username:
        raise ConfigError("required when imap.enabled is true", key="imap.username", line=find_line(text, "imap", None))
    for key in ("raw_days", "attachment_days"):
        if getattr(cfg.retention, key) < 0:
            raise ConfigError("must be 0 (keep forever) or more days", key=f"retention.{key}",
                              line=find_line(text, "retention", key))
    if cfg.metrics.listen:
        metrics_address(cfg.metrics.listen, find_line(text, "metrics", "listen"))


def metrics_address(listen: str, line: int | None = None) -> tuple[str, int]:
    """(host, port) of metrics.listen; only a loopback address: the numbers say how much mail whom sends."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"must be HOST:PORT such as 127.0.0.1:9425, not {listen!r}", key="metrics.listen", line=line)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(f"{host!r} is not a loopback address (127.0.0.1, ::1 or localhost); expose the metrics "
                          "through a proxy instead", key="metrics.listen", line=line)
    return host, int(port)


_HHMM = r"(?:[01]\d|2[0-3]):[0-5]\d"


def _validate_service(cfg: Config, text: str) -> None:
    """Calendars and plans: times, weekdays, zones, countries, dates, and that every name used exists."""
    def fail(msg: str, sec: str, i: int, key: str) -> ConfigError:
        return ConfigError(msg, key=f"{sec}[{i}].{key}", line=find_line(text, sec, key, i))
    seen: set[str] = set()
    for i, h in enumerate(cfg.hours):
        if h.name in seen:
            raise fail(f"a second calendar named {h.name!r}", "hours", i, "name")
        seen.add(h.name)
        spans = h.intervals or [f"{h.start}-{h.end}"]
        for span in spans:
            m = re.fullmatch(rf"({_HHMM})-({_HHMM}|24:00)", span)
            if not m or m.group(1) >= m.group(2):
                raise fail(f"{span!r} is not HH:MM-HH:MM with the start first", "hours", i,
                           "intervals" if h.intervals else "start")
        for d in h.days:
            if d not in WEEKDAYS:
                raise fail(f"unknown weekday {d!r} (use {', '.join(WEEKDAYS)})", "hours", i, "days")
        try:
            import zoneinfo
            zoneinfo.ZoneInfo(h.timezone)
        except Exception:
            raise fail(f"unknown time zone {h.timezone!r}", "hours", i, "timezone") from None
        if h.country:
            import holidays
            if h.country not in holidays.list_supported_countries():
                raise fail(f"no public holidays known for {h.country!r} (use a code such as CZ or SK)", "hours", i,
                           "country")
        for key in ("closed", "open"):
            for d in getattr(h, key):
                if not _is_date(d):
                    raise fail(f"{d!r} is not a date YYYY-MM-DD", "hours", i, key)
    names: set[str] = set()
    for i, p in enumerate(cfg.plan):
        if p.name in names:
            raise fail(f"a second plan named {p.name!r}", "plan", i, "name")
        names.add(p.name)
        if p.hours not in seen:
            raise fail(f"names unknown [[hours]] calendar {p.hours!r} (known: {', '.join(sorted(seen))})", "plan", i,
                       "hours")
        if p.support_until and not _is_date(p.support_until):
            raise fail(f"{p.support_until!r} is not a date YYYY-MM-DD", "plan", i, "support_until")
    if cfg.helpdesk.default_plan and cfg.helpdesk.default_plan not in cfg.plans:
        raise ConfigError(f"names unknown plan {cfg.helpdesk.default_plan!r}", key="helpdesk.default_plan",
                          line=find_line(text, "helpdesk", "default_plan"))
    queues = {q.name for q in cfg.queue}
    for i, r in enumerate(cfg.rule):
        for key in ("subject", "body"):
            try:
                re.compile(getattr(r, key))
            except re.error as exc:
                raise fail(f"not a regular expression: {exc}", "rule", i, key) from None
        if r.queue and r.queue not in queues:
            raise fail(f"names unknown queue {r.queue!r}", "rule", i, "queue")
        if r.assignee and cfg.consultant_by_email(r.assignee) is None:
            raise fail(f"{r.assignee!r} is not a [[consultant]]", "rule", i, "assignee")
        if r.plan and r.plan not in cfg.plans:
            raise fail(f"names unknown plan {r.plan!r}", "rule", i, "plan")
    if not 1 <= cfg.sla.warn_at <= 99:
        raise ConfigError("must be a percentage from 1 to 99", key="sla.warn_at",
                          line=find_line(text, "sla", "warn_at"))


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def secret(cfg: Config, section: str) -> str:
    """The password of `imap` or `smtp`, from the key, the environment or a file."""
    s: Imap | Smtp = getattr(cfg, section)
    if s.password:
        return s.password
    if s.password_env:
        value = os.environ.get(s.password_env)
        if value is None:
            raise ConfigError(f"environment variable {s.password_env} is not set", key=f"{section}.password_env")
        return value
    if s.password_file:
        try:
            return cfg.resolve(s.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read password file: {exc.strerror}", key=f"{section}.password_file") from None
    return ""


def tls_context(cfg: Config, section: str) -> ssl.SSLContext:
    """A verifying TLS context for `imap` or `smtp`, trusting ca_file when it is set."""
    ca = getattr(cfg, section).ca_file
    return ssl.create_default_context(cafile=str(cfg.resolve(ca)) if ca else None)


def config_path(arg: str | None) -> Path:
    """--config, else $MAILDESK_CONFIG, else ./rules.toml."""
    return Path(arg or os.environ.get("MAILDESK_CONFIG") or "rules.toml")
