"""The whole configuration (Config), the sections it is read from, and the README table of every key."""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

from maildesk.config.keys import (
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


@dataclass(frozen=True)
class Config:
    helpdesk: Helpdesk
    imap: Imap = field(default_factory=Imap)
    smtp: Smtp = field(default_factory=Smtp)
    authorise: Authorise = field(default_factory=Authorise)
    trust: Trust = field(default_factory=Trust)
    hours: tuple[Hours, ...] = (Hours(),)
    sla: Sla = field(default_factory=Sla)
    plan: tuple[Plan, ...] = ()
    rule: tuple[Rule, ...] = ()
    processing: Processing = field(default_factory=Processing)
    kb: Kb = field(default_factory=Kb)
    limits: Limits = field(default_factory=Limits)
    retention: Retention = field(default_factory=Retention)
    metrics: Metrics = field(default_factory=Metrics)
    queue: tuple[Queue, ...] = (Queue(name="general", default=True),)
    consultant: tuple[Consultant, ...] = ()
    path: Path = Path("rules.toml")

    def resolve(self, rel: str) -> Path:
        """A path from the config, relative to the directory of rules.toml."""
        p = Path(rel)
        return p if p.is_absolute() else self.path.parent / p

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.helpdesk.data_dir)

    @property
    def templates_dir(self) -> Path | None:
        """The site's template overrides, or None for the packaged templates only."""
        return self.resolve(self.helpdesk.templates_dir) if self.helpdesk.templates_dir else None

    @property
    def plans(self) -> dict[str, Plan]:
        """Every plan by name, with the implicit `standard` (from [sla], the first calendar) unless one is named so."""
        implicit = Plan(name="standard", hours=self.hours[0].name, first_response_hours=self.sla.first_response_hours,
                        resolution_hours=self.sla.resolution_hours,
                        express_first_response_hours=self.sla.express_first_response_hours)
        return {"standard": implicit, **{p.name: p for p in self.plan}}

    @property
    def default_plan(self) -> Plan:
        return self.plans[self.helpdesk.default_plan or "standard"]

    def calendar_hours(self, name: str) -> Hours:
        """The [[hours]] calendar of that name (validated at load: every plan names one that exists)."""
        return next(h for h in self.hours if h.name == name)

    @property
    def triage_queue(self) -> str:
        """Where unverified tickets wait: authorise.triage_queue, or the default queue when it is not defined."""
        names = {q.name for q in self.queue}
        return self.authorise.triage_queue if self.authorise.triage_queue in names else self.default_queue

    @property
    def default_queue(self) -> str:
        return next(q.name for q in self.queue if q.default)

    def consultant_by_email(self, addr: str) -> Consultant | None:
        addr = addr.lower()
        return next((c for c in self.consultant if c.email.lower() == addr), None)


SECTIONS: dict[str, type] = {
    "helpdesk": Helpdesk, "imap": Imap, "smtp": Smtp, "authorise": Authorise, "trust": Trust,
    "sla": Sla, "processing": Processing, "limits": Limits, "kb": Kb,
    "retention": Retention, "metrics": Metrics,
}
# [hours] may also be written as one table (a single calendar, named "default").
TABLE_ARRAYS: dict[str, type] = {"hours": Hours, "plan": Plan, "rule": Rule, "queue": Queue, "consultant": Consultant}


def schema() -> list[tuple[str, dataclasses.Field[Any]]]:
    """Every documented key as ('section.key', field), in file order."""
    out: list[tuple[str, dataclasses.Field[Any]]] = []
    for sec, cls in {**SECTIONS, **TABLE_ARRAYS}.items():
        out.extend((f"{sec}.{f.name}", f) for f in dataclasses.fields(cls))
    return out


def markdown_table() -> str:
    """The README's table of every key (regenerate with `python -m maildesk.config`)."""
    import json
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, f in schema():
        if f.default is MISSING and f.default_factory is MISSING:
            default = "required"
        else:
            value = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[operator]
            default = json.dumps(value, ensure_ascii=False)
        choices = f.metadata.get("choices")
        extra = f" One of: {', '.join(f'`{c}`' for c in choices)}." if choices else ""
        rows.append(f"| `{key}` | `{default}` | {f.metadata['help']}{extra} |")
    return "\n".join(rows)


def update_readme(path: Path) -> None:
    """Replace the generated key table in the README (between its marker and the next blank line)."""
    marker = "<!-- generated by `python -m maildesk.config"
    text = path.read_text(encoding="utf-8")
    start = text.index("\n", text.index(marker)) + 1
    end = text.index("\n\n", start)
    path.write_text(text[:start] + markdown_table() + text[end:], encoding="utf-8")
