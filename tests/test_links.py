"""Links in emails that must not outlive their use: address-change links work once, feedback
pages name only published papers, a private feed stops answering after unsubscribing (while
the manage page, export and delete keep working)."""

import re

import pytest
from django.core import mail
from django.test import Client

from digest.ingest.pipeline import ingest_bytes
from digest.models import Batch, Paper
from subscribers import lifecycle
from subscribers.models import Subscriber
from subscribers.tokens import make_token

pytestmark = pytest.mark.django_db


def change_link(subscriber, new_email) -> str:
    mail.outbox.clear()
    Client().post(f"/u/{make_token(subscriber, 'manage')}/email/", {"new_email": new_email})
    [message] = mail.outbox
    return re.search(r"https?://[^/\s]+(/email/[^\s\"<>]+/)", message.body).group(1)


def test_an_address_change_link_works_once(batch, make_subscriber):
    subscriber = make_subscriber("old@example.org")
    link = change_link(subscriber, "new@example.org")
    assert Client().post(link).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.email == "new@example.org"
    assert Client().get(link).status_code == 404
    assert Client().post(link).status_code == 404


def test_an_old_address_change_link_cannot_undo_a_later_change(batch, make_subscriber, settings):
    settings.CONFIRM_EMAIL_INTERVAL = 0
    subscriber = make_subscriber("a@example.org")
    first = change_link(subscriber, "b@example.org")
    Client().post(first)
    subscriber.refresh_from_db()
    second = change_link(subscriber, "c@example.org")
    Client().post(second)
    assert Client().post(first).status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.email == "c@example.org"


def test_feedback_pages_show_only_published_papers(batch, make_subscriber):
    from tests.test_ingest_sources import feed, item

    ingest_bytes(feed(item(title="A secret draft paper", guid="oai:arXiv.org:2501.09999v1")))
    draft = Paper.objects.get(title="A secret draft paper")
    assert not Batch.objects.get(date="2026-04-27").is_published
    subscriber = make_subscriber(topics=["lora-peft"])
    token = make_token(subscriber, "feedback")
    for action in ("more", "fewer"):
        response = Client().get(f"/f/{token}/{action}/{draft.pk}/")
        assert response.status_code == 404 and b"secret draft" not in response.content
        assert Client().post(f"/f/{token}/{action}/{draft.pk}/").status_code == 404
    assert not subscriber.liked_papers.exists() and not subscriber.disliked_papers.exists()
    published = batch.entries.first().paper
    assert Client().get(f"/f/{token}/more/{published.pk}/").status_code == 200


def test_the_private_feed_stops_after_unsubscribing_but_the_data_pages_stay(batch, make_subscriber):
    subscriber = make_subscriber(topics=["lora-peft"])
    feed_token = make_token(subscriber, "feed")
    client = Client()
    assert client.get(f"/feed/u/{feed_token}/").status_code == 200
    lifecycle.unsubscribe(subscriber)
    assert client.get(f"/feed/u/{feed_token}/").status_code == 404
    assert client.get(f"/feed/u/{feed_token}/atom/").status_code == 404
    manage = make_token(subscriber, "manage")
    assert client.get(f"/u/{manage}/").status_code == 200
    assert client.get(f"/u/{manage}/export/").status_code == 200
    assert client.post(f"/u/{manage}/delete/").status_code == 200
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("status", ["bounced", "complained", "pending"])
def test_the_private_feed_answers_only_deliverable_subscribers(batch, make_subscriber, status):
    subscriber = make_subscriber(topics=["lora-peft"], status=status)
    assert Client().get(f"/feed/u/{make_token(subscriber, 'feed')}/").status_code == 404
