"""Which published papers a page, a feed or an email draws from, and in which order.

published_entries() is the one definition of "the published entries of a span of days";
PeriodContent indexes them for matching (digest.matching) so that a digest, a private feed
or a preview can pick each subscriber's papers. The other functions are the selections the
public pages and feeds show: a day, the best of a week, a topic's matches, similar papers.
Results that only change with the content are cached under the content version
(digest.pagecache)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.utils import timezone

from . import trending
from .corpus import current_stats
from .matching import Interests, Match, PaperDoc, PaperIndex, Ranking, Reason, Weights, explain, match, match_many
from .models import Batch, BatchEntry, Paper, Topic
from .pagecache import content_version, memo

PER_PAGE = 100
# The papers a "similar papers" list is drawn from: published within this many days of the paper.
SIMILAR_WINDOW_DAYS = 15
# Looser than a subscriber's "more like this" threshold: a paper page always wants a few.
SIMILAR_MIN = 0.1


def published_entries(start: dt.date | None = None, end: dt.date | None = None, *,
                      drafts: bool = False) -> QuerySet[BatchEntry]:
    """The visible (not hidden) entries of published batches dated start..end (either end
    open), with their papers; `drafts` adds draft batches (the curator's preview)."""
    statuses = [Batch.Status.PUBLISHED] + ([Batch.Status.DRAFT] if drafts else [])
    entries = BatchEntry.objects.filter(batch__status__in=statuses, hidden=False)
    if start is not None:
        entries = entries.filter(batch__date__gte=start)
    if end is not None:
        entries = entries.filter(batch__date__lte=end)
    return entries.select_related("paper")


def latest_published_id(version: str) -> int | None:
    """The newest published batch's id, computed once per content version (a publish bumps it)."""
    key = ("latest", version)
    found = memo.get(key)
    if found is None:
        batch = Batch.latest_published()
        found = (batch.pk if batch else None,)
        memo.set(key, found)
    return found[0]


def day_page(batch: Batch, page_number: int, sort: str = "curated") -> dict:
    """One page of a day's papers in the curator's order (or, with sort="votes", by the
    community's votes, then the source's), with the days before and after."""
    entries = batch.visible_entries()
    if sort == "votes":
        entries = entries.order_by("-paper__community_votes", F("paper__upvotes").desc(nulls_last=True),
                                   "-featured", "position", "pk")
    page = Paginator(entries, PER_PAGE).get_page(page_number)
    return {
        "batch": batch,
        "sort": sort,
        "page": page,
        "entries": list(page.object_list),
        "rank_offset": page.start_index() - 1 if page.object_list else 0,
        "previous": Batch.objects.published().filter(date__lt=batch.date).order_by("-date").only("date").first(),
        "next": Batch.objects.published().filter(date__gt=batch.date).order_by("date").only("date").first(),
    }


def best_entries(start: dt.date, end: dt.date, limit: int = 50) -> list[BatchEntry]:
    """The best papers published start..end: featured first, then by the community's votes,
    then by the source's upvotes; each once."""
    entries = (
        published_entries(start, end)
        .select_related("batch")
        # nulls_last: papers without a vote count go after the voted ones on PostgreSQL
        # too (its default puts NULL first in a descending order; SQLite's puts it last).
        .order_by("-featured", "-paper__community_votes", F("paper__upvotes").desc(nulls_last=True),
                  "-batch__date", "position")
    )
    seen, best = set(), []
    for entry in entries[:200]:
        if entry.paper_id not in seen:
            seen.add(entry.paper_id)
            best.append(entry)
    return best[:limit]


def similar_papers(paper: Paper, limit: int = 5) -> list[Paper]:
    """Papers most alike this one (the semantic layer over titles and abstracts) among the papers
    published within SIMILAR_WINDOW_DAYS of it; computed once per content version."""
    key = f"similar:{paper.pk}:{content_version()}"
    ids = cache.get(key)
    if ids is None:
        around = paper.batches.order_by("-date").values_list("date", flat=True).first() or timezone.localdate()
        window = dt.timedelta(days=SIMILAR_WINDOW_DAYS)
        published = published_entries(around - window, around + window).values("paper_id")
        pool = list(Paper.objects.filter(pk__in=published).only("pk", "title", "abstract")[:3000])
        weights = dataclasses.replace(Weights.from_settings(), similarity_min=SIMILAR_MIN)
        index = PaperIndex([PaperDoc(id=p.pk, title=p.title, abstract=p.abstract, order=i)
                            for i, p in enumerate(pool)], weights, stats=current_stats())
        index.add_external([PaperDoc(id=paper.pk, title=paper.title, abstract=paper.abstract)])
        ranked = sorted(index.similar(paper.pk).items(), key=lambda kv: -kv[1])[:limit]
        ids = [index.papers[position].id for position, _ in ranked]
        cache.set(key, ids, settings.PAGE_CACHE_SECONDS)
    by_id = Paper.objects.in_bulk(ids)
    return [by_id[i] for i in ids if i in by_id]


def topic_papers(topic: Topic, days: int = 30, limit: int = 50) -> list[tuple[Paper, str]]:
    """The topic's matches among the papers published in the last `days`, best first, each
    with why; computed once per content version and topic query."""
    # A stable digest of the query (str.__hash__ differs between processes, so other web
    # processes could not share the entry).
    query_digest = hashlib.sha256(topic.query.encode()).hexdigest()[:16]
    key = f"topic-papers:{topic.pk}:{query_digest}:{content_version()}"
    ranked = cache.get(key)
    if ranked is None:
        latest = Batch.objects.published().order_by("-date").only("date").first()
        if latest is None:
            return []
        entries = published_entries(latest.date - dt.timedelta(days=days - 1)).order_by("-batch__date", "position")
        papers, docs = {}, []
        for entry in entries[:5000]:
            if entry.paper_id not in papers:
                papers[entry.paper_id] = entry.paper
                docs.append(doc_of(entry.paper, order=len(docs), featured=entry.featured))
        index = PaperIndex(docs, Weights.from_settings(), stats=current_stats())
        matches = match(Interests.build(topics=[(topic.name, topic.query)]), index, limit=limit)
        ranked = [(m.paper_id, m.explain()) for m in matches]
        cache.set(key, ranked, settings.PAGE_CACHE_SECONDS)
    by_id = Paper.objects.in_bulk([pid for pid, _ in ranked])
    return [(by_id[pid], why) for pid, why in ranked if pid in by_id]


# --- The papers of a period, for matching subscribers -------------------------------------------


def doc_of(paper: Paper, order: int = 0, featured: bool = False) -> PaperDoc:
    return PaperDoc(
        id=paper.pk,
        title=paper.title,
        abstract=paper.abstract,
        authors=tuple(paper.authors or ()),
        categories=tuple(paper.categories or ()),
        order=order,
        upvotes=paper.upvotes or 0,
        featured=featured,
    )


# The reason shown for a paper picked for a subscriber who chose no interest.
TOP_PAPERS = Reason(kind="community", label="the community's top papers")


def wants_top_papers(interests: Interests) -> bool:
    """No topic, keyword, category, author or about-me text: the subscriber asked for nothing
    in particular and gets the community's top papers. What they liked (an upvote marks a
    paper "more like this") and a model learned from their feedback put close papers first."""
    return not (interests.topics or any(not t.exclude for t in interests.keywords) or interests.categories
                or interests.authors or interests.about)


class PeriodContent:
    """The published papers of a span of days, indexed for matching. An edition builds it
    once per process and reuses it for every chunk; feeds and previews build their own."""

    RANKINGS_KEPT = 5000

    def __init__(self, start_date: dt.date, end_date: dt.date, weights: Weights | None = None,
                 drafts: bool = False):
        entries = published_entries(start_date, end_date, drafts=drafts).select_related("batch").order_by(
            "batch__date", "-featured", "position", "pk"
        )
        self.papers: dict[int, Paper] = {}
        self.entries: dict[int, BatchEntry] = {}  # each paper's first entry, for the top papers
        docs = []
        for order, entry in enumerate(entries):
            paper = entry.paper
            if paper.pk in self.papers:
                continue
            self.papers[paper.pk] = paper
            self.entries[paper.pk] = entry
            docs.append(doc_of(paper, order=order, featured=entry.featured))
        self._top: list[tuple[int, float, int]] | None = None
        self.index = PaperIndex(docs, weights or Weights.from_settings(), stats=current_stats())
        # Rankings are reused across chunks for repeated interests, but bounded: a worker's
        # memory must not grow with the number of subscribers.
        self._rankings: OrderedDict[Interests, Ranking] = OrderedDict()

    def add_external(self, papers) -> None:
        """Liked and disliked papers from earlier days, so that similarity can use them."""
        self.index.add_external(doc_of(p) for p in papers if p.pk not in self.papers)

    def rank_many(self, interests_list) -> dict:
        todo = [i for i in dict.fromkeys(interests_list) if i not in self._rankings]
        if todo:
            rankings = match_many(todo, self.index, workers=1)
            for interests in todo:
                self._rankings[interests] = rankings[interests]
        out = {}
        for i in interests_list:
            out[i] = self._rankings[i]
            self._rankings.move_to_end(i)
        while len(self._rankings) > max(self.RANKINGS_KEPT, len(out)):
            self._rankings.popitem(last=False)
        return out

    def rank(self, interests: Interests) -> Ranking:
        return self.rank_many([interests])[interests]

    def select(self, interests: Interests, cap: int, already: set[int] = frozenset()) -> tuple[list[Match], int]:
        """The `cap` best papers not sent before, with why, and how many more matched."""
        if wants_top_papers(interests):
            return self.top(interests, cap, already)
        return self._matched(interests, cap, already)

    def _matched(self, interests: Interests, cap: int, already) -> tuple[list[Match], int]:
        ranking = self.rank(interests)
        fresh = [(p, s) for p, s in ranking.pairs() if self.index.papers[p].id not in already]
        chosen = [
            Match(self.index.papers[p].id, s, self.index.papers[p].order, explain(interests, self.index, p))
            for p, s in fresh[:cap]
        ]
        return chosen, max(0, len(fresh) - cap)

    def top(self, interests: Interests, cap: int, already: set[int] = frozenset()) -> tuple[list[Match], int]:
        """For a subscriber who chose no interest: first the papers close to what they liked
        (if they liked any, or have a learned model), then the community's top papers of the
        period in trending order (digest.trending: votes and comments with time decay; the
        source's upvotes, then the curators' order, when equal), `cap` in all."""
        personal = self._matched(interests, cap, already)[0] if interests.liked or interests.learned else []
        if self._top is None:  # once per period: the same order for every such subscriber
            order = {doc.id: doc.order for doc in self.index.papers}
            self._top = [(t.paper.pk, round(t.score, 6), order.get(t.paper.pk, 0))
                         for t in trending.rank(self.entries.values())]
        taken = already | {m.paper_id for m in personal}
        fresh = [item for item in self._top if item[0] not in taken]
        room = cap - len(personal)
        chosen = personal + [Match(pk, score, order, (TOP_PAPERS,)) for pk, score, order in fresh[:room]]
        return chosen, max(0, len(fresh) - room)

    def match(self, interests: Interests) -> list[Match]:
        """Every match, with why (for the preview and the personal edition page)."""
        return self.select(interests, cap=self.index.size)[0]
