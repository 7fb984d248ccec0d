"""What the delivery tests with real workers share: fast sweep and retry settings for the
workers and this process, readers made in bulk, waiting for an edition to finish the way beat
would (running the sweep), and the exactly-once check against what the SMTP server saw."""

from __future__ import annotations

import time

from django.utils import timezone

from digest.models import Topic
from subscribers.delivery import sweep
from subscribers.models import Delivery, Edition, Subscriber

# For the worker processes' environment and (through the `fast` fixture) this process.
FAST = {
    "DIGEST_CHUNK_SIZE": "50",
    "DELIVERY_STUCK_SECONDS": "3",
    "DELIVERY_REQUEUE_SECONDS": "1",
    "DELIVERY_RETRY_BASE_SECONDS": "0.2",
    "DELIVERY_RETRY_MAX_SECONDS": "1",
    "EMAIL_TIMEOUT": "2",
}


def make_readers(n: int, prefix: str = "reader", start: int = 0, **fields) -> list[int]:
    """n active subscribers (prefix0000@example.org, ...) following the LLM topic, 3 papers
    each; `fields` sets more (timezone, send_hour, ...). Returns their ids."""
    topic = Topic.objects.get(slug="llm")
    rows = [Subscriber(email=f"{prefix}{i:04d}@example.org", status=Subscriber.Status.ACTIVE, max_papers=3,
                       confirmed_at=timezone.now(), **fields) for i in range(start, start + n)]
    Subscriber.objects.bulk_create(rows, batch_size=500)
    ids = list(Subscriber.objects.filter(email__in=[r.email for r in rows]).values_list("pk", flat=True))
    Subscriber.topics.through.objects.bulk_create(
        [Subscriber.topics.through(subscriber_id=pk, topic_id=topic.pk) for pk in ids], batch_size=500,
    )
    return ids


def run_until_done(edition: Edition, timeout: float, sweep_every: float = 1.0, due_by=None):
    """Wait for every row (due by `due_by`, if given) to have an outcome, running the sweep
    as beat would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = edition.status_counts(due_by)
        if counts[Delivery.Status.PENDING] == 0 and counts[Delivery.Status.SENDING] == 0:
            return counts
        sweep()
        time.sleep(sweep_every)
    raise AssertionError(f"not done after {timeout}s: {edition.status_counts(due_by)}")


def assert_exactly_once(smtp_server, allow_unknown: int = 0) -> list[str]:
    """Every address the SMTP server saw, with or without a delivery row, got what its row
    says: one copy if sent, at most one if unknown, none otherwise. Returns the unknown."""
    copies = smtp_server.handler.copies()
    rows = dict(Delivery.objects.values_list("subscriber__email", "status"))
    strangers = {email: n for email, n in copies.items() if email not in rows}
    assert not strangers, f"mail to addresses that have no delivery row: {strangers}"
    unknown = [email for email, status in rows.items() if status == Delivery.Status.UNKNOWN]
    for email, status in rows.items():
        if status == Delivery.Status.SENT:
            assert copies.get(email) == 1, (email, copies.get(email))
        elif status == Delivery.Status.UNKNOWN:
            assert copies.get(email, 0) <= 1, (email, copies.get(email))
        else:
            assert copies.get(email, 0) == 0, (email, status, copies.get(email))
    assert len(unknown) <= allow_unknown, unknown
    ids = [m.message["Message-ID"] for m in smtp_server.handler.messages]
    assert len(ids) == len(set(ids))
    return unknown
