"""`maildesk kb export --html DIR`: the published articles as a static site any web server can serve.

An index per language, one page per article, and an offline search box over
a small prebuilt index (search.js, not fetched: it works from file:// too).
The pages are jinja2 templates from the package, autoescaped: article text
is data, never markup.
"""

from __future__ import annotations

import json
from collections import defaultdict
from importlib import resources
from pathlib import Path

import jinja2

from maildesk.cli.views import say
from maildesk.config import Config
from maildesk.decide.kb import fold
from maildesk.store import Store
from maildesk.store.rows import Article

SEARCH = {"cs": "Hledat v odpovědích", "sk": "Hľadať v odpovediach", "en": "Search the answers"}
HEADING = {"cs": "Odpovědi", "sk": "Odpovede", "en": "Answers"}


def export_html(cfg: Config, store: Store, out: Path) -> int:
    env = jinja2.Environment(loader=jinja2.PackageLoader("maildesk", "sample/site"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    by_lang: dict[str, list[Article]] = defaultdict(list)
    for a in store.articles("published"):
        by_lang[a.language].append(a)
    out.mkdir(parents=True, exist_ok=True)
    (out / "style.css").write_bytes((resources.files("maildesk") / "sample" / "site" / "style.css").read_bytes())
    index = [{"id": a.id, "language": a.language, "title": a.title, "url": f"{a.language}/{a.id}.html",
              "text": fold(f"{a.title} {a.body}")} for arts in by_lang.values() for a in arts]
    (out / "search.js").write_text("var MAILDESK_INDEX = " + json.dumps(index, ensure_ascii=True) + ";\n")
    page = env.get_template("index.html")
    (out / "index.html").write_text(page.render(language="en", helpdesk=cfg.helpdesk.name, heading="Answers",
                                                search_label=SEARCH["en"], root="", languages=sorted(by_lang),
                                                articles=[]))
    for lang, articles in by_lang.items():
        (out / lang).mkdir(exist_ok=True)
        (out / lang / "index.html").write_text(page.render(
            language=lang, helpdesk=cfg.helpdesk.name, heading=HEADING.get(lang, "Answers"),
            search_label=SEARCH.get(lang, SEARCH["en"]), root="../", languages=[], articles=articles))
        for a in articles:
            paragraphs = [p.strip() for p in a.body.replace("\r\n", "\n").split("\n\n") if p.strip()]
            (out / lang / f"{a.id}.html").write_text(env.get_template("article.html").render(
                article=a, paragraphs=paragraphs, helpdesk=cfg.helpdesk.name))
    say(f"{len(index)} published article(s) in {len(by_lang)} language(s) written to {out}")
    return 0
