"""Thin Celery tasks for ingest: they take ids and call digest.ingest.pipeline."""

from __future__ import annotations

import logging

from celery import shared_task

from .corpus import dense_encoder
from .corpus import fit as fit_ranking
from .ingest.pipeline import IngestError, ingest_source
from .models import Source
from .vectors import embed_recent

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def ingest_source_task(source_id: int) -> dict:
    source = Source.objects.filter(pk=source_id, enabled=True).first()
    if source is None:
        return {}
    try:
        result = ingest_source(source).as_dict()
    except IngestError:
        # Already written to Source.last_error and logged; a retry waits for the next beat.
        return {"error": Source.objects.get(pk=source_id).last_error}
    if dense_encoder() is not None:
        embed_recent_papers.delay()
    return result


@shared_task(ignore_result=True)
def embed_recent_papers(days: int = 2) -> int:
    """Keep the dense encoder's vectors of the papers stored in the last `days` days that
    have none yet (after each ingest, when MATCH_EMBEDDING_MODEL is set)."""
    encoder = dense_encoder()
    return embed_recent(encoder, days) if encoder is not None else 0


@shared_task(ignore_result=True)
def ingest_due_sources() -> int:
    due = [s.pk for s in Source.objects.filter(enabled=True) if s.is_due()]
    for pk in due:
        ingest_source_task.delay(pk)
    return len(due)


@shared_task(ignore_result=True)
def refit_ranking() -> int:
    """Refit ranking's corpus statistics on the rolling window (beat, daily by default)."""
    return fit_ranking().pk
