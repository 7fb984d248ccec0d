"""The community counts stored on each paper (Paper.community_votes, Paper.community_comments).

Adding or removing one vote moves the count with F() in the vote's own transaction (see
votes.py). When many rows change at once (a ban, a curator removing votes or hiding comments,
a person deleting their data) the counts are recomputed here instead, with the papers' rows
locked first so that a vote arriving meanwhile is neither lost nor counted twice."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from digest.models import Paper
from digest.pagecache import bump_signal_version

from .models import Comment, Vote

CHUNK = 500


def counted_votes():
    """Votes that count: not from a banned person."""
    return Vote.objects.exclude(user__member__banned=True)


def visible_comments():
    return Comment.objects.filter(hidden=False)


def _recount(paper_ids: Iterable[int], field: str, rows) -> int:
    ids = sorted(set(paper_ids))
    if not ids:
        return 0
    per_paper = (rows.filter(paper_id=OuterRef("pk")).order_by().values("paper_id")
                 .annotate(n=Count("pk")).values("n"))
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            list(Paper.objects.select_for_update().filter(pk__in=chunk).values_list("pk", flat=True))
            Paper.objects.filter(pk__in=chunk).update(**{field: Coalesce(Subquery(per_paper), 0)})
        transaction.on_commit(bump_signal_version)
    return len(ids)


def recount_votes(paper_ids: Iterable[int]) -> int:
    return _recount(paper_ids, "community_votes", counted_votes())


def recount_comments(paper_ids: Iterable[int]) -> int:
    return _recount(paper_ids, "community_comments", visible_comments())


def drift() -> dict[str, int]:
    """How many papers have stored counts that differ from their rows (0 and 0 when all is
    well; the tests and the load check use it)."""
    votes = dict(counted_votes().order_by().values("paper_id").annotate(n=Count("pk")).values_list("paper_id", "n"))
    comments = dict(visible_comments().order_by().values("paper_id").annotate(n=Count("pk"))
                    .values_list("paper_id", "n"))
    stored = Paper.objects.filter(Q(community_votes__gt=0) | Q(community_comments__gt=0) | Q(pk__in=list(votes))
                                  | Q(pk__in=list(comments))).values_list("pk", "community_votes", "community_comments")
    out = {"votes": 0, "comments": 0}
    for pk, v, c in stored:
        out["votes"] += v != votes.get(pk, 0)
        out["comments"] += c != comments.get(pk, 0)
    return out
