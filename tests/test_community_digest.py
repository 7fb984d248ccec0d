"""The community in the digest: an address alone subscribes and gets the community's top
papers of the day; every paper in a digest shows its counts and links to its discussion, and
its "Upvote" link votes from the inbox without signing in."""

import re

import pytest
from django.core import mail
from django.test import Client

from community import votes
from community.models import Vote
from digest.selection import PeriodContent, wants_top_papers
from subscribers.delivery import build_edition
from subscribers.models import Subscriber
from subscribers.tokens import make_token
from tests.conftest import csrf_post

pytestmark = pytest.mark.django_db


def send(batch, capture):
    with capture(execute=True):
        return build_edition(batch)[0]


def path_of(url):
    return url.split("127.0.0.1:8000")[-1]


def test_an_address_alone_subscribes(batch):
    client = Client(enforce_csrf_checks=True)
    client.get("/")
    response = csrf_post(client, "/subscribe/", {"email": "only@example.org", "frequency": "daily"})
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    subscriber = Subscriber.objects.get()
    assert subscriber.status == "pending" and not subscriber.topics.exists() and subscriber.keywords == ""
    assert wants_top_papers(subscriber.interests())
    assert len(mail.outbox) == 1


def test_no_interest_gets_the_communitys_top_papers_in_trending_order(batch, make_subscriber, make_member,
                                                                    django_capture_on_commit_callbacks):
    entries = list(batch.visible_entries())
    liked, also = entries[40].paper, entries[70].paper
    for i in range(3):
        votes.upvote(make_member(f"v{i}@example.org", f"Voter {i}"), liked)
    votes.upvote(make_member("w@example.org", "W"), also)
    make_subscriber("top@example.org", max_papers=5)
    make_subscriber("kw@example.org", keywords="unlearning")
    send(batch, django_capture_on_commit_callbacks)
    [top] = mail.outbox[0:1] if mail.outbox[0].to == ["top@example.org"] else mail.outbox[1:2]
    assert top.subject == "The community's top 5 papers · Thu 19 Mar"
    assert "You chose no topics" in top.body and "Why:" not in top.body
    titles = re.findall(r"\n\d+\. (.+)\n", top.body)
    assert titles[0] == liked.title and titles[1] == also.title and titles[2] == entries[0].paper.title
    assert "▲ 3 votes on Paperpost" in top.body
    other = next(m for m in mail.outbox if m.to == ["kw@example.org"])
    assert "Why:" in other.body and "community's top" not in other.subject


def test_each_paper_in_a_digest_has_its_counts_a_discussion_link_and_an_upvote_link_that_votes(
        batch, make_subscriber, django_capture_on_commit_callbacks):
    subscriber = make_subscriber("reader@example.org", topics=["lora-peft"], confirmed_at="2026-03-01T00:00Z")
    send(batch, django_capture_on_commit_callbacks)
    [message] = mail.outbox
    html = message.alternatives[0][0]
    assert "votes on Paperpost" in message.body and "#discussion" in message.body
    upvotes = re.findall(r"Upvote: (\S+)", message.body)
    assert upvotes and len(upvotes) == message.body.count("Why: ")
    assert html.count(">Upvote</a>") == len(upvotes) and html.count(">Discuss</a>") == len(upvotes)
    path = path_of(upvotes[0])
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page.status_code == 200 and "Upvote this paper?" in page.content.decode() and not Vote.objects.exists()
    done = csrf_post(client, path)
    assert "Your vote is counted" in done.content.decode()
    vote = Vote.objects.get()
    assert vote.via == "email" and vote.user.email == "reader@example.org"
    assert vote.paper in subscriber.liked_papers.all()  # and it is "more like this" for the next digest
    # The link votes only for papers of that email.
    other = batch.visible_entries().exclude(paper=vote.paper).exclude(
        paper_id__in=[p["paper"] for p in subscriber.deliveries.get().papers]).first().paper
    assert Client().get(re.sub(r"/\d+/$", f"/{other.pk}/", path)).status_code == 404


def test_the_preference_centre_accepts_no_interest_and_previews_the_top_papers(batch, make_subscriber):
    subscriber = make_subscriber(keywords="pruning")
    data = {"topics": [], "keywords": "", "categories": "", "authors": "", "frequency": "daily",
            "max_papers": "3", "paused_until": ""}
    response = Client().post(f"/u/{make_token(subscriber, 'manage')}/", data)
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.keywords == "" and wants_top_papers(subscriber.interests())
    page = Client().get(f"/u/{make_token(subscriber, 'manage')}/").content.decode()
    assert page.count("Why: the community&#x27;s top papers") == 3


def test_exclusions_alone_mean_top_papers_and_liked_papers_come_first(batch, make_subscriber):
    subscriber = make_subscriber(keywords="-survey")
    assert wants_top_papers(subscriber.interests())
    content = PeriodContent(batch.date, batch.date)
    chosen, more = content.select(subscriber.interests(), 10)
    assert len(chosen) == 10 and more == 83 and all(m.reasons[0].kind == "community" for m in chosen)
    lora = next(e.paper for e in batch.visible_entries() if e.paper.title.startswith("LoLDU"))
    subscriber.liked_papers.add(lora)  # what an upvote does
    content.add_external([lora])
    chosen, _ = content.select(subscriber.interests(), 10)
    kinds = [m.reasons[0].kind for m in chosen]
    assert len(chosen) == 10 and kinds[0] == "like" and kinds[-1] == "community"
    assert kinds == sorted(kinds, key=lambda kind: kind == "community")  # close papers first, then the top
