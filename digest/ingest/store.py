"""Store parsed records: one Paper per arXiv id (or normalised title), each paper entered
once into the Batch of its announce date. Bulk queries, one transaction per call, so a
failure half way stores nothing."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from paperpost.bulk import insert_rows

from ..models import Batch, BatchEntry, Paper
from ..pagecache import bump_content_version
from .records import PaperRecord, ParseResult, normalize_title

log = logging.getLogger(__name__)

# Fields a later record may fill in or refresh. Text fields are refreshed only by a record
# of the same or a newer version; counts (upvotes, stars) always take the latest figure.
TEXT_FIELDS = ("title", "abstract")
ENRICH_FIELDS = (
    "authors", "affiliations", "categories", "primary_category", "abs_url", "pdf_url",
    "code_url", "project_url", "thumbnail", "doi", "journal_ref", "comment", "rights", "published",
    "submitter", "ai_keywords", "ai_summary",
)
COUNT_FIELDS = ("upvotes", "stars", "num_comments")
REPLACE_TYPES = {"replace", "replace-cross"}
CHUNK = 500


@dataclass
class StoreSummary:
    total: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    entries_added: int = 0
    batches: list[dt.date] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.total} papers: {self.new} new, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.errors} errors"
        )

    def add(self, other: StoreSummary) -> None:
        for name in ("total", "new", "updated", "unchanged", "errors", "entries_added"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.batches = sorted(set(self.batches) | set(other.batches))
        self.messages.extend(other.messages)

    def as_dict(self) -> dict:
        return {
            "total": self.total, "new": self.new, "updated": self.updated,
            "unchanged": self.unchanged, "errors": self.errors,
            "entries_added": self.entries_added,
            "batches": [d.isoformat() for d in self.batches],
        }


class _DryRun(Exception):
    pass


def _merge(paper: Paper, rec: PaperRecord) -> set[str]:
    """Copy what `rec` knows better into `paper`; return the names of changed fields."""
    changed: set[str] = set()

    def put(name: str, value) -> None:
        if getattr(paper, name) != value:
            setattr(paper, name, value)
            changed.add(name)

    if rec.arxiv_id and not paper.arxiv_id:
        put("arxiv_id", rec.arxiv_id)
        put("key", rec.key)
    same_or_newer = rec.version is None or paper.version is None or rec.version >= paper.version
    if rec.version is not None and (paper.version is None or rec.version > paper.version):
        put("version", rec.version)
    if same_or_newer or not paper.abstract:
        for name in TEXT_FIELDS:
            value = getattr(rec, name)
            if value:
                put(name, value)
        if "title" in changed:
            put("title_key", normalize_title(paper.title)[:300])
    for name in ENRICH_FIELDS:
        value = getattr(rec, name)
        if value not in (None, "", [], {}):
            # An older version never overwrites what a newer one said.
            if same_or_newer or getattr(paper, name) in (None, "", [], {}):
                put(name, value)
    for name in COUNT_FIELDS:
        value = getattr(rec, name)
        if value is not None:
            put(name, value)
    return changed


def _new_paper(rec: PaperRecord) -> Paper:
    paper = Paper(key=rec.key, title_key=normalize_title(rec.title)[:300])
    _merge(paper, rec)
    return paper


def _dedupe(records: Iterable[PaperRecord]) -> list[PaperRecord]:
    """One record per key; a cross-list or a repeated item keeps the first occurrence."""
    seen: dict[str, PaperRecord] = {}
    for rec in records:
        if rec.key not in seen:
            seen[rec.key] = rec
    return list(seen.values())


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def store(
    result: ParseResult,
    *,
    source=None,
    date: dt.date | None = None,
    dry_run: bool = False,
    progress=None,
    enter_batches: bool = True,
) -> StoreSummary:
    """Upsert the records of one parsed input. `date` overrides every announce date.
    `progress(n)` is called as records are processed (for a progress bar). Without
    `enter_batches` the papers are stored but join no batch (a reader's submission joins
    one only when a curator approves it)."""
    summary = StoreSummary(errors=len(result.errors), messages=list(result.warnings) + list(result.errors))
    records = _dedupe(result.records)
    summary.total = len(records) + len(result.errors)
    if not records:
        return summary
    today = timezone.localdate()
    add_replacements = settings.INGEST_REPLACEMENTS_JOIN_BATCH
    try:
        with transaction.atomic():
            _store(records, result, summary, source, date, today, add_replacements, progress, enter_batches)
            if dry_run:
                raise _DryRun
    except _DryRun:
        return summary
    if summary.new or summary.updated or summary.entries_added:
        bump_content_version()  # bulk writes send no signals
    return summary


def _store(records, result, summary, source, date, today, add_replacements, progress, enter_batches) -> None:
    # 1. Find the papers already known, by key and (for a first id) by normalised title.
    keys = [r.key for r in records]
    by_key: dict[str, Paper] = {}
    for chunk in _chunks(keys):
        for paper in Paper.objects.filter(key__in=chunk):
            by_key[paper.key] = paper
    unmatched_titles = {
        normalize_title(r.title)[:300]: r for r in records if r.key not in by_key
    }
    by_title: dict[str, Paper] = {}
    title_keys = list(unmatched_titles)
    for chunk in _chunks(title_keys):
        for paper in Paper.objects.filter(title_key__in=chunk).order_by("id"):
            by_title.setdefault(paper.title_key, paper)

    # 2. Merge or create.
    to_create: list[Paper] = []
    to_update: dict[int, Paper] = {}
    changed_fields: set[str] = set()
    paper_for: dict[str, Paper] = {}
    for rec in records:
        paper = by_key.get(rec.key)
        if paper is None:
            candidate = by_title.get(normalize_title(rec.title)[:300])
            # Join by title only when the ids do not disagree.
            if candidate is not None and (not rec.arxiv_id or not candidate.arxiv_id):
                paper = candidate
        if paper is None:
            paper = _new_paper(rec)
            to_create.append(paper)
            summary.new += 1
            if not rec.arxiv_id:
                by_title[paper.title_key] = paper
        else:
            changed = _merge(paper, rec)
            if changed:
                if paper.pk is not None:
                    to_update[paper.pk] = paper
                    changed_fields |= changed
                summary.updated += 1
            else:
                summary.unchanged += 1
        paper_for[rec.key] = paper
        if progress is not None and len(paper_for) % CHUNK == 0:
            progress(CHUNK)
    if progress is not None:
        progress(len(paper_for) % CHUNK)

    now = timezone.now()
    for paper in to_create:
        paper.created_at = paper.updated_at = now
    insert_rows(Paper, to_create, batch_size=CHUNK)
    new_keys = [p.key for p in to_create]
    ids: dict[str, int] = {}
    for chunk in _chunks(new_keys):
        ids.update(Paper.objects.filter(key__in=chunk).values_list("key", "id"))
    for paper in to_create:
        paper.pk = ids[paper.key]
    if to_update:
        for paper in to_update.values():
            paper.updated_at = now
        Paper.objects.bulk_update(list(to_update.values()), sorted(changed_fields | {"updated_at"}), batch_size=CHUNK)

    # 3. Enter each paper into the batch of its announce date, once, in input order.
    if not enter_batches:
        return
    per_day: dict[dt.date, list[tuple[PaperRecord, Paper]]] = {}
    for rec in records:
        if rec.announce_type in REPLACE_TYPES and not add_replacements:
            continue
        day = date or rec.announce_date or result.date or today
        per_day.setdefault(day, []).append((rec, paper_for[rec.key]))
    for day, items in sorted(per_day.items()):
        batch, _ = Batch.objects.get_or_create(date=day)
        present = set(
            BatchEntry.objects.filter(batch=batch, paper_id__in=[p.pk for _, p in items]).values_list(
                "paper_id", flat=True
            )
        )
        start = (batch.entries.aggregate(m=Max("position"))["m"] or 0) + 1
        entries = []
        for rec, paper in items:
            if paper.pk in present:
                continue
            present.add(paper.pk)
            entries.append(
                BatchEntry(
                    batch=batch,
                    paper=paper,
                    position=start + len(entries),
                    announce_type=rec.announce_type,
                    source=source,
                )
            )
        insert_rows(BatchEntry, entries, batch_size=CHUNK)
        summary.entries_added += len(entries)
        summary.batches.append(day)
