"""Delivery engine rules at unit level (in-process tasks, the real SMTP test server where
the wire matters). The same rules under real workers and faults: test_delivery_faults.py."""

import datetime as dt
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from paperpost.ratelimit import TokenBucket
from subscribers.delivery import build_edition, sweep
from subscribers.sending import claim_rows
from subscribers.models import Delivery, Edition

pytestmark = pytest.mark.django_db(transaction=True)


def unsent(edition):
    """Put an edition built (and sent in-process) by build_edition back to 'not yet sent'."""
    from subscribers.models import SentPaper

    SentPaper.objects.all().delete()
    Delivery.objects.update(status="pending", claim=None, finished_at=None, sent_at=None, attempts=0)
    Edition.objects.filter(pk=edition.pk).update(status=Edition.Status.SENDING, finished_at=None)


@pytest.fixture
def smtp_settings(settings, smtp_server):
    settings.EMAIL_BACKEND = "paperpost.mail.SMTPBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", smtp_server.port, 2
    settings.DELIVERY_RETRY_BASE_SECONDS = 0.01
    settings.DELIVERY_RETRY_MAX_SECONDS = 0.05
    return smtp_server


def test_a_connection_lost_after_the_data_is_unknown_and_not_resent(batch, make_subscriber, smtp_settings):
    make_subscriber("lost@example.org", topics=["lora-peft"])
    make_subscriber("fine@example.org", topics=["lora-peft"])

    def drop_after_data(rcpt, attempt):
        if rcpt == "lost@example.org":
            raise ConnectionResetError  # aiosmtpd closes the connection: no reply to the data
        return None

    smtp_settings.handler.behaviour.on_data = drop_after_data
    call_command("send_digest")
    lost = Delivery.objects.get(subscriber__email="lost@example.org")
    assert lost.status == "unknown" and lost.attempts == 1
    assert lost.last_error.startswith("outcome unknown: the connection failed after the message data")
    assert Delivery.objects.get(subscriber__email="fine@example.org").status == "sent"
    assert smtp_settings.handler.data_attempts["lost@example.org"] == 1  # never retried


def test_a_temporary_failure_is_retried_and_attempts_are_kept(batch, make_subscriber, smtp_settings):
    make_subscriber("busy@example.org", topics=["lora-peft"])
    smtp_settings.handler.behaviour.on_rcpt = lambda rcpt, attempt: "451 4.3.0 busy" if attempt < 3 else None
    call_command("send_digest", "--wait", "--timeout", "30")
    row = Delivery.objects.get()
    assert row.status == "sent" and row.attempts == 3
    assert len(smtp_settings.handler.to("busy@example.org")) == 1


def test_a_permanent_failure_of_the_message_does_not_suppress_the_address(batch, make_subscriber, smtp_settings):
    subscriber = make_subscriber("a@example.org", topics=["lora-peft"])
    smtp_settings.handler.behaviour.on_data = lambda rcpt, attempt: "554 5.7.1 Message content rejected"
    with pytest.raises(Exception, match="1 deliveries failed"):
        call_command("send_digest", "--wait", "--timeout", "30")
    row = Delivery.objects.get()
    assert row.status == "failed" and row.attempts == 1 and "554 5.7.1" in row.last_error
    subscriber.refresh_from_db()
    assert subscriber.status == "active"  # the message was refused, not the mailbox


def test_the_sweep_recovers_a_dead_claim(batch, make_subscriber, settings):
    for i in range(4):
        make_subscriber(f"r{i}@example.org", topics=["lora-peft"])
    edition, _ = build_edition(batch)
    unsent(edition)
    claim, claimed = claim_rows(edition.pk, 0, 10**9)
    assert claimed == 4
    first = Delivery.objects.order_by("pk").first()
    Delivery.objects.filter(pk=first.pk).update(status="sent", finished_at=timezone.now() - dt.timedelta(minutes=10))
    Delivery.objects.filter(claim=claim).update(claimed_at=timezone.now() - dt.timedelta(minutes=10))
    settings.DELIVERY_STUCK_SECONDS = 60
    settings.DELIVERY_REQUEUE_SECONDS = 10**6  # only the recovery, no re-queue here
    report = sweep()
    assert report["unknown"] == 1 and report["recovered"] == 2
    statuses = list(Delivery.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["sent", "unknown", "pending", "pending"]


def test_the_sweep_leaves_a_slow_claim_alone(batch, make_subscriber, settings):
    for i in range(3):
        make_subscriber(f"r{i}@example.org", topics=["lora-peft"])
    edition, _ = build_edition(batch)
    unsent(edition)
    claim, _ = claim_rows(edition.pk, 0, 10**9)
    Delivery.objects.filter(claim=claim).update(claimed_at=timezone.now() - dt.timedelta(minutes=10))
    first = Delivery.objects.order_by("pk").first()
    Delivery.objects.filter(pk=first.pk).update(status="sent", finished_at=timezone.now())  # progress just now
    settings.DELIVERY_STUCK_SECONDS = 60
    settings.DELIVERY_REQUEUE_SECONDS = 10**6
    assert sweep()["unknown"] == 0
    assert Delivery.objects.filter(status="sending").count() == 2


def test_rows_waiting_for_a_retry_are_not_claimed_early(batch, make_subscriber):
    make_subscriber("a@example.org", topics=["lora-peft"])
    edition, _ = build_edition(batch)
    unsent(edition)
    Delivery.objects.update(next_attempt_at=timezone.now() + dt.timedelta(minutes=5))
    assert claim_rows(edition.pk, 0, 10**9)[1] == 0
    Delivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    assert claim_rows(edition.pk, 0, 10**9)[1] == 1


def test_a_paused_edition_sends_nothing_until_resumed(batch, make_subscriber, admin_client):
    make_subscriber("a@example.org", topics=["lora-peft"])
    from django.core import mail

    from subscribers.delivery import queue_pending

    edition, _ = build_edition(batch)
    mail.outbox.clear()
    unsent(edition)
    admin_client.post("/admin/subscribers/edition/", {"action": "pause", "_selected_action": [edition.pk]})
    queue_pending(edition.pk)
    assert Delivery.objects.get().status == "pending" and mail.outbox == []
    admin_client.post("/admin/subscribers/edition/", {"action": "resume", "_selected_action": [edition.pk]})
    assert Delivery.objects.get().status == "sent" and len(mail.outbox) == 1
    page = admin_client.get(f"/admin/subscribers/edition/{edition.pk}/change/").content.decode()
    assert "100%</strong> done" in page and "msgs/s" in page


def test_resend_failed_and_unknown_rows_with_the_same_message_id(batch, make_subscriber, admin_client):
    from django.core import mail

    from subscribers.emails import message_id_for

    make_subscriber("a@example.org", topics=["lora-peft"])
    edition, _ = build_edition(batch)
    row = Delivery.objects.get()
    unsent(edition)  # an unknown row has no ledger entries: nothing was confirmed sent
    Delivery.objects.update(status="unknown", last_error="outcome unknown: ...")
    mail.outbox.clear()
    admin_client.post("/admin/subscribers/edition/", {"action": "resend_failed", "_selected_action": [edition.pk]})
    row.refresh_from_db()
    assert row.status == "sent" and mail.outbox[0].extra_headers["Message-ID"] == message_id_for(edition.pk, row.pk)


def test_the_local_token_bucket_paces_sends():
    bucket = TokenBucket(rate=50, burst=1)
    start = time.monotonic()
    for _ in range(11):
        bucket.take()
    assert 0.18 <= time.monotonic() - start < 0.6


@pytest.mark.integration
def test_the_redis_token_bucket_holds_across_clients(redis_server):
    a = TokenBucket(rate=20, burst=1, redis_url=redis_server.url, key="test-bucket")
    b = TokenBucket(rate=20, burst=1, redis_url=redis_server.url, key="test-bucket")
    waits = [(a if i % 2 else b).reserve() for i in range(10)]
    # Two clients share one bucket: the tenth token is due after ~9/20 s, whoever asks.
    assert waits[0] == 0 and waits[-1] == pytest.approx(9 / 20, abs=0.05)


def test_the_sweep_does_not_queue_rows_again_while_their_tasks_wait_in_the_broker(
        batch, make_subscriber, redis_server, settings):
    """A large edition takes longer to drain than DELIVERY_REQUEUE_SECONDS: while its chunk
    tasks wait in Redis, the sweep must not queue the same rows again (the queue would grow
    by a full edition every two minutes); once nothing waits, it does."""
    import redis

    from subscribers.models import Edition
    from tests.services import point_celery_at

    redis.Redis.from_url(redis_server.url).flushall()
    for i in range(3):
        make_subscriber(f"r{i}@example.org", topics=["lora-peft"])
    point_celery_at(redis_server.url)
    try:
        edition, _ = build_edition(batch)  # queued in Redis; no worker takes it
        client = redis.Redis.from_url(redis_server.url)
        assert client.llen("mail") == 1
        Edition.objects.filter(pk=edition.pk).update(last_queued_at=timezone.now() - dt.timedelta(hours=1))
        assert sweep()["queued_editions"] == 0 and client.llen("mail") == 1
        client.delete("mail")  # the task is lost (a broker restart without persistence)
        assert sweep()["queued_editions"] == 1 and client.llen("mail") == 1
    finally:
        point_celery_at(None)


def test_a_sent_row_records_its_papers_with_their_scores_and_reasons(batch, make_subscriber):
    from digest.selection import PeriodContent
    from subscribers.outcomes import recorded

    subscriber = make_subscriber("a@example.org", topics=["lora-peft"], keywords="distillation",
                                 categories="cs.CL", max_papers=20)
    make_subscriber("top@example.org", max_papers=5)  # no interest: the community's top papers
    edition, _ = build_edition(batch)
    content = PeriodContent(edition.start_date, edition.end_date)
    matches = content.select(subscriber.interests(), 20)[0]
    row = Delivery.objects.get(subscriber=subscriber)
    assert row.status == "sent" and row.papers == recorded(matches)
    assert {r["kind"] for p in row.papers for r in p["reasons"]} >= {"topic", "keyword"}
    top = Delivery.objects.get(subscriber__email="top@example.org")
    assert top.status == "sent" and [r["kind"] for p in top.papers for r in p["reasons"]] == ["community"] * 5


def test_the_recorded_papers_text_is_what_json_makes_of_them():
    import json
    import math

    import numpy as np

    from digest.matching import Match, Reason
    from subscribers.outcomes import recorded, recorded_json

    reasons = (Reason("topic", "LoRA & PEFT", ("lora",), "LoRA", "title", "core"),
               Reason("keyword", "naïve \"quoted\" \\ word", (), "Naïve", "abstract", "passing", "…a snippet…"),
               Reason("like", "A liked title"))
    matches = [Match(1, 0.8125, 1, reasons), Match(2, 3, 2, reasons[1:]), Match(3, np.float64(0.1), 3, ()),
               Match(4, math.nan, 4, reasons[:1]), Match(5, 1e-7, 5, (reasons[2], reasons[0]))]
    assert recorded_json(matches) == json.dumps(recorded(matches))
    assert recorded_json(matches) == recorded_json(matches)  # with the reasons' text remembered
    assert recorded_json([]) == "[]"


def test_a_chunk_loads_the_same_interests_and_recipient_as_the_subscriber_has(batch, make_subscriber):
    from digest.models import Paper
    from subscribers.emails import Recipient
    from subscribers.models import Subscriber
    from subscribers.sending import related_lists

    papers = list(Paper.objects.order_by("pk")[:5])
    subscriber = make_subscriber("a@example.org", topics=["lora-peft", "llm", "unlearning"],
                                 keywords="benchmark")
    subscriber.liked_papers.set(papers[:2])
    subscriber.disliked_papers.set(papers[3:])
    make_subscriber("b@example.org")
    edition, _ = build_edition(batch)
    rows = list(Delivery.objects.filter(edition=edition).select_related("subscriber")
                .prefetch_related(*related_lists()).order_by("subscriber__email"))
    fresh = Subscriber.objects.get(pk=subscriber.pk)
    loaded = rows[0].subscriber
    assert loaded.related("liked_papers") == papers[:2] and loaded.related("disliked_papers") == papers[3:]
    assert loaded.interests() == fresh.interests() and Recipient.of(loaded) == Recipient.of(fresh)
    assert len(Recipient.of(loaded).topics) == 3
    assert rows[1].subscriber.related("topics") == [] and rows[1].subscriber.interests() == Subscriber.objects.get(
        email="b@example.org").interests()
