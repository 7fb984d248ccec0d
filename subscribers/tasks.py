"""Thin Celery tasks: they take ids and call the functions in subscribers.delivery."""

from __future__ import annotations

import random

from celery import shared_task

from . import delivery

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 900


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter, capped (no long ETA tasks on Redis)."""
    return random.uniform(0, min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1)))


@shared_task(acks_late=True, ignore_result=True)
def send_chunk(edition_id: int, first_id: int, last_id: int) -> dict:
    result = delivery.send_chunk(edition_id, first_id, last_id)
    if result.retry:
        attempt = delivery.max_attempt(edition_id, first_id, last_id)
        send_chunk.apply_async((edition_id, first_id, last_id), countdown=backoff(attempt))
    return {"claimed": result.claimed, "sent": result.sent, "skipped": result.skipped,
            "failed": result.failed, "retry": result.retry}
