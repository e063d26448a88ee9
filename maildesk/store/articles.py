"""Knowledge-base articles and their full-text index (FTS5, diacritics and case folded)."""

from __future__ import annotations

from typing import Any

from maildesk.store.base import StoreBase, now
from maildesk.store.rows import Article, from_row


class ArticleStore(StoreBase):
    """Articles; the FTS index follows every write through triggers (schema.py)."""

    def add_article(self, *, title: str, body: str, language: str, queues: str = "", status: str = "draft",
                    source_ticket: int | None = None, author: str | None = None) -> int:
        aid = self.insert("articles", {
            "title": title, "body": body, "language": language, "queues": queues, "status": status,
            "source_ticket": source_ticket, "author": author, "created": now(), "updated": now()})
        return aid

    def update_article(self, aid: int, **changes: Any) -> None:
        self.update("articles", "id", aid, {**changes, "updated": now()})

    def article(self, aid: int) -> Article | None:
        row = self.one("SELECT * FROM articles WHERE id = ?", (aid,))
        return Article(**row) if row else None

    def articles(self, status: str | None = None) -> list[Article]:
        if status:
            return [Article(**r) for r in self.all("SELECT * FROM articles WHERE status = ? ORDER BY id", (status,))]
        return [Article(**r) for r in self.all("SELECT * FROM articles ORDER BY id")]

    def search_articles(self, match: str, language: str | None, published: bool = True,
                        limit: int = 20) -> list[tuple[Article, float]]:
        """Articles matching an FTS5 query, best bm25 first (title counts double), through sqlite-utils' search."""
        where = ["1 = 1"]
        args: dict[str, Any] = {}
        if published:
            where.append("status = 'published'")
        if language:
            where.append("language = :language")
            args["language"] = language
        rows = self.db.table("articles").search(match, where=" AND ".join(where), where_args=args, limit=limit,
                                                include_rank=True)
        return [(article, float(r["rank"])) for r in rows if (article := from_row(Article, r)) is not None]
