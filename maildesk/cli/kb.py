"""`maildesk kb ...`: the knowledge base from the command line, and as a folder of Markdown files for git."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from maildesk.act.customers import InputError
from maildesk.cli.views import emit, say, table
from maildesk.config import Config
from maildesk.decide import kb
from maildesk.store import Store
from maildesk.store.rows import Article

LANGS = ("cs", "sk", "en")
_FRONT = re.compile(r"\A---\n(.*?)\n---\n?(.*)\Z", re.S)


def _text(source: str) -> str:
    text = sys.stdin.read() if source in ("", "-") else Path(source).read_text(encoding="utf-8")
    if not text.strip():
        raise InputError("the article has no text")
    return text.strip() + "\n"


def _article(store: Store, aid: int) -> Article:
    a = store.article(aid)
    if a is None:
        raise InputError(f"no article {aid}")
    return a


def run(args: argparse.Namespace, cfg: Config, store: Store) -> int:
    act = args.action
    if act == "add":
        with store.transaction():
            aid = store.add_article(title=args.title, body=_text(args.file or "-"), language=args.lang,
                                    queues=",".join(args.queue or []), author="operator")
            store.event(None, None, "kb-added", {"article": aid, "by": "operator"})
        say(f"article {aid} added as a draft (publish it with: maildesk kb publish {aid})")
        return 0
    if act in ("publish", "unpublish"):
        _article(store, args.id)
        with store.transaction():
            store.update_article(args.id, status="published" if act == "publish" else "draft")
            store.event(None, None, f"kb-{act}ed", {"article": args.id})
        say(f"article {args.id} {'published' if act == 'publish' else 'withdrawn (draft)'}")
        return 0
    if act == "edit":
        _article(store, args.id)
        changes = {k: v for k, v in (("title", args.title), ("language", args.lang)) if v}
        if args.queue is not None:
            changes["queues"] = ",".join(args.queue)
        if args.file:
            changes["body"] = _text(args.file)
        with store.transaction():
            store.update_article(args.id, **changes)
        say(f"article {args.id} changed")
        return 0
    if act == "list":
        rows = [{"id": a.id, "status": a.status, "language": a.language, "queues": a.queues, "title": a.title,
                 "updated": a.updated} for a in store.articles()]
        if args.json:
            emit(rows)
        else:
            say(table(rows, ["id", "status", "language", "queues", "title", "updated"]))
        return 0
    if act == "show":
        a = _article(store, args.id)
        say(f"#{a.id}  {a.title}\n  {a.status}, {a.language}, queues {a.queues or '-'}, from ticket "
            f"{a.source_ticket or '-'} by {a.author or '-'}, updated {a.updated}\n\n{a.body}")
        return 0
    if act == "search":
        hits = kb.search(store, " ".join(args.words), args.lang)
        say(table([{"id": h.article.id, "language": h.article.language, "matched": h.matched,
                    "rank": round(h.rank, 2), "title": h.article.title} for h in hits],
                  ["id", "language", "matched", "rank", "title"]))
        return 0
    if act == "export":
        if args.html:
            from maildesk.cli.site import export_html
            return export_html(cfg, store, Path(args.dir))
        return export(store, Path(args.dir))
    return import_dir(store, Path(args.dir))


def export(store: Store, folder: Path) -> int:
    """One Markdown file per article, with a small front-matter header (a team keeps its FAQ in git)."""
    folder.mkdir(parents=True, exist_ok=True)
    for a in store.articles():
        head = (f"---\nid: {a.id}\ntitle: {a.title}\nlanguage: {a.language}\nqueues: {a.queues}\n"
                f"status: {a.status}\n---\n")
        (folder / f"{a.id:04d}-{a.language}.md").write_text(head + a.body, encoding="utf-8")
    say(f"{len(store.articles())} article(s) written to {folder}")
    return 0


def import_dir(store: Store, folder: Path) -> int:
    """Markdown files with front matter: an `id` that exists is updated, any other file becomes a new article."""
    added = changed = 0
    with store.transaction():
        for path in sorted(folder.glob("*.md")):
            m = _FRONT.match(path.read_text(encoding="utf-8").replace("\r\n", "\n"))
            if not m:
                raise InputError(f"{path.name}: no front matter (--- title: ... ---)")
            meta = dict(line.split(":", 1) for line in m.group(1).splitlines() if ":" in line)
            meta = {k.strip(): v.strip() for k, v in meta.items()}
            if not meta.get("title") or meta.get("language") not in LANGS:
                raise InputError(f"{path.name}: needs a title and a language ({', '.join(LANGS)})")
            fields: dict[str, str] = {
                "title": meta["title"], "body": m.group(2).strip() + "\n", "language": meta["language"],
                "queues": meta.get("queues", ""),
                "status": "published" if meta.get("status") == "published" else "draft"}
            aid = int(meta["id"]) if meta.get("id", "").isdigit() else 0
            if aid and store.article(aid):
                store.update_article(aid, **fields)
                changed += 1
            else:
                store.add_article(title=fields["title"], body=fields["body"], language=fields["language"],
                                  queues=fields["queues"], status=fields["status"], author="import")
                added += 1
        store.event(None, None, "kb-imported", {"added": added, "changed": changed, "from": folder.name})
    say(f"{added} article(s) added, {changed} changed")
    return 0
