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

    def has_published_article(self, language: str | None) -> bool:
        """Is there a published article (in the language, or in any)? What a search could find at all."""
        sql = "SELECT 1 FROM articles WHERE status = 'published'" + (" AND language = ?" if language else "")
        return self.db.execute(sql + " LIMIT 1", (language,) if language else ()).fetchone() is not None

    def search_articles(self, match: str, language: str | None, published: bool = True,
                        limit: int = 20) -> list[tuple[Article, float]]:
        """Articles matching an FTS5 query, best bm25 first (title and body weigh the same).

        Plain SQL, not sqlite-utils' table.search(): that looks the FTS table and its columns up
        on every call, half a millisecond of every new ticket.
        """
        where, args = ["articles_fts MATCH ?"], [match]
        if published:
            where.append("articles.status = 'published'")
        if language:
            where.append("articles.language = ?")
            args.append(language)
        rows = self.all("SELECT articles.*, articles_fts.rank AS rank FROM articles_fts "
                        "JOIN articles ON articles.id = articles_fts.rowid "
                        f"WHERE {' AND '.join(where)} ORDER BY articles_fts.rank, articles.id LIMIT ?", [*args, limit])
        return [(article, float(r["rank"])) for r in rows if (article := from_row(Article, r)) is not None]
