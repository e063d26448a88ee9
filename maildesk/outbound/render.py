"""Templates: files under templates/<lang>/<name>.txt, a `Subject:` line, a blank line, then the body.

They are rendered with jinja2 and StrictUndefined, and compiled from files
only: mail content is only ever passed in as data, never compiled as a template.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from maildesk.config import Config
from maildesk.errors import ConfigError
from maildesk.inbound.headers import clean_header
from maildesk.outbound.samples import SAMPLES

TEMPLATES = ("confirmation", "unknown_sender", "consultant_new", "consultant_followup", "consultant_note",
             "answer", "resolved", "command_error", "bad_credentials", "contact_added", "contact_removed", "too_large",
             "contact_error", "held", "consultant_held", "new_deadline", "sla_warning", "sla_breached", "status_reply",
             "kb_reply", "kb_receipt", "closed_thanks", "password_reset", "password_neutral")
LANGUAGES = ("en", "cs", "sk")


class Renderer:
    """jinja2 over the site's templates_dir (file by file) in front of the packaged templates.

    Every template is compiled once, here, and kept: a file edited or removed
    while the daemon runs cannot make mail fail one by one. `problems()` says
    what is wrong; `validate()` turns that into a ConfigError for start-up.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        site = cfg.templates_dir
        self.missing_dir = site is not None and not site.is_dir()
        self.available, self.compiled, self.errors = _compile(
            str(site) if site is not None and not self.missing_dir else None, _signature(site))

    def pick(self, name: str, language: str | None) -> str:
        """The template path for a language, falling back to the helpdesk language, then English."""
        for lang in (language, self.cfg.helpdesk.language, "en"):
            if lang and f"{lang}/{name}.txt" in self.available:
                return f"{lang}/{name}.txt"
        raise jinja2.TemplateNotFound(f"{name}.txt")

    def render(self, name: str, language: str | None, **ctx: Any) -> tuple[str, str]:
        """(subject, body) of a template."""
        path = self.pick(name, language)
        if path in self.errors:
            raise jinja2.TemplateError(self.errors[path])
        text = self.compiled[path].render(helpdesk=self.cfg.helpdesk, **ctx)
        head, _, body = text.partition("\n\n")
        if not head.lower().startswith("subject:"):
            raise jinja2.TemplateError(f"{name}: the first line must be 'Subject: ...'")
        return clean_header(head[len("subject:"):]), body.strip() + "\n"

    def problems(self) -> list[str]:
        """Every template in every language rendered with sample data; what failed, with the file."""
        if self.missing_dir:
            return [f"templates_dir {self.cfg.templates_dir} does not exist (helpdesk.templates_dir)"]
        out = []
        for lang in LANGUAGES:
            for name in TEMPLATES:
                path = f"{lang}/{name}.txt"
                if path not in self.available:
                    out.append(f"{path}: missing")
                    continue
                try:
                    self.render(name, lang, **{**SAMPLES[name], "hours": self.cfg.hours[0]})
                except jinja2.TemplateError as exc:
                    out.append(f"{self.origin(path)}: {exc}")
        return out

    def origin(self, path: str) -> str:
        """Where a template comes from: the site's file, or the packaged one."""
        site = self.cfg.templates_dir
        if site is not None and (site / path).is_file():
            return str(site / path)
        return f"packaged {path}"

    def validate(self) -> None:
        """Refuse to start with templates that would fail mail after mail (exit 78 in the CLI)."""
        problems = self.problems()
        if problems:
            raise ConfigError("templates do not render: " + "; ".join(problems), key="helpdesk.templates_dir")


def _signature(site: Path | None) -> tuple[tuple[str, float, int], ...]:
    """What the site's template files are now: a changed file compiles anew."""
    if site is None or not site.is_dir():
        return ()
    return tuple(sorted((str(p), p.stat().st_mtime, p.stat().st_size) for p in site.rglob("*.txt")))


@functools.lru_cache(maxsize=8)
def _compile(site: str | None, signature: tuple[tuple[str, float, int], ...]) -> tuple[
        frozenset[str], dict[str, jinja2.Template], dict[str, str]]:
    """Every template compiled once per process and set of site files (compiling all takes ~0.15 s)."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(site)] if site else []
    loaders.append(jinja2.PackageLoader("maildesk", "sample/templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True, auto_reload=False)
    available = frozenset(env.list_templates(extensions=["txt"]))
    compiled: dict[str, jinja2.Template] = {}
    errors: dict[str, str] = {}
    for path in sorted(available):
        try:
            compiled[path] = env.get_template(path)
        except jinja2.TemplateError as exc:
            errors[path] = f"{exc.__class__.__name__}: {exc}"
    return available, compiled, errors


def check_templates(cfg: Config) -> list[str]:
    """Render every template in every language with sample data; return the problems found."""
    return Renderer(cfg).problems()
