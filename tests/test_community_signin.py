"""Passwordless sign-in: the same answer for every address, the mail queued after commit,
links that show a button on GET, sign in on POST, work once and expire; limits; names."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from community.members import member_for, set_display_name
from community.models import Member, SignInRequest
from community.names import clean_display_name
from subscribers.models import Suppression, email_hash
from tests.conftest import csrf_post

pytestmark = pytest.mark.django_db


def ask(email, ip="203.0.113.7", capture=None, **extra):
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    if capture is None:
        return csrf_post(client, "/login/", {"email": email, **extra}, REMOTE_ADDR=ip)
    with capture(execute=True):
        return csrf_post(client, "/login/", {"email": email, **extra}, REMOTE_ADDR=ip)


def link_of(message):
    found = re.search(r"https?://[^\s\"<>]+(/login/[^\s\"<>/]+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_the_mail_is_queued_on_commit_and_carries_a_link_that_only_shows_a_button(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = ask("Reader@Example.org")
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    assert mail.outbox == [] and len(callbacks) == 1  # nothing is sent inside the request
    callbacks[0]()
    [message] = mail.outbox
    assert message.to == ["reader@example.org"] and message.subject == "Your Paperpost sign-in link"
    path = link_of(message)
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page.status_code == 200 and "Sign me in" in page.content.decode()
    assert "_auth_user_id" not in client.session  # GET never signs in (mail scanners follow links)
    response = csrf_post(client, path)
    assert response.status_code == 302 and response["Location"].startswith("/me/")
    user = get_user_model().objects.get(email="reader@example.org")
    assert client.session["_auth_user_id"] == str(user.pk) and not user.has_usable_password()
    assert Member.objects.get(user=user).display_name == ""
    # The link worked once.
    assert Client().get(path).status_code == 404
    assert csrf_post(Client(), path).status_code in (403, 404)


def test_the_answer_is_the_same_whatever_the_address(make_member, django_capture_on_commit_callbacks):
    make_member("known@example.org")
    Suppression.objects.create(email_hash=email_hash("gone@example.org"), reason="bounced")
    get_user_model().objects.create_superuser("curator", "curator@example.org", "x" * 20)
    pages = {email: ask(email, ip=f"198.51.100.{i}", capture=django_capture_on_commit_callbacks).content
             for i, email in enumerate(["new@example.org", "known@example.org", "gone@example.org",
                                        "curator@example.org"])}
    assert len(set(pages.values())) == 1
    # Only the addresses that may sign in got a link; the rest is recorded, not mailed.
    assert sorted(m.to[0] for m in mail.outbox) == ["known@example.org", "new@example.org"]
    outcomes = dict(SignInRequest.objects.values_list("email", "outcome"))
    assert outcomes == {"new@example.org": "sent", "known@example.org": "sent", "gone@example.org": "suppressed",
                        "curator@example.org": "staff"}


def test_a_link_expires(django_capture_on_commit_callbacks, monkeypatch, settings):
    ask("reader@example.org", capture=django_capture_on_commit_callbacks)
    path = link_of(mail.outbox[0])
    later = time.time() + settings.SIGN_IN_MAX_AGE_MINUTES * 60 + 5
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert Client().get(path).status_code == 404


def test_other_tokens_and_tampered_links_are_refused(make_subscriber, django_capture_on_commit_callbacks):
    from subscribers.tokens import make_token

    subscriber = make_subscriber("reader@example.org")
    assert Client().get(f"/login/{make_token(subscriber, 'manage')}/").status_code == 404
    ask("reader@example.org", capture=django_capture_on_commit_callbacks)
    path = link_of(mail.outbox[0])
    assert Client().get(path[:-3] + "xx/").status_code == 404
    req = SignInRequest.objects.get()
    req.nonce = "0" * 32  # a forged id in a valid-looking token cannot pass the nonce
    req.save()
    assert Client().get(path).status_code == 404


def test_sign_in_mails_are_limited_per_address_and_posts_per_ip(django_capture_on_commit_callbacks, settings):
    settings.SIGN_IN_RATE_PER_ADDRESS = "3/900"
    settings.SIGN_IN_RATE_PER_IP = "10/600"
    for i in range(6):
        ask("target@example.org", ip=f"192.0.2.{i}", capture=django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 3
    assert SignInRequest.objects.filter(outcome="throttled").count() == 3
    statuses = [ask(f"a{i}@example.org", ip="203.0.113.99").status_code for i in range(12)]
    assert statuses[:10] == [200] * 10 and statuses[10:] == [429, 429]


def test_the_honeypot_and_bad_addresses(django_capture_on_commit_callbacks):
    response = ask("bot@example.org", capture=django_capture_on_commit_callbacks, website="http://spam.example")
    assert response.status_code == 200 and SignInRequest.objects.count() == 0 and mail.outbox == []
    response = ask("not an address")
    assert response.status_code == 400 and "Enter a valid email address" in response.content.decode()


def test_a_curator_account_cannot_be_entered_by_link(django_capture_on_commit_callbacks):
    from community.signin import make_link_token, record_request

    get_user_model().objects.create_superuser("curator", "curator@example.org", "x" * 20)
    req = record_request("curator@example.org")
    client = Client()
    assert client.post(f"/login/{make_link_token(req)}/").status_code == 404
    assert "_auth_user_id" not in client.session


def test_signing_out_takes_a_post(member_client):
    client = member_client()
    assert client.get("/logout/").status_code == 405
    assert csrf_post(client, "/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_me_needs_a_session_and_sets_the_display_name(member_client):
    assert Client().get("/me/").status_code == 302
    client = member_client(name="")
    assert "Display name" in client.get("/me/").content.decode()
    response = csrf_post(client, "/me/", {"display_name": "  Ada   Lovelace "})
    assert response.status_code == 302
    assert Member.objects.get(user=client.user).display_name == "Ada Lovelace"
    other = member_client("bob@example.org", name="")
    taken = csrf_post(other, "/me/", {"display_name": "ada lovelace"})
    assert taken.status_code == 400 and "already uses that name" in taken.content.decode()


@pytest.mark.parametrize("name, message", [
    ("A", "2 to 30"), ("x" * 31, "2 to 30"), ("Eve\u202eevil", "U+202E"), ("zero\u200bwidth", "U+200B"),
    ("<script>", "not '<'"), ("-dash", "Start with a letter"), ("Admin", "reserved"), ("pa-per post", "reserved"),
])
def test_display_names_are_checked(name, message):
    with pytest.raises(ValidationError) as caught:
        clean_display_name(name)
    assert message in " ".join(caught.value.messages)


def test_display_names_of_every_script_are_welcome(make_member):
    for name in ("Zoë O'Neil", "李小龙", "हिन्दी नाम", "Ахмед_1.0"):
        assert clean_display_name(name) == name
    user = make_member(name="")
    assert set_display_name(member_for(user), "Zoë") == "Zoë"
