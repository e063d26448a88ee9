"""The templates' bytecode cache: a faster start, never a stale or foreign template."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from maildesk.outbound import render
from maildesk.outbound.render import Renderer
from maildesk.outbound.samples import SAMPLES


@pytest.fixture
def fresh():
    """Each Renderer compiles anew, as a new process would (the compiled set is kept per process)."""
    render._compile.cache_clear()
    yield
    render._compile.cache_clear()


def _site(cfg, text: str) -> Path:
    site = cfg.data_dir.parent / "site-templates"
    (site / "en").mkdir(parents=True, exist_ok=True)
    (site / "en" / "confirmation.txt").write_text(text)
    cfg.path.write_text(cfg.path.read_text().replace("[helpdesk]", f'[helpdesk]\ntemplates_dir = "{site}"', 1))
    return site


def _reload(cfg):
    from maildesk.config import load
    render._compile.cache_clear()
    return load(cfg.path)


def _cache(cfg) -> list[Path]:
    return sorted((cfg.data_dir / "cache" / "templates").glob("*.cache"))


def test_a_second_start_loads_the_compiled_templates_and_renders_the_same(offline_cfg, fresh):
    cfg = offline_cfg
    first = Renderer(offline_cfg).render("confirmation", "cs", **_sample(cfg))
    files = _cache(offline_cfg)
    assert len(files) == len(render.LANGUAGES) * len(render.TEMPLATES)
    assert all(f.name.startswith(render._OPTIONS_TAG + "-") for f in files)
    render._compile.cache_clear()
    loads = []
    original = render._Bytecode.load_bytecode
    render._Bytecode.load_bytecode = lambda self, bucket: (original(self, bucket), loads.append(bucket.code))[0]
    try:
        second = Renderer(offline_cfg).render("confirmation", "cs", **_sample(cfg))
    finally:
        render._Bytecode.load_bytecode = original
    assert second == first
    assert len(loads) == len(files) and all(code is not None for code in loads)  # every one from the cache


def test_an_edited_site_template_is_compiled_anew_not_taken_from_the_cache(offline_cfg, fresh):
    site = _site(offline_cfg, "Subject: first {{ ticket.number }}\n\nold body\n")
    cfg = _reload(offline_cfg)
    assert Renderer(cfg).render("confirmation", "en", **_sample(cfg))[0].startswith("first")
    (site / "en" / "confirmation.txt").write_text("Subject: second {{ ticket.number }}\n\nnew body\n")
    cfg = _reload(cfg)
    subject, body = Renderer(cfg).render("confirmation", "en", **_sample(cfg))
    assert subject.startswith("second") and body == "new body\n"


def test_garbage_in_the_cache_is_ignored_and_the_template_compiled(offline_cfg, fresh):
    cfg = offline_cfg
    expected = Renderer(offline_cfg).render("confirmation", "cs", **_sample(cfg))
    for f in _cache(offline_cfg):
        f.write_bytes(b"\x00not bytecode" * 10)
    render._compile.cache_clear()
    assert Renderer(offline_cfg).render("confirmation", "cs", **_sample(cfg)) == expected


def test_a_cache_directory_others_may_write_is_not_used(offline_cfg, fresh):
    cfg = offline_cfg
    cache = cfg.data_dir / "cache" / "templates"
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    planted = cache / f"{render._OPTIONS_TAG}-planted.cache"
    planted.write_bytes(b"x")
    Renderer(offline_cfg).render("confirmation", "cs", **_sample(cfg))
    assert [f.name for f in cache.iterdir()] == [planted.name]  # nothing written, nothing read


def test_a_cache_that_cannot_be_written_only_costs_the_compile(offline_cfg, fresh):
    cfg = offline_cfg
    shutil.rmtree(cfg.data_dir / "cache")
    if os.getuid() == 0:  # root writes anywhere: a file where the directory should be stops it instead
        (offline_cfg.data_dir / "cache").mkdir(parents=True)
        (offline_cfg.data_dir / "cache" / "templates").write_text("not a directory")
    else:
        (offline_cfg.data_dir / "cache" / "templates").mkdir(parents=True, mode=0o500)
    assert Renderer(offline_cfg).render("confirmation", "cs", **_sample(cfg))[0]
    assert Renderer(offline_cfg).problems() == []


def test_a_full_disk_while_writing_the_cache_only_costs_the_compile(offline_cfg, fresh, monkeypatch):
    cfg = offline_cfg
    shutil.rmtree(cfg.data_dir / "cache")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full)  # how jinja2 writes a cache file
    assert Renderer(cfg).render("confirmation", "cs", **_sample(cfg))[0]
    assert _cache(cfg) == []


def _sample(cfg) -> dict:
    return {**SAMPLES["confirmation"], "hours": cfg.hours[0]}
