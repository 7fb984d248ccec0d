"""Comments: plain text with clickable nofollow links, edit and delete by the author, hide by
curators, reports, limits, counts; and a person's export and delete with all of it."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from community import comments, votes
from community.counts import drift
from community.models import Comment, CommentReport, Member, Vote
from subscribers import lifecycle
from subscribers.tokens import make_token
from tests.conftest import csrf_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(batch):
    return batch.visible_entries()[0].paper


def test_text_is_escaped_and_links_are_nofollow_ugc():
    html = comments.render('See https://example.org/x?a=1&b=2 <script>alert("x")</script> rel="nofollow"')
    assert '<a href="https://example.org/x?a=1&amp;b=2" rel="nofollow ugc noopener">' in html
    assert "<script>" not in html and "&lt;script&gt;" in html and 'rel=&quot;nofollow&quot;' in html


def test_bodies_lose_invisible_and_direction_characters_and_are_bounded(settings):
    assert comments.clean_body("  a\u202eb\u200bc\x00d\r\n\r\n\r\n\r\ne  ") == "abcd\n\ne"
    with pytest.raises(comments.CommentRefused, match="Write something"):
        comments.clean_body(" \u200b ")
    settings.COMMENT_MAX_CHARS = 10
    with pytest.raises(comments.CommentRefused, match="under 10 characters"):
        comments.clean_body("x" * 11)


def test_posting_editing_and_deleting_keep_the_count(paper, member_client):
    client = member_client()
    response = csrf_post(client, f"/paper/{paper.identifier}/comments/", {"body": "Nice ablations."})
    comment = Comment.objects.get()
    assert response["Location"] == f"{paper.get_absolute_url()}#comment-{comment.pk}"
    paper.refresh_from_db()
    assert paper.community_comments == 1
    csrf_post(client, f"/comments/{comment.pk}/edit/", {"body": "Nice ablations, see https://example.org"})
    comment.refresh_from_db()
    assert comment.body.endswith("https://example.org") and comment.edited_at
    other = member_client("bob@example.org", "Bob")
    assert other.get(f"/comments/{comment.pk}/edit/").status_code == 404
    assert csrf_post(other, f"/comments/{comment.pk}/delete/").status_code == 404
    assert "Delete your comment?" in client.get(f"/comments/{comment.pk}/delete/").content.decode()
    csrf_post(client, f"/comments/{comment.pk}/delete/")
    paper.refresh_from_db()
    assert Comment.objects.count() == 0 and paper.community_comments == 0


def test_commenting_needs_a_session_a_name_and_no_ban(paper, member_client):
    anonymous = Client(enforce_csrf_checks=True)
    anonymous.get("/login/")
    assert csrf_post(anonymous, f"/paper/{paper.identifier}/comments/", {"body": "hi"})["Location"].startswith("/login/")
    nameless = member_client("bob@example.org", "")
    assert csrf_post(nameless, f"/paper/{paper.identifier}/comments/", {"body": "hi"})["Location"].startswith("/me/")
    banned = member_client("eve@example.org", "Eve", banned=True)
    csrf_post(banned, f"/paper/{paper.identifier}/comments/", {"body": "hi"})
    assert Comment.objects.count() == 0


def test_comments_are_rate_limited_per_person(paper, member_client, settings):
    settings.COMMENT_RATE_PER_PERSON = "3/60"
    client = member_client()
    statuses = [csrf_post(client, f"/paper/{paper.identifier}/comments/", {"body": f"n{i}"}).status_code
                for i in range(5)]
    assert statuses == [302, 302, 302, 429, 429] and Comment.objects.count() == 3


def test_reports_by_signed_in_readers_reach_the_admin(paper, member_client, admin_client):
    author = member_client()
    csrf_post(author, f"/paper/{paper.identifier}/comments/", {"body": "Buy followers at spam.example"})
    comment = Comment.objects.get()
    assert Client().get(f"/comments/{comment.pk}/report/").status_code == 302  # sign in first
    reader = member_client("bob@example.org", "Bob")
    for _ in range(2):
        csrf_post(reader, f"/comments/{comment.pk}/report/", {"reason": "spam"})
    assert CommentReport.objects.count() == 1
    csrf_post(author, f"/comments/{comment.pk}/report/", {"reason": "mine"})  # not one's own
    assert CommentReport.objects.count() == 1
    listing = admin_client.get("/admin/community/comment/?reported=yes").content.decode()
    assert "Buy followers" in listing


def test_curators_hide_a_comment_and_only_its_author_still_sees_it(paper, member_client, admin_client, client):
    author = member_client()
    csrf_post(author, f"/paper/{paper.identifier}/comments/", {"body": "Off-topic rant"})
    comment = Comment.objects.get()
    admin_client.post("/admin/community/comment/", {"action": "hide", "_selected_action": [comment.pk]})
    comment.refresh_from_db()
    paper.refresh_from_db()
    assert comment.hidden and paper.community_comments == 0
    assert "Off-topic rant" not in client.get(paper.get_absolute_url()).content.decode()
    mine = author.get(paper.get_absolute_url()).content.decode()
    assert "Off-topic rant" in mine and "hidden by a curator" in mine
    admin_client.post("/admin/community/comment/", {"action": "unhide", "_selected_action": [comment.pk]})
    paper.refresh_from_db()
    assert paper.community_comments == 1
    admin_client.post("/admin/community/comment/", {"action": "remove", "_selected_action": [comment.pk]})
    paper.refresh_from_db()
    assert paper.community_comments == 0 and drift() == {"votes": 0, "comments": 0}


def test_the_paper_page_shows_the_discussion_and_the_form(paper, member_client, client):
    author = member_client()
    csrf_post(author, f"/paper/{paper.identifier}/comments/", {"body": "Code at https://github.com/x/y"})
    page = client.get(paper.get_absolute_url()).content.decode()
    assert 'id="discussion"' in page and 'rel="nofollow ugc noopener"' in page and "Sign in</a> to comment" in page
    mine = author.get(paper.get_absolute_url()).content.decode()
    assert "Comment as Alice" in mine and ">Edit</a>" in mine


# --- A person's data ----------------------------------------------------------------------------


def test_export_holds_the_account_votes_submissions_comments_and_the_subscription(paper, member_client,
                                                                                  make_subscriber):
    make_subscriber("alice@example.org", topics=["lora-peft"])
    client = member_client()
    votes.upvote(client.user, paper)
    comments.post(client.user, paper, "Worth reading.")
    data = json.loads(client.get("/me/export/").content)
    assert data["account"]["display_name"] == "Alice" and data["account"]["email"] == "alice@example.org"
    assert [v["paper"] for v in data["community"]["votes"]] == [paper.identifier]
    assert data["community"]["comments"][0]["body"] == "Worth reading."
    assert data["subscription"]["email"] == "alice@example.org" and "community" not in data["subscription"]
    # The preference centre's export has the same community data.
    from subscribers.models import Subscriber

    subscription = Subscriber.objects.get()
    exported = json.loads(Client().get(f"/u/{make_token(subscription, 'manage')}/export/").content)
    assert exported["community"]["votes"][0]["paper"] == paper.identifier


def test_deleting_the_account_erases_everything_and_recounts(paper, member_client, make_subscriber):
    make_subscriber("alice@example.org")
    client = member_client()
    votes.upvote(client.user, paper)
    comments.post(client.user, paper, "Worth reading.")
    assert "Delete everything" in client.get("/me/delete/").content.decode()
    response = csrf_post(client, "/me/delete/", {"confirm": "yes"})
    assert "Your account is deleted" in response.content.decode()
    paper.refresh_from_db()
    assert (paper.community_votes, paper.community_comments) == (0, 0)
    assert not get_user_model().objects.filter(email="alice@example.org").exists()
    from subscribers.models import Subscriber, Suppression, email_hash

    assert not Subscriber.objects.exists() and Suppression.objects.filter(email_hash=email_hash("alice@example.org"))


def test_deleting_the_subscription_erases_the_community_account_too(paper, make_member, make_subscriber):
    subscription = make_subscriber("alice@example.org")
    user = make_member()
    votes.upvote(user, paper)
    lifecycle.delete_subscriber(subscription)
    assert not Vote.objects.exists() and not Member.objects.exists()
    paper.refresh_from_db()
    assert paper.community_votes == 0


def test_a_changed_address_takes_the_account_along(make_member, make_subscriber):
    subscription = make_subscriber("alice@example.org")
    user = make_member()
    lifecycle.apply_email_change(subscription, "alice@new.example")
    user.refresh_from_db()
    assert user.email == "alice@new.example"
