"""Thin Celery tasks: they take ids (or a form's plain data) and call subscribers.sending,
subscribers.delivery, subscribers.ledger and subscribers.lifecycle. Routed to the `mail`
queue (CELERY_TASK_ROUTES)."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import time

from celery import shared_task
from django.utils import timezone

from digest.models import Batch, Topic

from . import delivery, learning, ledger, lifecycle, likes, sending
from .models import Edition, Frequency

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def send_chunk(edition_id: int, first_id: int, last_id: int, due_by: str | None = None) -> dict:
    """Send the pending rows of an id range that are due by `due_by` (ISO 8601; the instant
    they were queued for, so that rows of a later hour in the same range wait for theirs)."""
    result = sending.send_chunk(edition_id, first_id, last_id, due_by=parse_instant(due_by))
    if result.claimed:
        # Rows that got a 4xx, a timeout or a rate limit wait for their backoff (each its own,
        # with jitter); queue the range again for when the first of them is due, as long as
        # a run sends something (short countdowns only: see outcomes.backoff()).
        delay = sending.next_retry_delay(edition_id, first_id, last_id, parse_instant(due_by))
        if delay is not None:
            if send_chunk.app.conf.task_always_eager:
                # Embedded mode has no broker to hold a delayed task: wait here instead.
                time.sleep(delay)
            send_chunk.apply_async((edition_id, first_id, last_id, due_by), countdown=delay)
    return result.as_dict()


@shared_task(ignore_result=True, autoretry_for=(smtplib.SMTPException, OSError), max_retries=5,
             retry_backoff=30, retry_backoff_max=600)
def request_subscription(email: str, topic_ids: list[int], keywords: str, frequency: str, ip: str | None,
                         about: str = "", timezone: str = "") -> str:
    """A post of the subscribe form (lifecycle.queue_subscription); retried if the mail could not go out."""
    topics = list(Topic.objects.filter(pk__in=topic_ids))
    return lifecycle.request_subscription(lifecycle.SubscribeRequest(email, topics, keywords, frequency, ip, about,
                                                                     timezone=timezone))


def parse_instant(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@shared_task(ignore_result=True)
def send_due() -> dict:
    return delivery.send_due()


@shared_task(ignore_result=True)
def sweep() -> dict:
    return delivery.sweep()


@shared_task(ignore_result=True)
def prune_ledger() -> int:
    return ledger.prune()


@shared_task(ignore_result=True)
def resume_edition(edition_id: int) -> int:
    return delivery.requeue(edition_id)


@shared_task(ignore_result=True)
def send_scheduled() -> int:
    """Publish and send the batches whose send time has come (each once)."""
    sent = 0
    for batch in Batch.objects.filter(send_at__lte=timezone.now()).order_by("date"):
        if Edition.objects.filter(frequency=Frequency.DAILY, end_date=batch.date).exists():
            continue
        if not batch.entries.filter(hidden=False).exists():
            continue
        batch.publish()
        delivery.build_edition(batch, Frequency.DAILY)
        sent += 1
        log.info("scheduled send of the batch of %s started", batch.date)
    return sent


@shared_task(ignore_result=True)
def retrain(subscriber_id: int, settle_seconds: float = 0) -> bool:
    """Feedback arrived: retrain the subscriber's model once their labels stop changing."""
    return learning.retrain_if_settled(subscriber_id, settle_seconds)


@shared_task(ignore_result=True)
def retrain_due() -> int:
    return learning.retrain_due()


@shared_task(ignore_result=True)
def fetch_liked(request_id: int) -> None:
    likes.fetch_requested(request_id)
