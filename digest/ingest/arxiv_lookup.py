"""Papers asked for by arXiv id that Paperpost does not have yet: one arXiv API query
(ARXIV_API_URL, id_list=...) through the ingest guards (digest.ingest.fetch: public
addresses only, timeout, size cap), parsed by the arXiv API Atom parser and stored in no
batch. Used for a subscriber's liked papers (subscribers.likes)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

from ..models import Paper
from .fetch import FetchError, fetch
from .formats import parse
from .records import ParseError, ParseResult
from .store import store

log = logging.getLogger(__name__)

# One query asks for at most this many ids (the arXiv API's own guidance is small pages).
PER_QUERY = 50


class ArxivUnavailable(Exception):
    """arXiv could not be asked (network, guard, an answer that is not an Atom feed)."""


@dataclass
class Lookup:
    found: dict[str, Paper] = field(default_factory=dict)  # arXiv id -> stored paper
    missing: list[str] = field(default_factory=list)  # ids arXiv does not know


def known_papers(arxiv_ids: list[str]) -> dict[str, Paper]:
    """The stored papers among `arxiv_ids`, by id (case-insensitively for old-style ids)."""
    wanted = {i.lower(): i for i in arxiv_ids}
    rows = Paper.objects.filter(arxiv_id__in=list(wanted.values()) + list(wanted)).only("pk", "arxiv_id", "title")
    return {wanted[p.arxiv_id.lower()]: p for p in rows if p.arxiv_id.lower() in wanted}


def fetch_papers(arxiv_ids: list[str]) -> Lookup:
    """Fetch and store the papers of `arxiv_ids` from the arXiv API; ids it does not
    return are `missing`. Raises ArxivUnavailable when arXiv cannot be asked."""
    outcome = Lookup()
    for start in range(0, len(arxiv_ids), PER_QUERY):
        ids = arxiv_ids[start:start + PER_QUERY]
        query = urlencode({"id_list": ",".join(ids), "max_results": len(ids)})
        url = f"{settings.ARXIV_API_URL}?{query}"
        try:
            fetched = fetch(url)
            result = parse(fetched.body, fmt="arxiv_api", today=timezone.localdate(), base_url=fetched.url,
                           status=fetched.status)
        except (FetchError, ParseError) as exc:
            log.warning("arXiv lookup of %s ids: %s", len(ids), exc)
            raise ArxivUnavailable(str(exc)) from None
        wanted = {i.lower(): i for i in ids}
        records = [r for r in result.records if r.arxiv_id.lower() in wanted]
        if records:
            store(ParseResult(format=result.format, records=records), enter_batches=False)
        stored = {p.key: p for p in Paper.objects.filter(key__in=[r.key for r in records])}
        for record in records:
            if record.key in stored:
                outcome.found[wanted[record.arxiv_id.lower()]] = stored[record.key]
        outcome.missing += [i for i in ids if i not in outcome.found]
    return outcome
