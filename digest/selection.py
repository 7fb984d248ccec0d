"""Which published papers a page, a feed or an email draws from, and in which order.

published_entries() is the one definition of "the published entries of a span of days";
PeriodContent indexes them for matching (digest.matching) so that a digest, a private feed
or a preview can pick each subscriber's papers. The other functions are the selections the
public pages and feeds show: a day, week or month (Period) in the curator's order or by
votes, the topics each paper matches, a topic's matches, similar papers.
Results that only change with the content are cached under the content version
(digest.pagecache)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Iterable

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

# Papers per page of a day, week or month: keeps a page near 100 KB and a phone's scroll short.
PER_PAGE = 30
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


class Period:
    """A span of published days a page lists: one day, an ISO week or a calendar month."""

    KINDS = ("day", "week", "month")

    def __init__(self, kind: str, start: dt.date, end: dt.date):
        self.kind, self.start, self.end = kind, start, end

    @classmethod
    def of(cls, kind: str, day: dt.date) -> Period:
        if kind == "week":
            start = day - dt.timedelta(days=day.weekday())
            return cls(kind, start, start + dt.timedelta(days=6))
        if kind == "month":
            start = day.replace(day=1)
            return cls(kind, start, (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1))
        return cls("day", day, day)

    @property
    def key(self) -> str:
        """As written in URLs (and the JSON API): 2026-07-31, 2026-W31, 2026-07."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        return self.start.isoformat()

    def __repr__(self) -> str:
        return f"Period({self.kind} {self.key})"


SORTS = ("curated", "votes")


def period_entries(period: Period, sort: str = "curated") -> list[BatchEntry]:
    """The visible entries of the published days of `period`, each paper once (at its newest
    day). "curated": newest day first, each day in the curator's order (featured first);
    "votes": by the community's votes, then the source's upvotes (papers without a count
    after the counted ones), then as curated."""
    entries = published_entries(period.start, period.end).select_related("batch")
    curated = ("-batch__date", "-featured", "position", "pk")
    if sort == "votes":
        # nulls_last: PostgreSQL puts NULL first in a descending order, SQLite last.
        entries = entries.order_by("-paper__community_votes", F("paper__upvotes").desc(nulls_last=True), *curated)
    else:
        entries = entries.order_by(*curated)
    seen, out = set(), []
    for entry in entries:
        if entry.paper_id not in seen:
            seen.add(entry.paper_id)
            out.append(entry)
    return out


def neighbours(period: Period) -> tuple[dt.date | None, dt.date | None]:
    """The newest published day before the period and the oldest after it."""
    published = Batch.objects.published()
    before = published.filter(date__lt=period.start).order_by("-date").values_list("date", flat=True).first()
    after = published.filter(date__gt=period.end).order_by("date").values_list("date", flat=True).first()
    return before, after


def period_page(period: Period, page_number: int, sort: str = "curated") -> dict:
    """One page of a period's papers, with the topics each matches and the published days
    before and after (for the day / week / month switch and the pager)."""
    page = Paginator(period_entries(period, sort), PER_PAGE).get_page(page_number)
    entries = list(page.object_list)
    before, after = neighbours(period)
    days = [period.start] if period.kind == "day" else list(
        Batch.objects.published().filter(date__range=(period.start, period.end)).order_by("-date")
        .values_list("date", flat=True))
    return {
        "period": period,
        "sort": sort,
        "page": page,
        "entries": entries,
        "tags": topic_tags([e.paper for e in entries]),
        "rank_offset": page.start_index() - 1 if entries else 0,
        "previous": before,
        "next": after,
        "days": days,
    }


def published_day_near(day: dt.date) -> dt.date | None:
    """The published day on or before `day`, else the first one after it (the date picker)."""
    published = Batch.objects.published()
    found = published.filter(date__lte=day).order_by("-date").values_list("date", flat=True).first()
    return found or published.filter(date__gt=day).order_by("date").values_list("date", flat=True).first()


def topic_tags(papers: Iterable[Paper], topics: Iterable[Topic] | None = None) -> dict[int, list[Topic]]:
    """The active topics each paper matches, in the topics' order: {paper id: [Topic, ...]}.
    One sparse product for every topic at once (digest.matching.match_many)."""
    papers = list(papers)
    topics = list(Topic.objects.filter(active=True) if topics is None else topics)
    if not papers or not topics:
        return {}
    # The same index as a topic's page (digest statistics included), so tags and pages agree.
    index = PaperIndex([doc_of(p, order=i) for i, p in enumerate(papers)], Weights.from_settings(),
                       stats=current_stats())
    wanted = [Interests.build(topics=[(t.name, t.query)]) for t in topics]
    rankings = match_many(wanted, index, workers=1)
    tags: dict[int, list[Topic]] = {}
    for topic, interests in zip(topics, wanted):
        for position, _ in rankings[interests].pairs():
            tags.setdefault(index.papers[position].id, []).append(topic)
    return tags


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


def topic_counts(days: int = 30) -> dict[int, int]:
    """{topic id: papers it matches among those published in the last `days` days up to the
    newest published day}; computed once per content version (a topic's edit bumps it)."""
    key = f"topic-counts:{days}:{content_version()}"
    counts = cache.get(key)
    if counts is None:
        latest = Batch.objects.published().order_by("-date").only("date").first()
        counts = {}
        if latest is not None:
            ids = published_entries(latest.date - dt.timedelta(days=days - 1)).values("paper_id")
            papers = Paper.objects.filter(pk__in=ids)[:5000]
            for tags in topic_tags(papers).values():
                for topic in tags:
                    counts[topic.pk] = counts.get(topic.pk, 0) + 1
        cache.set(key, counts, settings.PAGE_CACHE_SECONDS)
    return counts


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
