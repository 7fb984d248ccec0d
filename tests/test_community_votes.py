"""Upvotes: signed-in people only, one each (idempotent), counts kept with the rows, bans
and curators' removals recounted, limits, the email's Upvote link, and "more like this"."""

import threading

import pytest
from django.db import connection
from django.test import Client

from community import members, votes
from community.counts import drift
from community.models import Member, Vote
from digest.models import Paper
from subscribers.models import Delivery, Edition
from subscribers.tokens import make_delivery_token, make_token
from tests.conftest import csrf_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(batch):
    return batch.entries.order_by("position").first().paper


def test_a_vote_needs_a_signed_in_person(paper):
    client = Client(enforce_csrf_checks=True)
    client.get("/")
    response = csrf_post(client, f"/paper/{paper.identifier}/upvote/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert Vote.objects.count() == 0
    assert Client(enforce_csrf_checks=True).post(f"/paper/{paper.identifier}/upvote/").status_code == 403  # CSRF


def test_upvoting_twice_counts_once_and_unvoting_takes_it_back(paper, member_client):
    client = member_client()
    for _ in range(3):
        response = csrf_post(client, f"/paper/{paper.identifier}/upvote/", {"next": "/"})
        assert response.status_code == 302 and response["Location"] == "/"
    paper.refresh_from_db()
    assert paper.community_votes == 1 and Vote.objects.count() == 1
    for _ in range(2):
        csrf_post(client, f"/paper/{paper.identifier}/unvote/")
    paper.refresh_from_db()
    assert paper.community_votes == 0 and Vote.objects.count() == 0


def test_votes_go_only_to_published_papers_and_redirects_stay_on_the_site(paper, member_client, page_bytes):
    from digest.ingest.pipeline import ingest_path
    from tests.conftest import data_file

    ingest_path(data_file("arxiv_rss_new/distill_rss_cs.CL_2026-04-27_trimmed3items.xml"))  # a draft batch
    draft_paper = Paper.objects.exclude(batches__status="published").first()
    client = member_client()
    assert csrf_post(client, f"/paper/{draft_paper.identifier}/upvote/").status_code == 404
    response = csrf_post(client, f"/paper/{paper.identifier}/upvote/", {"next": "https://evil.example/"})
    assert response["Location"] == paper.get_absolute_url()


def test_the_count_shows_on_the_lists_the_paper_page_and_the_api(paper, member_client, client,
                                                                 django_capture_on_commit_callbacks):
    client.get("/")  # cached before the votes
    with django_capture_on_commit_callbacks(execute=True):
        votes.upvote(member_client().user, paper)
        votes.upvote(member_client("bob@example.org", "Bob").user, paper)
    home = client.get("/").content.decode()
    assert 'class="n">2</span>' in home
    page = client.get(paper.get_absolute_url()).content.decode()
    assert 'class="n">2</span>' in page
    api = client.get("/api/papers/").json()
    assert api["results"][0]["votes"] == {"community": 2, "source": paper.upvotes}


def test_a_signed_in_reader_sees_their_own_vote(paper, member_client):
    client = member_client()
    csrf_post(client, f"/paper/{paper.identifier}/upvote/")
    html = client.get("/").content.decode()
    assert html.count('aria-pressed="true"') == 1 and f'formaction="/paper/{paper.identifier}/unvote/"' in html


def test_fifty_parallel_voters_lose_and_double_nothing(paper, make_member, transactional_db):
    users = [make_member(f"v{i}@example.org", f"Voter {i}") for i in range(50)]
    start = threading.Barrier(50)
    errors = []

    def vote(user):
        try:
            start.wait()
            votes.upvote(user, paper)
            votes.upvote(user, paper)  # the double click
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=vote, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    paper.refresh_from_db()
    assert paper.community_votes == 50 == Vote.objects.filter(paper=paper).count()


def test_limits_per_person_and_per_ip(batch, member_client, settings):
    settings.VOTE_RATE_PER_PERSON = "5/60"
    client = member_client()
    papers = [e.paper for e in batch.entries.order_by("position")[:7]]
    statuses = [csrf_post(client, f"/paper/{p.identifier}/upvote/").status_code for p in papers]
    assert statuses == [302] * 5 + [429, 429]
    assert Vote.objects.count() == 5
    settings.VOTE_RATE_PER_PERSON, settings.VOTE_RATE_PER_IP = "100/60", "3/60"
    other = member_client("bob@example.org", "Bob")
    statuses = [csrf_post(other, f"/paper/{p.identifier}/upvote/", REMOTE_ADDR="198.51.100.1").status_code
                for p in papers[:4]]
    assert statuses == [302, 302, 302, 429]


def test_a_ban_stops_the_votes_counting_and_lifting_it_restores_them(paper, make_member):
    alice, bob = make_member(), make_member("bob@example.org", "Bob")
    votes.upvote(alice, paper)
    votes.upvote(bob, paper)
    members.ban(members.member_for(bob), "spam")
    paper.refresh_from_db()
    assert paper.community_votes == 1
    with pytest.raises(votes.VoteRefused):
        votes.upvote(bob, Paper.objects.exclude(pk=paper.pk).first())
    votes.unvote(bob, paper)  # a banned person's vote was not counted: nothing to take off
    paper.refresh_from_db()
    assert paper.community_votes == 1
    votes.upvote(alice, paper)
    members.unban(members.member_for(bob))
    assert drift() == {"votes": 0, "comments": 0}


def test_curators_remove_votes_and_ban_in_the_admin(paper, make_member, admin_client):
    alice, bob = make_member(), make_member("bob@example.org", "Bob")
    votes.upvote(alice, paper)
    votes.upvote(bob, paper)
    vote = Vote.objects.get(user=bob)
    admin_client.post("/admin/community/vote/", {"action": "delete_selected", "_selected_action": [vote.pk],
                                                 "post": "yes"})
    paper.refresh_from_db()
    assert paper.community_votes == 1 and Vote.objects.count() == 1
    admin_client.post("/admin/community/member/", {"action": "ban", "_selected_action": [members.member_for(alice).pk]})
    paper.refresh_from_db()
    assert paper.community_votes == 0 and Member.objects.get(user=alice).banned


def test_a_vote_is_more_like_this_for_the_voters_own_digest(paper, make_member, make_subscriber):
    subscriber = make_subscriber("alice@example.org", topics=["lora-peft"])
    alice = make_member("alice@example.org")
    other = Paper.objects.exclude(pk=paper.pk).first()
    subscriber.liked_papers.add(other)  # marked "more like this" before: the vote must not undo it
    votes.upvote(alice, paper)
    votes.upvote(alice, other)
    assert set(subscriber.liked_papers.all()) == {paper, other}
    assert paper.pk in subscriber.interests().liked
    votes.unvote(alice, paper)
    votes.unvote(alice, other)
    assert list(subscriber.liked_papers.all()) == [other]


# --- The Upvote link in a digest email -------------------------------------------------------


@pytest.fixture
def emailed(batch, make_subscriber):
    """A subscriber and the delivery of an email that held the batch's first two papers."""
    subscriber = make_subscriber("reader@example.org", topics=["lora-peft"], confirmed_at="2026-03-01T00:00Z")
    papers = [e.paper for e in batch.entries.order_by("position")[:3]]
    edition = Edition.objects.create(start_date=batch.date, end_date=batch.date)
    delivery = Delivery.objects.create(edition=edition, subscriber=subscriber, status="sent",
                                       papers=[{"paper": p.pk} for p in papers[:2]])
    return subscriber, delivery, papers


def test_the_email_link_shows_a_button_and_votes_on_post_without_signing_in(emailed):
    subscriber, delivery, papers = emailed
    path = f"/vote/{make_delivery_token(subscriber, delivery.pk, 'upvote')}/{papers[0].pk}/"
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page.status_code == 200 and "Upvote this paper?" in page.content.decode()
    assert Vote.objects.count() == 0  # mail scanners follow links: GET never votes
    for _ in range(2):
        done = csrf_post(client, path)
    assert done.status_code == 200 and "Your vote is counted" in done.content.decode()
    vote = Vote.objects.get()
    assert vote.user.email == "reader@example.org" and vote.via == "email" and vote.paper == papers[0]
    assert "_auth_user_id" not in client.session  # the link votes; it does not sign in
    papers[0].refresh_from_db()
    assert papers[0].community_votes == 1 and papers[0] in subscriber.liked_papers.all()


def test_the_email_link_votes_only_for_that_emails_papers_and_only_for_a_confirmed_reader(emailed, monkeypatch,
                                                                                          settings):
    subscriber, delivery, papers = emailed
    token = make_delivery_token(subscriber, delivery.pk, "upvote")
    assert Client().get(f"/vote/{token}/{papers[2].pk}/").status_code == 404  # not in that email
    assert Client().get(f"/vote/{make_token(subscriber, 'manage')}/{papers[0].pk}/").status_code == 404
    subscriber.status = "unsubscribed"
    subscriber.save()
    client = Client(enforce_csrf_checks=True)
    client.get(f"/vote/{token}/{papers[0].pk}/")
    assert csrf_post(client, f"/vote/{token}/{papers[0].pk}/").status_code == 404
    import time as time_module

    later = time_module.time() + settings.UPVOTE_LINK_MAX_AGE_DAYS * 86400 + 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert Client().get(f"/vote/{token}/{papers[0].pk}/").status_code == 404
    assert Vote.objects.count() == 0


def test_feeds_show_the_counts_and_follow_a_vote(paper, make_member, client, django_capture_on_commit_callbacks):
    first = client.get("/feed/")
    assert "▲ 0 votes on Paperpost" in first.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        votes.upvote(make_member(), paper)
    again = client.get("/feed/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and "▲ 1 vote on Paperpost" in again.content.decode()


def test_a_day_sorted_by_votes_and_the_best_of_the_week(batch, make_member, client,
                                                        django_capture_on_commit_callbacks):
    last = batch.visible_entries().last().paper
    with django_capture_on_commit_callbacks(execute=True):
        votes.upvote(make_member(), last)
    curated = client.get("/papers/2026-03-19/").content.decode()
    by_votes = client.get("/papers/2026-03-19/?sort=votes").content.decode()
    best = client.get("/best/week/", follow=True).content.decode()
    assert last.title not in curated  # the curators' last paper, on the last page
    for html in (by_votes, best):
        first = html.index('<span class="rank">1</span>')
        assert last.title in html[first:first + 500]
    assert 'aria-current="true">Most votes' in by_votes and '?sort=votes&amp;page=2' in by_votes  # 93 papers, 30 a page


def test_a_signed_in_readers_page_is_theirs_and_costs_a_bounded_number_of_queries(
        batch, member_client, django_assert_max_num_queries):
    client = member_client()
    for entry in batch.visible_entries()[:20]:
        votes.upvote(client.user, entry.paper)
    client.get("/")  # the first page of a process fits ranking's corpus statistics once (topic tags use them)
    with django_assert_max_num_queries(14):
        html = client.get("/").content.decode()
    assert html.count('aria-pressed="true"') == 20 and ">Alice</a>" in html
    assert "Sign in" not in html.split("</header>")[0]
