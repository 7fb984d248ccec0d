"""Full-text search over published papers: titles, abstracts and authors, ranked and
paginated, with filters (days, category). One interface, two engines: SQLite's FTS5 (a
contentless index kept by triggers, migration 0005) and PostgreSQL's full-text search (a
weighted tsvector with a GIN index).

The query language is the one the subscription keywords teach: words (each also matches as
a prefix), "quoted phrases", and -exclusions (-survey, -"large language"). Visitors' words
are rebuilt into each engine's syntax from letters and digits only, so no other syntax of
either engine is exposed."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Max, Q

from .models import Batch, Paper

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# A quoted phrase or a bare token, either with a leading "-" (an exclusion).
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
MAX_TERMS = 12
# A topic filter is applied in Python to this many of the best text matches.
MAX_CANDIDATES = 1000


@dataclass
class Query:
    words: list[str] = field(default_factory=list)  # each prefix-matched
    phrases: list[list[str]] = field(default_factory=list)  # words in this order
    excluded: list[list[str]] = field(default_factory=list)  # a word or a phrase each

    @property
    def has_terms(self) -> bool:
        return bool(self.words or self.phrases)


def parse_query(text: str) -> Query:
    """'lora "knowledge distillation" -survey' -> words ["lora"], phrases [["knowledge",
    "distillation"]], excluded [["survey"]]."""
    query = Query()
    count = 0
    for m in _TOKEN.finditer(text or ""):
        negative = bool(m.group(1) or m.group(3))
        quoted = m.group(2) is not None
        words = _WORD.findall(m.group(2) if quoted else m.group(4))[:MAX_TERMS]
        if not words or count >= MAX_TERMS:
            continue
        count += 1
        if negative:
            query.excluded.append(words)
        elif quoted and len(words) > 1:
            query.phrases.append(words)
        else:
            query.words.extend(words)
    return query


@dataclass
class Filters:
    start: dt.date | None = None  # published on a day from start ...
    end: dt.date | None = None  # ... to end
    category: str = ""  # cs.CL, or cs.* for every cs category

    def category_pattern(self) -> str:
        """A LIKE pattern: "cs.*" -> "cs.%", "cs.CL" -> "cs.CL" (LIKE's own wildcards escaped)."""
        value = self.category.replace("\\", "").replace("%", "").replace("_", "\\_")
        return value[:-1] + "%" if value.endswith("*") else value


def search_papers(query: str | Query, page: int = 1, per_page: int = 20,
                  filters: Filters | None = None) -> tuple[list[Paper], int]:
    """(papers of the page, total matches), best first."""
    ids, total = search_ids(query, filters, limit=per_page, offset=(page - 1) * per_page)
    by_id = Paper.objects.in_bulk(ids)
    return [by_id[i] for i in ids if i in by_id], total


def search_ids(query: str | Query, filters: Filters | None = None, limit: int = 20,
               offset: int = 0) -> tuple[list[int], int]:
    """(ids of papers ranked limit/offset, total matches). Without words or phrases, the
    filters alone list the published papers, newest day first."""
    query = parse_query(query) if isinstance(query, str) else query
    filters = filters or Filters()
    if not query.has_terms:
        return _browse(filters, limit, offset)
    if connection.vendor == "postgresql":
        return _postgres(query, filters, limit, offset)
    return _sqlite(query, filters, limit, offset)


def _browse(filters: Filters, limit: int, offset: int) -> tuple[list[int], int]:
    if not (filters.start or filters.end or filters.category):
        return [], 0
    published = Q(entries__batch__status=Batch.Status.PUBLISHED, entries__hidden=False)
    papers = Paper.objects.filter(published)
    if filters.start:
        papers = papers.filter(entries__batch__date__gte=filters.start)
    if filters.end:
        papers = papers.filter(entries__batch__date__lte=filters.end)
    ids = list(papers.values_list("pk", flat=True).distinct()[:MAX_CANDIDATES * 5])
    if filters.category:
        ids = _in_category(ids, filters)
    ranked = (Paper.objects.filter(pk__in=ids).annotate(day=Max("entries__batch__date", filter=published))
              .order_by("-day", "pk").values_list("pk", flat=True))
    return list(ranked[offset:offset + limit]), len(ids)


def _in_category(ids: list[int], filters: Filters) -> list[int]:
    pattern = filters.category_pattern()
    keep = {p.pk for p in Paper.objects.filter(pk__in=ids).only("pk", "categories")
            if any(_like(c, pattern) for c in p.categories or [])}
    return [i for i in ids if i in keep]


def _like(value: str, pattern: str) -> bool:
    # As SQL's LIKE does on SQLite: case-insensitive.
    value, pattern = value.casefold(), pattern.replace("\\_", "_").casefold()
    return value.startswith(pattern[:-1]) if pattern.endswith("%") else value == pattern


def _published(paper_id: str, filters: Filters, params: list) -> str:
    """SQL: the paper is in a published batch (within the filter's days), not hidden."""
    sql = ("SELECT 1 FROM digest_batchentry e JOIN digest_batch b ON b.id = e.batch_id "
           f"WHERE e.paper_id = {paper_id} AND b.status = 'published' AND NOT e.hidden")
    if filters.start:
        sql += " AND b.date >= %s"
        params.append(filters.start)
    if filters.end:
        sql += " AND b.date <= %s"
        params.append(filters.end)
    return sql


def _fts5(words: list[str], prefix: bool) -> str:
    # Each word quoted: FTS5 syntax characters lose their meaning.
    quoted = '"' + " ".join(w.replace('"', '""') for w in words) + '"'
    return quoted + ("*" if prefix else "")


def _sqlite(query: Query, filters: Filters, limit: int, offset: int) -> tuple[list[int], int]:
    match = " ".join([_fts5([w], True) for w in query.words] + [_fts5(p, False) for p in query.phrases])
    for words in query.excluded:
        match += " NOT " + _fts5(words, len(words) == 1)
    params: list = [match]
    where = f"digest_paper_fts MATCH %s AND EXISTS ({_published('digest_paper_fts.rowid', filters, params)})"
    if filters.category:
        where += (" AND EXISTS (SELECT 1 FROM digest_paper p, json_each(p.categories) c "
                  "WHERE p.id = digest_paper_fts.rowid AND c.value LIKE %s ESCAPE '\\')")
        params.append(filters.category_pattern())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM digest_paper_fts WHERE {where}", params)
        total = cursor.fetchone()[0]
        # bm25 weights: a word in the title counts 10x, in the authors 5x, in the abstract 1x.
        cursor.execute(
            f"SELECT rowid FROM digest_paper_fts WHERE {where} "
            "ORDER BY bm25(digest_paper_fts, 10.0, 1.0, 5.0) LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        return [row[0] for row in cursor.fetchall()], total


def _tsquery(words: list[str], prefix: bool) -> str:
    lexemes = [w for w in (re.sub(r"[^\w]", "", w) for w in words) if w]
    if not lexemes:
        return ""
    if len(lexemes) == 1:
        return lexemes[0] + (":*" if prefix else "")
    return "(" + " <-> ".join(lexemes) + ")"


def _postgres(query: Query, filters: Filters, limit: int, offset: int) -> tuple[list[int], int]:
    parts = [_tsquery([w], True) for w in query.words] + [_tsquery(p, False) for p in query.phrases]
    parts += ["!" + _tsquery(words, len(words) == 1) for words in query.excluded if _tsquery(words, False)]
    tsquery = " & ".join(p for p in parts if p and p != "!")
    vector = (
        "setweight(to_tsvector('english', coalesce(p.title, '')), 'A') || "
        "setweight(to_tsvector('english', coalesce(p.authors::text, '')), 'B') || "
        "setweight(to_tsvector('english', coalesce(p.abstract, '')), 'C')"
    )
    params: list = [tsquery]
    where = f"({vector}) @@ to_tsquery('english', %s) AND EXISTS ({_published('p.id', filters, params)})"
    if filters.category:
        where += " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(p.categories) c WHERE c ILIKE %s)"
        params.append(filters.category_pattern())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM digest_paper p WHERE {where}", params)
        total = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT p.id FROM digest_paper p WHERE {where} "
            f"ORDER BY ts_rank({vector}, to_tsquery('english', %s)) DESC, p.id LIMIT %s OFFSET %s",
            [*params, tsquery, limit, offset],
        )
        return [row[0] for row in cursor.fetchall()], total
