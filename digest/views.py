"""The public site: the day's papers, the archive, papers, topics, search, best-of views.
Every page works without JavaScript and costs a bounded number of queries."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F
from django.http import Http404, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from .models import Batch, BatchEntry, Paper, Topic
from .search import search_papers

log = logging.getLogger(__name__)

PER_PAGE = 100
CSRF_HOLE = "\x00csrf\x00"


VERSION_KEY = "public-version"


def content_version() -> str:
    """Part of every cache key of a public page or feed. A publish, a curator's edit or an
    ingest replaces it (bump_content_version), so a cached page is never stale; it also
    expires on its own, as a safety net for changes made behind the application's back.

    Each process reuses the version it last read for PAGE_VERSION_MEMO_SECONDS (1 s): under
    load that turns a Redis round trip per request into one per second, at the price of
    other processes seeing a publish up to a second late (the publishing process sees it
    at once)."""
    now = time.monotonic()
    version, read_at = _version_seen
    if version is not None and now - read_at < settings.PAGE_VERSION_MEMO_SECONDS:
        return version
    version = cache.get(VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex[:12]
        if not cache.add(VERSION_KEY, version, settings.PAGE_CACHE_SECONDS):
            version = cache.get(VERSION_KEY) or version
    _version_seen[:] = [version, now]
    return version


_version_seen: list = [None, 0.0]


def bump_content_version() -> None:
    version = uuid.uuid4().hex[:12]
    cache.set(VERSION_KEY, version, settings.PAGE_CACHE_SECONDS)
    _version_seen[:] = [version, time.monotonic()]


def forget_content_version() -> None:
    """Drop what this process remembers (after the shared cache was cleared, as tests do)."""
    _version_seen[:] = [None, 0.0]
    memo.data.clear()


class _Memo:
    """A small per-process store in front of the shared cache, for values whose key carries
    the content version: such a value never changes once computed, so a process may keep it
    without asking Redis again. This saves the transfer and unpickling of a 200 KB page per
    request; only the version itself is read from the shared cache (see content_version)."""

    def __init__(self, size: int = 64):
        self.size = size
        self.data: dict = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value) -> None:
        if len(self.data) >= self.size:
            # Dicts keep insertion order: drop the oldest quarter (mostly older versions).
            for old in list(self.data)[: self.size // 4]:
                del self.data[old]
        self.data[key] = value


memo = _Memo()


def latest_published_id(version: str) -> int | None:
    """The newest published batch's id, computed once per content version (a publish bumps it)."""
    key = ("latest", version)
    found = memo.get(key)
    if found is None:
        batch = Batch.latest_published()
        found = (batch.pk if batch else None,)
        memo.set(key, found)
    return found[0]


def _subscribe_form(request=None):
    from subscribers.forms import SubscribeForm

    topic = request.GET.get("topic") if request else None
    initial = {}
    if topic:
        initial["topics"] = list(Topic.objects.filter(slug=topic, active=True))
    return SubscribeForm(initial=initial)


def _day_context(batch: Batch, page_number: int) -> dict:
    page = Paginator(batch.visible_entries(), PER_PAGE).get_page(page_number)
    return {
        "batch": batch,
        "page": page,
        "entries": list(page.object_list),
        "rank_offset": page.start_index() - 1 if page.object_list else 0,
        "previous": Batch.objects.published().filter(date__lt=batch.date).order_by("-date").only("date").first(),
        "next": Batch.objects.published().filter(date__gt=batch.date).order_by("date").only("date").first(),
    }


def _cached_page(request, key: str, template: str, build_context, version: str | None = None) -> HttpResponse:
    """Render a page once per content version and serve it from the cache. The subscribe
    form's CSRF token is the only per-visitor part: it is left as a hole and filled in."""
    cache_key = f"page:{key}:{version or content_version()}"
    html = memo.get(cache_key)
    if html is None:
        html = cache.get(cache_key)
        if html is None:
            context = build_context()
            context["form"] = _subscribe_form()
            context["csrf_hole"] = CSRF_HOLE
            context["SITE_URL"] = settings.SITE_URL
            html = render_to_string(template, context, request=None)
            cache.set(cache_key, html, settings.PAGE_CACHE_SECONDS)
        # Split once at the hole, so that each request joins the parts around its token
        # instead of searching 200 KB for it.
        html = [part.encode() for part in html.split(CSRF_HOLE)]
        memo.set(cache_key, html)
    return HttpResponse(get_token(request).encode().join(html))


@require_GET
def home(request):
    version = content_version()
    batch_id = latest_published_id(version)
    if batch_id is None:
        return render(request, "digest/home.html", {"batch": None, "form": _subscribe_form(request)})
    if request.GET.get("topic"):  # a prefilled form: not cached
        context = _day_context(Batch.objects.get(pk=batch_id), 1)
        context["form"] = _subscribe_form(request)
        return render(request, "digest/home.html", context)
    page = _page_number(request)
    return _cached_page(request, f"home:{batch_id}:{page}", "digest/home.html",
                        lambda: _day_context(Batch.objects.get(pk=batch_id), page), version)


@require_GET
def day(request, day):
    batch = get_object_or_404(Batch.objects.published(), date=day)
    page = _page_number(request)
    return _cached_page(request, f"day:{batch.pk}:{page}", "digest/home.html", lambda: _day_context(batch, page))


def _page_number(request) -> int:
    try:
        return max(1, min(10_000, int(request.GET.get("page", 1))))
    except ValueError:
        return 1


BEST_OF = {"week": 7, "month": 30}


@require_GET
def best(request, period: str):
    """The best papers of the last week or month: featured first, then by upvotes."""
    days = BEST_OF.get(period)
    if days is None:
        raise Http404
    latest = Batch.objects.published().order_by("-date").only("date").first()
    if latest is None:
        return render(request, "digest/best.html", {"period": period, "entries": []})
    start = latest.date - dt.timedelta(days=days - 1)

    def build():
        entries = (
            BatchEntry.objects.filter(batch__status=Batch.Status.PUBLISHED, batch__date__range=(start, latest.date),
                                      hidden=False)
            .select_related("paper", "batch")
            # nulls_last: papers without a vote count go after the voted ones on PostgreSQL
            # too (its default puts NULL first in a descending order; SQLite's puts it last).
            .order_by("-featured", F("paper__upvotes").desc(nulls_last=True), "-batch__date", "position")
        )
        seen, best_entries = set(), []
        for entry in entries[:200]:
            if entry.paper_id not in seen:
                seen.add(entry.paper_id)
                best_entries.append(entry)
        return {"period": period, "start": start, "end": latest.date, "entries": best_entries[:50]}

    return _cached_page(request, f"best:{period}:{latest.pk}", "digest/best.html", build)


@require_GET
def paper(request, identifier: str):
    identifier = identifier.strip("/")
    found = Paper.objects.filter(arxiv_id=identifier).first()
    if found is None and identifier.startswith("title:"):
        found = Paper.objects.filter(key=identifier.replace("-", " ")).first()
    if found is None:
        raise Http404("No such paper")
    batches = list(found.batches.published().order_by("-date"))
    if not batches and not request.user.is_staff:
        raise Http404("No such paper")  # not public until its batch is published
    return render(request, "digest/paper.html", {
        "paper": found, "batches": batches, "similar": similar_papers(found), "canonical": found.get_absolute_url(),
    })


def similar_papers(paper: Paper, limit: int = 5) -> list[Paper]:
    """Papers most alike this one (TF-IDF over titles and abstracts) among the published
    papers of the 30 days around it; computed once per content version."""
    key = f"similar:{paper.pk}:{content_version()}"
    ids = cache.get(key)
    if ids is None:
        from .matching import PaperDoc, PaperIndex, Weights

        around = paper.batches.order_by("-date").values_list("date", flat=True).first() or timezone.localdate()
        pool = list(
            Paper.objects.filter(
                entries__batch__status=Batch.Status.PUBLISHED,
                entries__batch__date__range=(around - dt.timedelta(days=15), around + dt.timedelta(days=15)),
            ).distinct().only("pk", "title", "abstract")[:3000]
        )
        index = PaperIndex([PaperDoc(id=p.pk, title=p.title, abstract=p.abstract, order=i) for i, p in enumerate(pool)],
                           Weights(similarity_min=0.1))
        index.add_external([PaperDoc(id=paper.pk, title=paper.title, abstract=paper.abstract)])
        sims = index.similar(paper.pk)
        ranked = sorted(sims.items(), key=lambda kv: -kv[1])[:limit]
        ids = [index.papers[position].id for position, _ in ranked]
        cache.set(key, ids, settings.PAGE_CACHE_SECONDS)
    by_id = Paper.objects.in_bulk(ids)
    return [by_id[i] for i in ids if i in by_id]


@require_GET
def topic(request, slug: str):
    found = get_object_or_404(Topic, slug=slug, active=True)
    return render(request, "digest/topic.html", {
        "topic": found, "papers": topic_papers(found), "canonical": found.get_absolute_url(),
    })


def topic_papers(topic: Topic, days: int = 30, limit: int = 50) -> list[tuple[Paper, object]]:
    """The topic's matches among the papers published in the last `days`, best first."""
    from .matching import Interests, PaperDoc, PaperIndex, match

    # A stable digest of the query (str.__hash__ differs between processes, so other web
    # processes could not share the entry).
    query_digest = hashlib.sha256(topic.query.encode()).hexdigest()[:16]
    key = f"topic-papers:{topic.pk}:{query_digest}:{content_version()}"
    ranked = cache.get(key)
    if ranked is None:
        latest = Batch.objects.published().order_by("-date").only("date").first()
        if latest is None:
            return []
        entries = (
            BatchEntry.objects.filter(batch__status=Batch.Status.PUBLISHED, hidden=False,
                                      batch__date__gte=latest.date - dt.timedelta(days=days - 1))
            .select_related("paper").order_by("-batch__date", "position")
        )
        papers, docs = {}, []
        for entry in entries[:5000]:
            if entry.paper_id not in papers:
                papers[entry.paper_id] = entry.paper
                docs.append(PaperDoc(id=entry.paper_id, title=entry.paper.title, abstract=entry.paper.abstract,
                                     order=len(docs), upvotes=entry.paper.upvotes or 0, featured=entry.featured))
        matches = match(Interests.build(topics=[(topic.name, topic.query)]), PaperIndex(docs), limit=limit)
        ranked = [(m.paper_id, m.explain()) for m in matches]
        cache.set(key, ranked, settings.PAGE_CACHE_SECONDS)
    by_id = Paper.objects.in_bulk([pid for pid, _ in ranked])
    return [(by_id[pid], why) for pid, why in ranked if pid in by_id]


@require_GET
def search(request):
    query = (request.GET.get("q") or "").strip()[:200]
    page_number = _page_number(request)
    results, total = search_papers(query, page=page_number, per_page=20) if query else ([], 0)
    pages = max(1, -(-total // 20))
    return render(request, "digest/search.html", {
        "query": query, "results": results, "total": total, "page_number": page_number, "pages": pages,
        "has_next": page_number < pages, "has_previous": page_number > 1,
    })


@require_GET
def robots(request):
    lines = ["User-agent: *", "Disallow: /u/", "Disallow: /f/", "Disallow: /confirm/", "Disallow: /email/",
             "Disallow: /admin/", "Disallow: /anymail/", f"Sitemap: {settings.SITE_URL}/sitemap.xml"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


def server_error(request):
    # No template logic, no database: it must render when everything else is broken.
    return HttpResponse(render_to_string("500.html"), status=500)


def healthz(request):
    """Liveness: the database answers and, when one is configured, the broker too."""
    checks = {}
    status = 200
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        log.error("healthz: database: %s", exc)
        checks["database"] = "error"
        status = 503
    if settings.REDIS_URL:
        try:
            import redis

            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
            checks["broker"] = "ok"
        except Exception as exc:
            log.error("healthz: broker: %s", exc)
            checks["broker"] = "error"
            status = 503
    else:
        checks["broker"] = "in-process"
    return JsonResponse({"status": "ok" if status == 200 else "error", **checks}, status=status)
