"""Templates: files under templates/<lang>/<name>.txt, a `Subject:` line, a blank line, then the body.

They are rendered with jinja2 and StrictUndefined, and compiled from files
only: mail content is only ever passed in as data, never compiled as a template.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
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
            str(site) if site is not None and not self.missing_dir else None, _signature(site),
            str(cfg.data_dir / "cache" / "templates"))

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


_OPTIONS: dict[str, Any] = {"undefined": jinja2.StrictUndefined, "autoescape": False, "keep_trailing_newline": True,
                            "auto_reload": False}
# jinja2 checks a cached file against its own version and the template's source, not against these
# options: a maildesk that compiles with other options must not load bytecode compiled with these.
_OPTIONS_TAG = hashlib.sha256(repr(sorted(_OPTIONS.items())).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=8)
def _compile(site: str | None, signature: tuple[tuple[str, float, int], ...], cache_dir: str) -> tuple[
        frozenset[str], dict[str, jinja2.Template], dict[str, str]]:
    """Every template compiled once per process and set of site files.

    Compiling all of them took 0.28 s at every start (of the daemon and of each CLI command);
    jinja2's bytecode cache in data_dir/cache/templates makes it 0.02 s. The cache is keyed by
    each file's source, so an edited template compiles anew.
    """
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(site)] if site else []
    loaders.append(jinja2.PackageLoader("maildesk", "sample/templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), bytecode_cache=_bytecode_cache(Path(cache_dir)),
                             **_OPTIONS)
    available = frozenset(env.list_templates(extensions=["txt"]))
    compiled: dict[str, jinja2.Template] = {}
    errors: dict[str, str] = {}
    for path in sorted(available):
        try:
            compiled[path] = env.get_template(path)
        except jinja2.TemplateError as exc:
            errors[path] = f"{exc.__class__.__name__}: {exc}"
    return available, compiled, errors


class _Bytecode(jinja2.FileSystemBytecodeCache):
    """jinja2's file cache, minus its one failure: a cache that cannot be written is simply not kept."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache(directory: Path) -> jinja2.BytecodeCache | None:
    """The cache directory, made if missing; None when it is not ours alone.

    Cached bytecode is run as code, so a directory another user owns or may write to is not used
    (the same test jinja2 makes of its own default directory).
    """
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(directory)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    return _Bytecode(str(directory), f"{_OPTIONS_TAG}-%s.cache")


def check_templates(cfg: Config) -> list[str]:
    """Render every template in every language with sample data; return the problems found."""
    return Renderer(cfg).problems()
