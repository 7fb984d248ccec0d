"""Papers a subscriber likes, given as arXiv ids or links, a pasted list, or a BibTeX or RIS
file (digest.ingest.references reads them). Papers Paperpost has are liked at once; papers it
does not have are fetched from the arXiv API by a task (digest.ingest.arxiv_lookup, through
the ingest guards) and liked when they arrive; a LikeRequest row records the outcome, which
the preference centre shows. Entries without an arXiv id are looked up by title."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from digest.ingest.arxiv_lookup import ArxivUnavailable, fetch_papers, known_papers
from digest.ingest.records import normalize_title
from digest.ingest.references import Reference, ReferenceError, parse_references
from digest.models import Paper
from paperpost.celery import app

from . import learning
from .models import LikeRequest, Reaction, Subscriber

log = logging.getLogger(__name__)

# Queued by name: subscribers.tasks imports this module.
FETCH_TASK = "subscribers.tasks.fetch_liked"
MAX_TEXT_CHARS = 200_000  # a pasted list or an uploaded file (a BibTeX export of ~100 entries)
MAX_LIKED = 200  # liked papers one subscriber keeps
MAX_PENDING_REQUESTS = 3  # arXiv look-ups one subscriber may have waiting


class LikesRefused(ValueError):
    """The input cannot be taken; the message says why, for the person."""


@dataclass
class LikeOutcome:
    liked: list[Paper] = field(default_factory=list)  # liked now
    already: int = 0  # liked before
    fetching: list[str] = field(default_factory=list)  # arXiv ids queued for the arXiv API
    unmatched: list[str] = field(default_factory=list)  # entries with no arXiv id and no stored title
    request: LikeRequest | None = None

    def message(self) -> str:
        parts = []
        if self.liked:
            parts.append(f"{len(self.liked)} paper{'s' if len(self.liked) != 1 else ''} added to the papers you like")
        if self.already:
            parts.append(f"{self.already} already there")
        if self.fetching:
            parts.append(f"{len(self.fetching)} being fetched from arXiv (see below)")
        if self.unmatched:
            shown = "; ".join(self.unmatched[:3]) + (" …" if len(self.unmatched) > 3 else "")
            parts.append(f"{len(self.unmatched)} not found (no arXiv id, and no paper here with that title: {shown})")
        return ("; ".join(parts) or "Nothing to add") + "."


def read_text(data: bytes) -> str:
    """An uploaded file's text, bounded."""
    if len(data) > MAX_TEXT_CHARS * 2:
        raise LikesRefused(f"That file is {len(data) // 1024} KB; at most {MAX_TEXT_CHARS * 2 // 1024} KB, please.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def add_liked(subscriber: Subscriber, text: str, kind: str = Reaction.Kind.LIKED) -> LikeOutcome:
    """Like every paper `text` names (ids, links, a BibTeX or RIS export)."""
    if len(text) > MAX_TEXT_CHARS:
        raise LikesRefused(f"That is {len(text):,} characters; at most {MAX_TEXT_CHARS:,}, please.")
    try:
        refs = parse_references(text)
    except ReferenceError as exc:
        raise LikesRefused(str(exc)) from None
    if not refs:
        raise LikesRefused("Give arXiv ids or links (one per line, or separated by commas), or a BibTeX or RIS file.")
    have = subscriber.liked_papers.count()
    if have + len(refs) > MAX_LIKED:
        raise LikesRefused(f"You like {have} papers and this adds up to {len(refs)}; at most {MAX_LIKED} in all. "
                           "Remove some first.")
    outcome = LikeOutcome()
    by_id = known_papers([r.arxiv_id for r in refs if r.arxiv_id])
    by_title = _by_title([r for r in refs if not r.arxiv_id])
    liked_before = set(subscriber.liked_papers.values_list("pk", flat=True))
    for ref in refs:
        paper = by_id.get(ref.arxiv_id) if ref.arxiv_id else by_title.get(normalize_title(ref.title)[:300])
        if paper is not None:
            if paper.pk in liked_before:
                outcome.already += 1
            else:
                learning.record(subscriber, paper, kind)
                liked_before.add(paper.pk)
                outcome.liked.append(paper)
        elif ref.arxiv_id:
            outcome.fetching.append(ref.arxiv_id)
        else:
            outcome.unmatched.append(ref.title[:80] or ref.given)
    if outcome.fetching:
        outcome.request = request_fetch(subscriber, outcome.fetching)
    return outcome


def _by_title(refs: list[Reference]) -> dict[str, Paper]:
    # Papers without an arXiv id are keyed by their normalised title (digest.ingest.store).
    keys = {normalize_title(r.title)[:300] for r in refs if r.title}
    return {p.title_key: p for p in Paper.objects.filter(title_key__in=keys)} if keys else {}


def request_fetch(subscriber: Subscriber, arxiv_ids: list[str]) -> LikeRequest:
    waiting = LikeRequest.objects.filter(subscriber=subscriber, status=LikeRequest.Status.PENDING).count()
    if waiting >= MAX_PENDING_REQUESTS:
        raise LikesRefused("Papers you asked for earlier are still being fetched from arXiv; try again in a minute.")
    request = LikeRequest.objects.create(subscriber=subscriber, arxiv_ids=arxiv_ids)
    task = app.tasks[FETCH_TASK]
    transaction.on_commit(lambda: task.delay(request.pk))
    return request


def fetch_requested(request_id: int) -> LikeRequest | None:
    """The task's work: fetch the request's papers from arXiv, store and like them."""
    request = LikeRequest.objects.filter(pk=request_id, status=LikeRequest.Status.PENDING).select_related(
        "subscriber").first()
    if request is None:
        return None
    known = known_papers(request.arxiv_ids)
    todo = [i for i in request.arxiv_ids if i not in known]
    try:
        fetched = fetch_papers(todo) if todo else None
    except ArxivUnavailable as exc:
        LikeRequest.objects.filter(pk=request.pk).update(
            status=LikeRequest.Status.FAILED, finished_at=timezone.now(),
            error=f"arXiv could not be asked just now ({str(exc)[:200]}); try again later")
        request.refresh_from_db()
        return request
    found = {**known, **(fetched.found if fetched else {})}
    for arxiv_id in request.arxiv_ids:
        if arxiv_id in found:
            learning.record(request.subscriber, found[arxiv_id], Reaction.Kind.LIKED)
    LikeRequest.objects.filter(pk=request.pk).update(
        status=LikeRequest.Status.DONE, finished_at=timezone.now(),
        added=[i for i in request.arxiv_ids if i in found],
        missing=[i for i in request.arxiv_ids if i not in found])
    request.refresh_from_db()
    log.info("like request %s: %s added, %s missing", request.pk, len(request.added), len(request.missing))
    return request
