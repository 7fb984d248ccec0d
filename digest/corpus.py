"""The database side of ranking's corpus statistics: fit CorpusStats on the papers stored in
the last RANKING_WINDOW_DAYS days, store the fit as one compact RankingModel row, and hand
the latest fit to every process that ranks (workers, the web, commands).

A fit over 60 days of a busy feed (some 50,000 papers) takes under a minute and a few MB;
beat refits it every RANKING_REFIT_HOURS (digest.tasks.refit_ranking). A process checks
for a newer fit at most every CHECK_SECONDS, so a refit reaches running workers without a
restart. With no fit stored yet, the first caller fits one."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.conf import settings
from django.utils import timezone

from .matching import CorpusStats, PaperDoc
from .matching.dense import load_encoder
from .models import Paper, RankingModel
from .vectors import DatabaseStore

log = logging.getLogger(__name__)
CHECK_SECONDS = 60
KEEP_FITS = 2

_lock = threading.Lock()
_current: dict = {"id": None, "stats": None, "checked": 0.0}


def window_docs(days: int | None = None, now: dt.datetime | None = None):
    """PaperDoc of every paper stored in the last `days` days (created or updated)."""
    days = days or settings.RANKING_WINDOW_DAYS
    since = (now or timezone.now()) - dt.timedelta(days=days)
    rows = Paper.objects.filter(updated_at__gte=since).order_by("pk").values_list("pk", "title", "abstract", "categories")
    for pk, title, abstract, categories in rows.iterator(chunk_size=2000):
        yield PaperDoc(id=pk, title=title, abstract=abstract or "", categories=tuple(categories or ()))


def fit(days: int | None = None) -> RankingModel:
    """Fit the statistics on the window and store them; older fits beyond KEEP_FITS go."""
    days = days or settings.RANKING_WINDOW_DAYS
    started = time.monotonic()
    docs = list(window_docs(days))
    stats = CorpusStats.fit(docs)
    row = RankingModel.objects.create(window_days=days, papers=len(docs), data=stats.to_bytes())
    old = list(RankingModel.objects.order_by("-created_at", "-pk").values_list("pk", flat=True)[KEEP_FITS:])
    RankingModel.objects.filter(pk__in=old).delete()
    log.info("ranking model %s: %s papers of %s days, %s KB, %.1f s", row.pk, len(docs), days,
             len(row.data) // 1024, time.monotonic() - started)
    return row


def dense_encoder():
    """The dense encoder of MATCH_EMBEDDING_MODEL, or None (LSA only). A folder that is
    missing a file or holds files other than the pinned ones is an error, not a silent
    fall-back: the operator asked for the model."""
    folder = getattr(settings, "MATCH_EMBEDDING_MODEL", "")
    if not folder:
        return None
    encoder = load_encoder(folder)
    if encoder.store is None:
        encoder.store = DatabaseStore(encoder.name)
    return encoder


def current_stats() -> CorpusStats:
    """The latest fit, loaded once per process and reloaded when a newer one is stored."""
    now = time.monotonic()
    if _current["stats"] is not None and now - _current["checked"] < CHECK_SECONDS:
        return _current["stats"]
    with _lock:
        latest = RankingModel.objects.order_by("-created_at", "-pk").values_list("pk", flat=True).first()
        if latest is None:
            latest = fit().pk
        if latest != _current["id"]:
            data = RankingModel.objects.filter(pk=latest).values_list("data", flat=True).get()
            stats = CorpusStats.from_bytes(bytes(data))
            stats.dense = dense_encoder()
            _current["stats"] = stats
            _current["id"] = latest
        _current["checked"] = now
        return _current["stats"]


def unseen_categories(patterns, stats: CorpusStats | None = None) -> list[str]:
    """The category patterns ("cs.CL", "cs.*") that no paper of the window carries: a typo,
    a category the site's sources do not list, or a quiet one. Empty when the stored papers
    carry no categories at all (a site fed only by the daily-papers page): then every
    category is unseen, and naming each would only say that the sources give none."""
    stats = stats or current_stats()
    if not any(stats.category_df.values()):
        return []
    return [p for p in patterns if not stats.papers_in(p)]


def forget() -> None:
    """Drop this process's loaded fit (tests, after deleting rows)."""
    with _lock:
        _current.update(id=None, stats=None, checked=0.0)
