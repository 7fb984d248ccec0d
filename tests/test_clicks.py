"""Analytics without pixels: each paper's links in a digest and in the private feed pass through
/r/<token>/ (short, signed, bound to that email or feed and paper), which counts one click per
email and paper and redirects to the paper; plain links for those who choose them; the
Edition admin page and the dashboard's figures; clicks as a weak "more like this"."""

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from digest.models import Paper
from subscribers.analytics import edition_engagement, recent_engagement
from subscribers.clicks import clicked_paper_ids
from subscribers.emails import paper_targets
from subscribers.models import Click, Delivery, Edition, Reaction, Subscriber
from subscribers.tokens import click_tokens, make_token, read_click_token

pytestmark = pytest.mark.django_db(transaction=True)
CLICK = re.compile(r"https?://[^/\s\"]+/r/([A-Za-z0-9._-]+)/")


def send(make_subscriber, *emails, **fields):
    for email in emails:
        make_subscriber(email, topics=["llm"], max_papers=4, **fields)
    mail.outbox = []
    call_command("send_digest")
    return {m.to[0]: m for m in mail.outbox}


def html_of(message) -> str:
    return message.alternatives[0][0]


def test_every_paper_link_in_the_email_is_a_short_signed_click_link(batch, make_subscriber):
    message = send(make_subscriber, "reader@example.org")["reader@example.org"]
    row = Delivery.objects.get()
    tokens = CLICK.findall(html_of(message))
    assert tokens and set(CLICK.findall(message.body)) == set(tokens)  # the text part too
    assert all(len(t) <= 32 for t in tokens)
    sent_papers = {p["paper"] for p in row.papers}
    for token in tokens:
        kind, owner, paper_id, link = read_click_token(token)
        assert (kind, owner) == ("e", row.pk) and paper_id in sent_papers
    # No direct link left for a counted paper: every one of its links is a click link.
    links = sum(len(paper_targets(Paper.objects.get(pk=p))) for p in sent_papers)
    assert len(CLICK.findall(html_of(message))) == links


def test_a_click_is_counted_once_per_email_and_paper_then_redirects(batch, make_subscriber):
    message = send(make_subscriber, "reader@example.org")["reader@example.org"]
    token = CLICK.findall(message.body)[0]
    _, delivery_id, paper_id, link = read_click_token(token)
    client = Client()
    first = client.get(f"/r/{token}/")
    assert first.status_code == 302 and first["Location"] == paper_targets(Paper.objects.get(pk=paper_id))[link]
    assert first["Referrer-Policy"] == "no-referrer"
    client.get(f"/r/{token}/")
    client.head(f"/r/{token}/")  # link checkers: followed, not counted
    click = Click.objects.get()
    assert (click.delivery_id, click.paper_id, click.via) == (delivery_id, paper_id, "email")
    assert clicked_paper_ids(click.subscriber_id) == [paper_id]
    # The learned model gets it as a weak "more like this" (subscribers.learning), once.
    assert list(Reaction.objects.values_list("subscriber", "paper", "kind")) == [
        (click.subscriber_id, paper_id, Reaction.Kind.CLICKED)]


def test_pdf_and_code_links_count_for_their_paper_and_lead_to_their_own_target(batch, make_subscriber):
    paper = Paper.objects.first()
    Paper.objects.filter(pk=paper.pk).update(pdf_url="https://arxiv.org/pdf/2603.00001", code_url="https://github.com/a/b")
    paper.refresh_from_db()
    row_papers = [paper.pk]
    subscriber = make_subscriber("reader@example.org", topics=["llm"])
    delivery = Delivery.objects.create(edition=Edition.objects.create(start_date=batch.date, end_date=batch.date),
                                       subscriber=subscriber, status="sent", papers=[{"paper": p} for p in row_papers])
    targets = paper_targets(paper)
    tokens = click_tokens("e", delivery.pk, paper.pk, len(targets))
    assert [Client().get(f"/r/{t}/")["Location"] for t in tokens] == list(targets)
    assert Click.objects.count() == 1  # one paper, one click, whichever of its links


def test_forged_and_foreign_tokens_are_a_404_and_count_nothing(batch, make_subscriber):
    message = send(make_subscriber, "reader@example.org")["reader@example.org"]
    token = CLICK.findall(message.body)[0]
    kind, owner, paper_id, link = read_click_token(token)
    other_paper = Paper.objects.exclude(pk=paper_id).first()
    stem, signature = token.rsplit(".", 1)
    forged = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # a changed signature
        f"e{owner + 1:x}.{paper_id:x}.0.{signature}",  # another email
        f"{kind}{owner:x}.{other_paper.pk:x}.0.{signature}",  # another paper
        "nonsense", "e1.1.0.", make_token(Subscriber.objects.get(), "manage"),
    ]
    for bad in forged:
        assert Client().get(f"/r/{bad}/").status_code == 404
    assert not Click.objects.exists()


def test_plain_links_go_straight_to_the_paper_and_count_nothing(batch, make_subscriber):
    sent = send(make_subscriber, "plain@example.org", plain_links=True)
    message = sent["plain@example.org"]
    assert not CLICK.findall(message.body) and "/r/" not in html_of(message)
    paper = Paper.objects.get(pk=Delivery.objects.get().papers[0]["paper"])
    assert paper_targets(paper)[0] in message.body and paper_targets(paper)[0] in html_of(message)


def test_turning_plain_links_on_stops_counting_the_links_of_older_emails(batch, make_subscriber):
    message = send(make_subscriber, "reader@example.org")["reader@example.org"]
    Subscriber.objects.update(plain_links=True)
    response = Client().get(f"/r/{CLICK.findall(message.body)[0]}/")
    assert response.status_code == 302 and not Click.objects.exists()


def test_the_preference_centre_turns_plain_links_on(make_subscriber):
    subscriber = make_subscriber("me@example.org", topics=["llm"])
    url = f"/u/{make_token(subscriber, 'manage')}/"
    assert "no open tracking" in Client().get(url).content.decode()
    Client().post(url, {"topics": [subscriber.topics.first().pk], "frequency": "daily", "max_papers": 10,
                        "plain_links": "on"})
    subscriber.refresh_from_db()
    assert subscriber.plain_links


def test_the_private_feed_links_through_r_once_per_paper(batch, make_subscriber):
    subscriber = make_subscriber("feed@example.org", topics=["llm"])
    feed = Client().get(f"/feed/u/{make_token(subscriber, 'feed')}/")
    links = [item.findtext("link") for item in ET.fromstring(feed.content).iter("item")]
    assert links and all("/r/f" in link for link in links)
    token = CLICK.search(links[0]).group(1)
    response = Client().get(f"/r/{token}/")
    paper = Paper.objects.get(pk=read_click_token(token)[2])
    assert response["Location"].endswith(paper.get_absolute_url())
    Client().get(f"/r/{token}/")
    assert list(Click.objects.values_list("via", "delivery", "paper")) == [("feed", None, paper.pk)]
    Subscriber.objects.update(plain_links=True)
    from django.core.cache import cache

    cache.clear()
    feed = Client().get(f"/feed/u/{make_token(subscriber, 'feed')}/")
    assert "/r/" not in feed.content.decode()


def test_the_edition_page_and_the_dashboard_show_clicks_ctr_unsubscribes_and_complaints(batch, make_subscriber):
    sent = send(make_subscriber, "a@example.org", "b@example.org", "c@example.org", "d@example.org")
    edition = Edition.objects.get()
    for email in ("a@example.org", "b@example.org"):
        Client().get(f"/r/{CLICK.findall(sent[email].body)[0]}/")
    Client().get(f"/r/{CLICK.findall(sent['a@example.org'].body)[1]}/")
    now = timezone.now()
    Subscriber.objects.filter(email="c@example.org").update(status="unsubscribed", unsubscribed_at=now)
    Delivery.objects.filter(subscriber__email="d@example.org").update(esp_event="complained", esp_event_at=now)
    Subscriber.objects.filter(email="a@example.org").update(unsubscribed_at=now + dt.timedelta(days=9))  # too late
    found = edition_engagement(edition)
    assert (found.sent, found.clicked, found.clicks, found.unsubscribed, found.complained) == (4, 2, 3, 1, 1)
    assert found.percent == 50.0
    assert found.papers[0].hits == 2 and found.papers[0].out_of == 4  # every email held the top paper
    llm = next(rate for rate in found.topics if rate.label == "Large language models")
    assert (llm.hits, llm.out_of) == (2, 4)
    assert recent_engagement().clicks == 3
    admin = get_user_model().objects.create_superuser("ops", "ops@example.org", "pw")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/subscribers/edition/{edition.pk}/change/").content.decode()
    assert "2</strong> with a click (50.0%)" in page and "Clicks per paper" in page and "Click-through per topic" in page
    assert "<strong>1</strong> unsubscribe and" in page and "<strong>1</strong> complaint within 7 days" in page
    index = client.get("/admin/").content.decode()
    assert "Digests of the last 7 days" in index and "3 clicks in all" in index
