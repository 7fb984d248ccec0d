"""The public site: a day, a week or a month of papers (in the curator's order or by votes),
the date picker, papers, topics, search, and the subscribe form's POST. Every page works
without JavaScript and costs a bounded number of queries. The papers come from
digest.selection; the subscribe form is the {% subscribe_form %} tag of subscribers, and its
POST goes to subscribers.lifecycle."""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from digest.models import Batch, Paper, Topic
from digest.pagecache import content_version, memo, signal_version
from digest.selection import (
    SORTS, Period, latest_published_id, period_page, published_day_near, similar_papers, topic_counts, topic_papers,
    topic_tags,
)
from paperpost.ratelimit import allow, client_ip, parse_rate
from subscribers import lifecycle
from subscribers.forms import SubscribeForm

from .search import search_page

log = logging.getLogger(__name__)

# Stands in for the visitor's CSRF token in a cached page; filled in on every request.
CSRF_HOLE = "\x00csrf\x00"
WEEK = re.compile(r"(\d{4})-W(\d{2})")
MONTH = re.compile(r"(\d{4})-(\d{2})")


def _cached_page(request, key: str, template: str, build_context, version: str | None = None) -> HttpResponse:
    """Render a page once per content and community version (the counts on it) and serve it
    from the cache. The subscribe form's CSRF token is the only per-visitor part: it is left as
    a hole and filled in. A signed-in reader gets the page rendered for them (their votes,
    their name in the header), not the shared copy."""
    if request.user.is_authenticated:
        return render(request, template, {**build_context(), "SITE_URL": settings.SITE_URL})
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


def _sort(request, default: str) -> str:
    sort = request.GET.get("sort")
    return sort if sort in SORTS else default


def period_url(period: Period) -> str:
    if period.kind == "week":
        return reverse("week", args=[period.key])
    if period.kind == "month":
        return reverse("month", args=[period.key])
    return reverse("day", args=[period.start])


def period_label(period: Period, short: bool = False) -> str:
    if period.kind == "week":
        return f"Week {period.start.isocalendar()[1]}" if short else (
            f"Week {period.start.isocalendar()[1]} of {period.start.isocalendar()[0]}, "
            f"{period.start:%-d %b} – {period.end:%-d %b %Y}")
    if period.kind == "month":
        return f"{period.start:%B %Y}"
    return f"{period.start:%a %-d %b}" if short else f"{period.start:%A %-d %B %Y}"


def navigation(context: dict, default_sort: str) -> dict:
    """Links for a period's page: the day / week / month switch (around the newest published
    day of the period), the published periods before and after, the sort, the pages."""
    period: Period = context["period"]
    anchor = context["days"][0] if context["days"] else period.start
    switch = [(kind, label, period_url(Period.of(kind, anchor)), kind == period.kind)
              for kind, label in (("day", "Day"), ("week", "Week"), ("month", "Month"))]
    around = [(rel, Period.of(period.kind, day)) for rel, day in (("prev", context["previous"]),
                                                                  ("next", context["next"])) if day]
    base = period_url(period)
    sort_param = "" if context["sort"] == default_sort else f"sort={context['sort']}&"
    return {
        **context,
        "heading": period_label(period),
        "switch": switch,
        "around": {rel: (period_url(p), period_label(p, short=True)) for rel, p in around},
        "sorts": [(key, label, base + ("" if key == default_sort else f"?sort={key}"), key == context["sort"])
                  for key, label in (("curated", "Curated order"), ("votes", "Most votes"))],
        "page_base": f"{base}?{sort_param}page=",
        "canonical": base + (f"?{sort_param}page={context['page'].number}" if context["page"].number > 1 else
                             (f"?sort={context['sort']}" if sort_param else "")),
    }


def _period_response(request, period: Period, default_sort: str, version: str | None = None, home=False,
                     topic: str | None = None):
    page, sort = _page_number(request), _sort(request, default_sort)

    def build():
        return {**navigation(period_page(period, page, sort), default_sort), "home": home}

    if topic:  # a prefilled form (?topic=): per visitor, not cached
        return render(request, "web/home.html", {**build(), "subscribe_topic": topic})
    key = f"{'home' if home else period.kind}:{period.key}:{page}:{sort}"
    return _cached_page(request, key, "web/home.html", build, version)


@require_GET
def home(request):
    """The newest published day, with the subscribe form."""
    version = content_version()
    batch_id = latest_published_id(version)
    topic = request.GET.get("topic")
    if batch_id is None:
        return render(request, "web/home.html", {"period": None, "subscribe_topic": topic})
    day = Batch.objects.values_list("date", flat=True).get(pk=batch_id)
    return _period_response(request, Period.of("day", day), "curated", version, home=True, topic=topic)


@require_GET
def day(request, day):
    get_object_or_404(Batch.objects.published(), date=day)
    return _period_response(request, Period.of("day", day), "curated")


@require_GET
def week(request, week: str):
    found = WEEK.fullmatch(week)
    try:
        start = dt.date.fromisocalendar(int(found[1]), int(found[2]), 1) if found else None
    except ValueError:
        start = None
    if start is None:
        raise Http404("Weeks are written like 2026-W31")
    return _period_response(request, Period.of("week", start), "votes")


@require_GET
def month(request, month: str):
    found = MONTH.fullmatch(month)
    try:
        start = dt.date(int(found[1]), int(found[2]), 1) if found else None
    except ValueError:
        start = None
    if start is None:
        raise Http404("Months are written like 2026-07")
    return _period_response(request, Period.of("month", start), "votes")


@require_GET
def pick(request):
    """The date picker's GET: the day (or its week or month) of the date asked for. A day
    with no papers leads to the nearest published day before it."""
    try:
        asked = dt.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return redirect("home")
    kind = request.GET.get("view")
    if kind in ("week", "month"):
        return redirect(period_url(Period.of(kind, asked)))
    found = published_day_near(asked)
    return redirect(period_url(Period.of("day", found))) if found else redirect("home")


@require_GET
def best(request, period: str):
    """The older best-of addresses: the week or month of the newest day, by votes."""
    if period not in ("week", "month"):
        raise Http404
    latest = Batch.objects.published().order_by("-date").values_list("date", flat=True).first()
    if latest is None:
        return redirect("home")
    return redirect(period_url(Period.of(period, latest)) + "?sort=votes")


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
        "topics": topic_tags([found]).get(found.pk, []),
    })


@require_GET
def topics(request):
    """Every active topic, with how many papers of the last 30 days it matches."""
    counts = topic_counts()
    return render(request, "web/topics.html", {
        "topics": [(t, counts.get(t.pk, 0)) for t in Topic.objects.filter(active=True)],
        "canonical": reverse("topics"),
    })


@require_GET
def topic(request, slug: str):
    found = get_object_or_404(Topic, slug=slug, active=True)
    papers = topic_papers(found)
    return render(request, "web/topic.html", {
        "topic": found, "papers": papers, "canonical": found.get_absolute_url(),
        "tags": topic_tags([p for p, _ in papers]),
    })


@require_GET
def search(request):
    return render(request, "web/search.html", search_page(request.GET))


# --- The subscribe form ---------------------------------------------------------------------


def _home_with(request, form, status):
    """The landing page again, with the form's errors (not cached: it is per visitor)."""
    batch = Batch.latest_published()
    context = navigation(period_page(Period.of("day", batch.date), 1), "curated") if batch else {"period": None}
    return render(request, "web/home.html", {**context, "form": form, "home": True}, status=status)


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
        # Queued: what happens next differs by address, so none of it is done while the visitor waits.
        lifecycle.queue_subscription(
            lifecycle.SubscribeRequest(
                email=data["email"], topics=list(data.get("topics") or []),
                keywords=data.get("keywords", ""), about=data.get("about", ""), frequency=data["frequency"],
                ip=ip or None, timezone=data.get("timezone", ""),
            )
        )
    # The same page, after the same work, whatever the address: nobody can learn who is subscribed from it.
    return render(request, "subscribers/check_inbox.html")
