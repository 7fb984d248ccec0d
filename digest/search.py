"""Full-text search over published papers: titles, abstracts and authors, ranked and
paginated. One interface, two engines: SQLite's FTS5 (a contentless index kept by
triggers, migration 0005) and PostgreSQL's full-text search (a weighted tsvector with a
GIN index). Visitors' words are quoted, so no query syntax of either engine is exposed."""

from __future__ import annotations

import re

from django.db import connection

from .models import Paper

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _terms(query: str) -> list[str]:
    return _WORD.findall(query)[:12]


def search_papers(query: str, page: int = 1, per_page: int = 20) -> tuple[list[Paper], int]:
    """(papers of the page, total matches), best first."""
    terms = _terms(query)
    if not terms:
        return [], 0
    if connection.vendor == "postgresql":
        ids, total = _postgres(terms, page, per_page)
    else:
        ids, total = _sqlite(terms, page, per_page)
    by_id = Paper.objects.in_bulk(ids)
    return [by_id[i] for i in ids if i in by_id], total


_PUBLISHED = (
    "SELECT 1 FROM digest_batchentry e JOIN digest_batch b ON b.id = e.batch_id "
    "WHERE e.paper_id = {id} AND b.status = 'published' AND NOT e.hidden"
)


def _sqlite(terms: list[str], page: int, per_page: int) -> tuple[list[int], int]:
    # Every word quoted (FTS5 syntax characters lose their meaning) and prefix-matched.
    match = " ".join('"' + t.replace('"', '""') + '"*' for t in terms)
    where = f"digest_paper_fts MATCH %s AND EXISTS ({_PUBLISHED.format(id='digest_paper_fts.rowid')})"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM digest_paper_fts WHERE {where}", [match])
        total = cursor.fetchone()[0]
        # bm25 weights: a word in the title counts 10x, in the authors 5x, in the abstract 1x.
        cursor.execute(
            f"SELECT rowid FROM digest_paper_fts WHERE {where} "
            "ORDER BY bm25(digest_paper_fts, 10.0, 1.0, 5.0) LIMIT %s OFFSET %s",
            [match, per_page, (page - 1) * per_page],
        )
        return [row[0] for row in cursor.fetchall()], total


def _postgres(terms: list[str], page: int, per_page: int) -> tuple[list[int], int]:
    query = " & ".join(f"{t}:*" for t in (re.sub(r"[^\w]", "", t) for t in terms) if t)
    vector = (
        "setweight(to_tsvector('english', coalesce(p.title, '')), 'A') || "
        "setweight(to_tsvector('english', coalesce(p.authors::text, '')), 'B') || "
        "setweight(to_tsvector('english', coalesce(p.abstract, '')), 'C')"
    )
    where = f"({vector}) @@ to_tsquery('english', %s) AND EXISTS ({_PUBLISHED.format(id='p.id')})"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM digest_paper p WHERE {where}", [query])
        total = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT p.id FROM digest_paper p WHERE {where} "
            f"ORDER BY ts_rank({vector}, to_tsquery('english', %s)) DESC, p.id LIMIT %s OFFSET %s",
            [query, query, per_page, (page - 1) * per_page],
        )
        return [row[0] for row in cursor.fetchall()], total
