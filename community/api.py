"""The open data: a read-only JSON API of the published papers.

    GET /api/papers/?date=YYYY-MM-DD | week=YYYY-Www | month=YYYY-MM  [&sort=curated|trending|votes]
                    [&page=N] [&per_page=1..100]
    GET /api/papers/<arxiv_id>/

Without a period, the newest published day. Answers are cached per content and community
version, carry an ETag, and a request with a matching If-None-Match gets 304 Not Modified,
like the feeds. Anyone may read it (Access-Control-Allow-Origin: *); nothing private is in it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_GET

from digest.models import Batch, BatchEntry, Paper
from digest.pagecache import page_version
from digest.trending import rank

from .lookup import published_paper

MAX_PER_PAGE = 100
SORTS = ("curated", "trending", "votes")


class BadRequest(Exception):
    pass


def period(params) -> tuple[dt.date, dt.date]:
    given = [name for name in ("date", "week", "month") if params.get(name)]
    if len(given) > 1:
        raise BadRequest("give one of date, week or month")
    try:
        if "date" in given:
            day = dt.date.fromisoformat(params["date"])
            return day, day
        if "week" in given:
            found = re.fullmatch(r"(\d{4})-W(\d{2})", params["week"])
            if not found:
                raise ValueError
            start = dt.date.fromisocalendar(int(found[1]), int(found[2]), 1)
            return start, start + dt.timedelta(days=6)
        if "month" in given:
            found = re.fullmatch(r"(\d{4})-(\d{2})", params["month"])
            if not found:
                raise ValueError
            start = dt.date(int(found[1]), int(found[2]), 1)
            end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            return start, end
    except ValueError:
        name = given[0]
        example = {"date": "2026-03-19", "week": "2026-W12", "month": "2026-03"}[name]
        raise BadRequest(f"{name}={params[name]!r} is not valid; use a form like {name}={example}") from None
    latest = Batch.objects.published().order_by("-date").only("date").first()
    day = latest.date if latest else dt.date.today()
    return day, day


def _int(params, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(value)


def paper_json(paper: Paper, entry: BatchEntry | None = None) -> dict:
    data = {
        "id": paper.identifier,
        "arxiv_id": paper.arxiv_id or None,
        "url": settings.SITE_URL + paper.get_absolute_url(),
        "title": paper.title,
        "authors": paper.authors or [],
        "abstract": paper.abstract,
        "published": paper.published.isoformat() if paper.published else None,
        "categories": paper.categories or [],
        "links": {"arxiv": paper.abs_url or None, "pdf": paper.pdf_url or None, "code": paper.code_url or None,
                  "project": paper.project_url or None},
        "votes": {"community": paper.community_votes, "source": paper.upvotes},
        "comments": {"community": paper.community_comments, "source": paper.num_comments},
        "stars": paper.stars,
        "ai_keywords": paper.ai_keywords or [],
    }
    if entry is not None:
        data.update(day=entry.batch.date.isoformat(), featured=entry.featured,
                    submitted_by=entry.submitted_by or None)
    return data


def _ordered(start: dt.date, end: dt.date, sort: str) -> list[BatchEntry]:
    entries = (BatchEntry.objects.filter(batch__status=Batch.Status.PUBLISHED, hidden=False,
                                         batch__date__range=(start, end))
               .select_related("paper", "batch"))
    if sort == "trending":
        return [t.entry for t in rank(entries)]
    if sort == "votes":
        entries = entries.order_by("-paper__community_votes", "-batch__date", "-featured", "position", "pk")
    else:
        entries = entries.order_by("-batch__date", "-featured", "position", "pk")
    seen, out = set(), []
    for entry in entries:
        if entry.paper_id not in seen:  # a paper in two days of a week is listed once, at its newest
            seen.add(entry.paper_id)
            out.append(entry)
    return out


def _list(request) -> dict:
    params = request.GET
    start, end = period(params)
    if (end - start).days > 31:
        raise BadRequest("a period is at most a month")
    sort = params.get("sort") or "curated"
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}")
    per_page = _int(params, "per_page", settings.API_PAGE_SIZE, 1, MAX_PER_PAGE)
    page = _int(params, "page", 1, 1, 100_000)
    entries = _ordered(start, end, sort)
    pages = max(1, -(-len(entries) // per_page))
    rows = entries[(page - 1) * per_page: page * per_page]

    def link(number):
        if not 1 <= number <= pages:
            return None
        query = {k: v for k, v in params.items() if k != "page"}
        return f"{settings.SITE_URL}/api/papers/?{urlencode({**query, 'page': number})}"

    return {
        "start": start.isoformat(), "end": end.isoformat(), "sort": sort,
        "count": len(entries), "page": page, "pages": pages, "per_page": per_page,
        "next": link(page + 1), "previous": link(page - 1),
        "results": [{**paper_json(e.paper, e), "rank": (page - 1) * per_page + i}
                    for i, e in enumerate(rows, start=1)],
    }


def _detail(identifier: str) -> dict:
    paper = published_paper(identifier)
    entries = (paper.entries.filter(batch__status=Batch.Status.PUBLISHED).select_related("batch")
               .order_by("-batch__date"))
    return {**paper_json(paper),
            "days": [{"day": e.batch.date.isoformat(), "featured": e.featured, "hidden": e.hidden,
                      "submitted_by": e.submitted_by or None} for e in entries if not e.hidden],
            "discussion": settings.SITE_URL + paper.get_absolute_url() + "#discussion"}


def _answer(request, build) -> HttpResponse:
    """Serve `build()` as JSON from the cache, with an ETag and 304s."""
    raw = f"{request.path}?{sorted(request.GET.items())}:{page_version()}"
    key = "api:" + hashlib.sha256(raw.encode()).hexdigest()
    cached = cache.get(key)
    if cached is None:
        try:
            body, status = json.dumps(build(), ensure_ascii=False).encode(), 200
        except BadRequest as exc:
            body, status = json.dumps({"error": str(exc)}).encode(), 400
        except Http404:
            body, status = json.dumps({"error": "no such paper"}).encode(), 404
        cached = (body, status)
        if status == 200:
            cache.set(key, cached, settings.PAGE_CACHE_SECONDS)
    body, status = cached
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if status == 200 and etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, status=status, content_type="application/json")
    if status == 200:
        response["ETag"] = etag
        response["Cache-Control"] = "public, max-age=60"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def papers(request):
    return _answer(request, lambda: _list(request))


@require_GET
def paper(request, identifier: str):
    return _answer(request, lambda: _detail(identifier))
