"""Thin Celery tasks: they take ids and call the functions in subscribers.delivery."""

from __future__ import annotations

import time

from celery import shared_task

from . import delivery


@shared_task(acks_late=True, ignore_result=True)
def send_chunk(edition_id: int, first_id: int, last_id: int) -> dict:
    result = delivery.send_chunk(edition_id, first_id, last_id)
    if result.retry:
        # Rows that got a 4xx or a timeout wait for their backoff; queue the range again
        # for when the first of them is due (short countdowns only: see backoff()).
        delay = delivery.next_retry_delay(edition_id, first_id, last_id)
        if delay is not None:
            if send_chunk.app.conf.task_always_eager:
                # Embedded mode has no broker to hold a delayed task: wait here instead.
                time.sleep(delay)
            send_chunk.apply_async((edition_id, first_id, last_id), countdown=delay)
    return {"claimed": result.claimed, "sent": result.sent, "skipped": result.skipped,
            "failed": result.failed, "retry": result.retry, "unknown": result.unknown}


@shared_task(ignore_result=True)
def sweep() -> dict:
    return delivery.sweep()


@shared_task(ignore_result=True)
def prune_ledger() -> int:
    return delivery.prune_ledger()


@shared_task(ignore_result=True)
def resume_edition(edition_id: int) -> int:
    return delivery.queue_pending(edition_id)
