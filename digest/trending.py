"""Trending: the papers the community is paying attention to now.

    points = community votes + 0.5 x community comments
    score  = points / (hours since the paper's day was published + 2) ** TRENDING_GRAVITY (1.5)

over the papers of the published batches of the last TRENDING_DAYS days (7); a paper in
several batches counts from its newest one. Ties (a quiet site, where every score is 0) go
to the source's upvotes (Hugging Face), then the newer day, then the curator's order. The
same order picks the "top papers of the day" for subscribers who chose no topic.

The score is the classic news-site time decay (Hacker News uses gravity 1.8): a paper published
72 hours ago needs about 4.8 times the points of one published 24 hours ago to rank level
((74 / 26) ** 1.5)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from .models import Batch, BatchEntry, Paper

COMMENT_WEIGHT = 0.5
AGE_OFFSET_HOURS = 2.0


def score(votes: int, comments: int, hours: float, gravity: float = 1.5) -> float:
    return (votes + COMMENT_WEIGHT * comments) / (max(hours, 0.0) + AGE_OFFSET_HOURS) ** gravity


def published_at(batch: Batch) -> dt.datetime:
    return batch.published_at or dt.datetime.combine(batch.date, dt.time.min, tzinfo=dt.timezone.utc)


@dataclass
class Trending:
    paper: Paper
    entry: BatchEntry
    score: float
    hours: float

    @property
    def points(self) -> float:
        return self.paper.community_votes + COMMENT_WEIGHT * self.paper.community_comments


def order_key(item: Trending) -> tuple:
    paper, entry = item.paper, item.entry
    return (-item.score, -paper.community_votes, -(paper.upvotes or 0), -entry.batch.date.toordinal(),
            -entry.featured, entry.position, entry.pk)


def rank(entries, now: dt.datetime | None = None, gravity: float | None = None) -> list[Trending]:
    """Entries (with paper and batch loaded) ranked by trending score; one per paper."""
    now = now or timezone.now()
    gravity = settings.TRENDING_GRAVITY if gravity is None else gravity
    newest: dict[int, BatchEntry] = {}
    for entry in entries:
        kept = newest.get(entry.paper_id)
        if kept is None or entry.batch.date > kept.batch.date:
            newest[entry.paper_id] = entry
    items = []
    for entry in newest.values():
        hours = (now - published_at(entry.batch)).total_seconds() / 3600
        paper = entry.paper
        items.append(Trending(paper, entry, score(paper.community_votes, paper.community_comments, hours, gravity),
                              hours))
    return sorted(items, key=order_key)


def trending(days: int | None = None, now: dt.datetime | None = None, limit: int = 50) -> list[Trending]:
    """The papers of the published batches of the last `days` days up to the newest one."""
    days = days or settings.TRENDING_DAYS
    latest = Batch.objects.published().order_by("-date").only("date").first()
    if latest is None:
        return []
    entries = (BatchEntry.objects.filter(batch__status=Batch.Status.PUBLISHED, hidden=False,
                                         batch__date__range=(latest.date - dt.timedelta(days=days - 1), latest.date))
               .select_related("paper", "batch"))
    return rank(entries, now)[:limit]
