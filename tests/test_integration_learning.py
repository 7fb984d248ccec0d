"""The learning tasks in a real Celery worker process on a real Redis broker: liked papers
Paperpost does not have are fetched from the arXiv API (a local server answering with a
recorded response, reached through the ingest guards) and liked; feedback retrains the
subscriber's model in the worker, once the burst of feedback settles."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from digest.ingest.formats import parse
from digest.ingest.records import ParseResult
from digest.ingest.store import store
from digest.models import Batch, Paper
from subscribers import learning, lifecycle, likes
from subscribers.models import Learning, LikeRequest, Subscriber
from tests.conftest import data_file
from tests.services import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FEED = "arxiv_rss_new/aioarxiv_rss_20archives_2024-11-28_full1504items.xml"
LIKED = ["2411.17784", "2411.17957", "2411.18109", "2411.18263", "2411.18350"]
NOT_FOR_ME = ["2411.18223", "2411.18336", "2411.18374"]


def test_a_worker_fetches_liked_papers_and_retrains_after_the_feedback_settles(workers, arxiv_api, settings):
    records = parse(data_file(FEED).read_bytes()).records[:700]
    day = timezone.localdate() - dt.timedelta(days=1)
    store(ParseResult(format="arxiv_rss", records=records), date=day)
    Batch.objects.get(date=day).publish()
    call_command("add_subscriber", "reader@example.org", "--keywords", "diffusion")
    subscriber = Subscriber.objects.get(email="reader@example.org")
    settings.LEARNING_RETRAIN_DELAY_SECONDS = 2
    workers.start(concurrency=1, extra_env={
        "ARXIV_API_URL": settings.ARXIV_API_URL, "INGEST_ALLOWED_HOSTS": "127.0.0.1",
        "LEARNING_RETRAIN_DELAY_SECONDS": "2",
    })

    outcome = likes.add_liked(subscriber, ", ".join(LIKED[:4] + ["1605.08386"]))
    assert len(outcome.liked) == 4 and outcome.fetching == ["1605.08386"]
    wait_for(lambda: LikeRequest.objects.get(subscriber=subscriber).status != "pending", 60, "the fetch task")
    assert LikeRequest.objects.get(subscriber=subscriber).added == ["1605.08386"]
    assert subscriber.liked_papers.filter(arxiv_id="1605.08386").exists()

    papers = {p.arxiv_id: p for p in Paper.objects.filter(arxiv_id__in=LIKED + NOT_FOR_ME)}
    lifecycle.apply_feedback(subscriber, "more", papers[LIKED[4]])
    for arxiv_id in NOT_FOR_ME:
        lifecycle.apply_feedback(subscriber, "not", papers[arxiv_id])
    # One retrain for the burst, in the worker, a couple of seconds after the last feedback.
    wait_for(lambda: not Learning.objects.get(subscriber=subscriber).due, 90, "the retrain task")
    row = Learning.objects.get(subscriber=subscriber)
    assert row.labels == 9 and row.trained_at >= row.changed_at
    assert row.engine_model().usable and learning.learned(subscriber).in_use
