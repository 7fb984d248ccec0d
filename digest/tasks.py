"""Thin Celery tasks for ingest: they take ids and call digest.ingest.pipeline."""

from __future__ import annotations

import logging

from celery import shared_task

from .corpus import fit as fit_ranking
from .ingest.pipeline import IngestError, ingest_source
from .models import Source

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def ingest_source_task(source_id: int) -> dict:
    source = Source.objects.filter(pk=source_id, enabled=True).first()
    if source is None:
        return {}
    try:
        return ingest_source(source).as_dict()
    except IngestError:
        # Already written to Source.last_error and logged; a retry waits for the next beat.
        return {"error": Source.objects.get(pk=source_id).last_error}


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
