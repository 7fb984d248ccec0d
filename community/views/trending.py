"""/trending/: the papers of the last days ranked by the community's votes and comments,
with time decay (digest.trending states the formula)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render
from django.views.decorators.http import require_GET

from digest.models import BatchEntry
from digest.pagecache import page_version
from digest.trending import trending as trending_papers


CACHE_BUCKET_SECONDS = 300


@require_GET
def trending(request):
    # The order moves with time as well as with votes: recompute at least every 5 minutes.
    key = f"trending:{page_version()}:{int(time.time() // CACHE_BUCKET_SECONDS)}"
    ids = cache.get(key)
    if ids is None:
        ranked = trending_papers()
        ids = [(t.entry.pk, round(t.score, 6)) for t in ranked]
        cache.set(key, ids, CACHE_BUCKET_SECONDS)
    entries = BatchEntry.objects.select_related("paper", "batch").in_bulk([pk for pk, _ in ids])
    items = [(entries[pk], score) for pk, score in ids if pk in entries]
    return render(request, "community/trending.html", {
        "items": items, "days": settings.TRENDING_DAYS, "gravity": settings.TRENDING_GRAVITY,
    })
