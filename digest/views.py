from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render

from .models import Batch, Paper, Topic

log = logging.getLogger(__name__)


def _batch_context(batch: Batch | None) -> dict:
    if batch is None:
        return {"batch": None, "entries": []}
    published = Batch.objects.filter(status=Batch.Status.PUBLISHED)
    return {
        "batch": batch,
        "entries": list(batch.visible_entries()),
        "previous": published.filter(date__lt=batch.date).order_by("-date").first(),
        "next": published.filter(date__gt=batch.date).order_by("date").first(),
    }


def home(request):
    from subscribers.forms import SubscribeForm

    context = _batch_context(Batch.latest_published())
    context["form"] = SubscribeForm()
    return render(request, "digest/home.html", context)


def day(request, day):
    batch = get_object_or_404(Batch, date=day, status=Batch.Status.PUBLISHED)
    from subscribers.forms import SubscribeForm

    context = _batch_context(batch)
    context["form"] = SubscribeForm()
    return render(request, "digest/home.html", context)


def paper(request, identifier: str):
    identifier = identifier.strip("/")
    found = Paper.objects.filter(arxiv_id=identifier).first()
    if found is None and identifier.startswith("title:"):
        found = Paper.objects.filter(key=identifier.replace("-", " ")).first()
    if found is None:
        raise Http404("No such paper")
    batches = found.batches.filter(status=Batch.Status.PUBLISHED).order_by("-date")
    return render(request, "digest/paper.html", {"paper": found, "batches": batches})


def topic(request, slug: str):
    found = get_object_or_404(Topic, slug=slug, active=True)
    return render(request, "digest/topic.html", {"topic": found})


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
