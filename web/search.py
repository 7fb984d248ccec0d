"""The search page: words, "phrases" and -exclusions (digest.search), with filters for the
days, a topic and an arXiv category. A topic is a curated query rather than words of the
index, so it filters the best text matches in Python (digest.selection.topic_tags)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

from django.core.paginator import Paginator

from digest.models import Paper, Topic
from digest.search import MAX_CANDIDATES, Filters, parse_query, search_ids, search_papers
from digest.selection import topic_papers, topic_tags

PER_PAGE = 20
CATEGORY = re.compile(r"[A-Za-z-]+(\.[A-Za-z-]+|\.\*)?")


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _page_number(params) -> int:
    try:
        return max(1, min(10_000, int(params.get("page", 1))))
    except ValueError:
        return 1


def search_page(params) -> dict:
    """The context of /search/ for its GET parameters (q, from, to, topic, category, page)."""
    text = (params.get("q") or "").strip()[:200]
    category = (params.get("category") or "").strip()[:40]
    filters = Filters(start=_date(params.get("from")), end=_date(params.get("to")),
                      category=category if CATEGORY.fullmatch(category) else "")
    topics = list(Topic.objects.filter(active=True))
    topic = next((t for t in topics if t.slug == params.get("topic")), None)
    query = parse_query(text)
    page_number = _page_number(params)
    asked = bool(text or topic or filters.start or filters.end or filters.category)
    if topic is not None:
        # The topic's matches among the best text (or filter) matches, in their order.
        if query.has_terms or filters.start or filters.end or filters.category:
            ids, _ = search_ids(query, filters, limit=MAX_CANDIDATES)
            by_id = Paper.objects.in_bulk(ids)
            candidates = [by_id[i] for i in ids if i in by_id]
            tagged = topic_tags(candidates, [topic])
            found = [p for p in candidates if p.pk in tagged]
        else:  # the topic alone: its page's papers (the last 30 days)
            found = [p for p, _ in topic_papers(topic, limit=200)]
        page = Paginator(found, PER_PAGE).get_page(page_number)
        results, total, pages = list(page.object_list), page.paginator.count, page.paginator.num_pages
    elif asked:
        results, total = search_papers(query, page=page_number, per_page=PER_PAGE, filters=filters)
        pages = max(1, -(-total // PER_PAGE))
    else:
        results, total, pages = [], 0, 1
    kept = {k: v for k, v in (("q", text), ("from", params.get("from") if filters.start else ""),
                              ("to", params.get("to") if filters.end else ""),
                              ("topic", topic.slug if topic else ""), ("category", filters.category)) if v}
    return {
        "query": text, "asked": asked, "results": results, "total": total, "filters": filters,
        "topics": topics, "topic": topic, "category": filters.category,
        "only_exclusions": bool(query.excluded and not query.has_terms),
        "page_number": page_number, "pages": pages, "rank_offset": (page_number - 1) * PER_PAGE, "has_next": page_number < pages, "has_previous": page_number > 1,
        "base_query": urlencode(kept), "tags": topic_tags(results),
    }
