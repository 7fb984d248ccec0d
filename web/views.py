"""The public site: the day's papers, the archive, papers, topics, search, best-of views, and
the subscribe form's POST. Every page works without JavaScript and costs a bounded number of
queries. The papers come from digest.selection; the subscribe form is the {% subscribe_form %}
tag of subscribers, and its POST goes to subscribers.lifecycle."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods

from digest.models import Batch, Paper, Topic
from digest.pagecache import content_version, memo, signal_version
from digest.search import search_papers
from digest.selection import best_entries, day_page, latest_published_id, similar_papers, topic_papers
from paperpost.ratelimit import allow, client_ip, parse_rate
from subscribers import lifecycle
from subscribers.forms import SubscribeForm

log = logging.getLogger(__name__)

# Stands in for the visitor's CSRF token in a cached page; filled in on every request.
CSRF_HOLE = "\x00csrf\x00"
BEST_OF = {"week": 7, "month": 30}
SEARCH_PER_PAGE = 20


def _cached_page(request, key: str, template: str, build_context, version: str | None = None) -> HttpResponse:
    """Render a page once per content and community version (the counts on it) and serve it
    from the cache. The subscribe form's CSRF token is the only per-visitor part: it is left as
    a hole and filled in. A signed-in reader gets the page rendered for them (their votes,
    their name in the header), not the shared copy."""
    if request.user.is_authenticated:
        return render(request, template, build_context())
    cache_key = f"page:{key}:{version or content_version()}.{signal_version()}"
    html = memo.get(cache_key)
    if html is None:
        html = cache.get(cache_key)
        if html is None:
            context = build_context()
            context["csrf_hole"] = CSRF_HOLE
            context["SITE_URL"] = settings.SITE_URL
            html = render_to_string(template, context, request=None)
            cache.set(cache_key, html, settings.PAGE_CACHE_SECONDS)
        # Split once at the hole, so that each request joins the parts around its token
        # instead of searching 200 KB for it.
        html = [part.encode() for part in html.split(CSRF_HOLE)]
        memo.set(cache_key, html)
    return HttpResponse(get_token(request).encode().join(html))


def _page_number(request) -> int:
    try:
        return max(1, min(10_000, int(request.GET.get("page", 1))))
    except ValueError:
        return 1


@require_GET
def home(request):
    version = content_version()
    batch_id = latest_published_id(version)
    topic = request.GET.get("topic")
    if batch_id is None:
        return render(request, "web/home.html", {"batch": None, "subscribe_topic": topic})
    if topic:  # a prefilled form: not cached
        context = day_page(Batch.objects.get(pk=batch_id), 1)
        return render(request, "web/home.html", {**context, "subscribe_topic": topic})
    page, sort = _page_number(request), _sort(request)
    return _cached_page(request, f"home:{batch_id}:{page}:{sort}", "web/home.html",
                        lambda: day_page(Batch.objects.get(pk=batch_id), page, sort), version)


@require_GET
def day(request, day):
    batch = get_object_or_404(Batch.objects.published(), date=day)
    page, sort = _page_number(request), _sort(request)
    return _cached_page(request, f"day:{batch.pk}:{page}:{sort}", "web/home.html",
                        lambda: day_page(batch, page, sort))


def _sort(request) -> str:
    """A day in the curators' order (the default) or by the community's votes (?sort=votes)."""
    return "votes" if request.GET.get("sort") == "votes" else "curated"


@require_GET
def best(request, period: str):
    """The best papers of the last week or month: featured first, then by upvotes."""
    days = BEST_OF.get(period)
    if days is None:
        raise Http404
    latest = Batch.objects.published().order_by("-date").only("date").first()
    if latest is None:
        return render(request, "web/best.html", {"period": period, "entries": []})
    start = latest.date - dt.timedelta(days=days - 1)

    def build():
        return {"period": period, "start": start, "end": latest.date, "entries": best_entries(start, latest.date)}

    return _cached_page(request, f"best:{period}:{latest.pk}", "web/best.html", build)


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
    return render(request, "web/paper.html", {
        "paper": found, "batches": batches, "similar": similar_papers(found), "canonical": found.get_absolute_url(),
    })


@require_GET
def topic(request, slug: str):
    found = get_object_or_404(Topic, slug=slug, active=True)
    return render(request, "web/topic.html", {
        "topic": found, "papers": topic_papers(found), "canonical": found.get_absolute_url(),
    })


@require_GET
def search(request):
    query = (request.GET.get("q") or "").strip()[:200]
    page_number = _page_number(request)
    results, total = search_papers(query, page=page_number, per_page=SEARCH_PER_PAGE) if query else ([], 0)
    pages = max(1, -(-total // SEARCH_PER_PAGE))
    return render(request, "web/search.html", {
        "query": query, "results": results, "total": total, "page_number": page_number, "pages": pages,
        "has_next": page_number < pages, "has_previous": page_number > 1,
    })


# --- The subscribe form ---------------------------------------------------------------------


def _home_with(request, form, status):
    """The landing page again, with the form's errors (not cached: it is per visitor)."""
    batch = Batch.latest_published()
    context = day_page(batch, 1) if batch else {"batch": None}
    return render(request, "web/home.html", {**context, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
def subscribe(request):
    if request.method == "GET":
        return redirect("home")
    limit, window = parse_rate(settings.SUBSCRIBE_RATE_PER_IP)
    ip = client_ip(request)
    if not allow("subscribe-ip", ip, limit, window):
        log.warning("subscribe: rate limit for %s", ip)
        response = render(request, "subscribers/too_many.html", {"minutes": max(1, window // 60)}, status=429)
        response["Retry-After"] = str(window)
        return response
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return _home_with(request, form, status=400)
    data = form.cleaned_data
    if data.get("website"):
        log.info("subscribe: honeypot filled by %s; ignored", ip)
    else:
        outcome = lifecycle.request_subscription(
            lifecycle.SubscribeRequest(
                email=data["email"], topics=list(data.get("topics") or []),
                keywords=data.get("keywords", ""), frequency=data["frequency"], ip=ip or None,
            )
        )
        log.info("subscribe: %s", outcome)
    # The same page whatever happened: nobody can learn who is subscribed from it.
    return render(request, "subscribers/check_inbox.html")
