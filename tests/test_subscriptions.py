"""The life of a subscriber: double opt-in, abuse limits, preference centre, leaving,
privacy, bounces. Unit level (locmem mail); the browser test drives the same pages."""

import base64
import datetime as dt
import json
import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from subscribers.models import Delivery, Subscriber, Suppression, email_hash
from subscribers.tokens import make_token

pytestmark = pytest.mark.django_db


def csrf_client():
    client = Client(enforce_csrf_checks=True)
    client.get("/")
    return client


def post_subscribe(client, email="new@example.org", ip="203.0.113.5", **extra):
    data = {"email": email, "topics": [], "keywords": "LoRA", "frequency": "daily", **extra}
    if "csrftoken" in client.cookies:
        data["csrfmiddlewaretoken"] = client.cookies["csrftoken"].value
    return client.post("/subscribe/", data, REMOTE_ADDR=ip)


def link_in(message, path_prefix):
    found = re.search(r"https?://[^\s\"<>]+" + re.escape(path_prefix) + r"[^\s\"<>]+/", message.body)
    assert found, message.body
    return found.group(0).split("127.0.0.1:8000")[-1]


# --- Subscribe and confirm ---------------------------------------------------------------


def test_subscribing_stores_a_pending_subscriber_with_consent_and_mails_a_confirmation(batch):
    response = post_subscribe(csrf_client(), email="New@Example.org")  # one subscriber per address, however typed
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    subscriber = Subscriber.objects.get()
    assert subscriber.status == "pending" and subscriber.email == "new@example.org"
    assert subscriber.consent_ip == "203.0.113.5" and subscriber.consent_source == "web form v1"
    assert subscriber.consent_at and subscriber.confirmed_at is None
    [message] = mail.outbox
    assert message.to == ["new@example.org"] and message.subject == "Confirm your Paperpost subscription"
    assert "/confirm/" in message.body
    assert message.alternatives and "/confirm/" in message.alternatives[0][0]


def test_user_text_never_appears_in_the_confirmation_email(batch):
    post_subscribe(csrf_client(), keywords="BUY CHEAP PILLS http://spam.example <b>now</b>")
    [message] = mail.outbox
    everything = message.subject + message.body + message.alternatives[0][0]
    for fragment in ("BUY", "PILLS", "spam.example", "<b>now"):
        assert fragment not in everything


def test_the_answer_is_the_same_for_new_pending_active_and_suppressed_addresses(batch, make_subscriber):
    make_subscriber("active@example.org")
    make_subscriber("pending@example.org", status="pending")
    Suppression.objects.create(email_hash=email_hash("gone@example.org"), reason="complained")
    pages = {
        email: post_subscribe(csrf_client(), email=email, ip=f"198.51.100.{i}").content
        for i, email in enumerate(["new@example.org", "pending@example.org", "active@example.org", "gone@example.org"])
    }
    assert len(set(pages.values())) == 1


def test_an_active_address_gets_a_manage_link_and_nothing_changes(batch, make_subscriber):
    subscriber = make_subscriber("active@example.org", topics=["lora-peft"], keywords="pruning")
    post_subscribe(csrf_client(), email="Active@Example.org", keywords="something else")
    [message] = mail.outbox
    assert message.subject == "Your Paperpost subscription" and "/u/" in message.body and "/confirm/" not in message.body
    subscriber.refresh_from_db()
    assert subscriber.status == "active" and subscriber.keywords == "pruning"
    assert Subscriber.objects.count() == 1


def test_fifty_posts_for_one_address_send_at_most_one_email(batch):
    for i in range(50):
        post_subscribe(Client(), email="target@example.org", ip=f"192.0.2.{i}")
    assert len(mail.outbox) == 1
    assert Subscriber.objects.count() == 1


def test_with_the_broker_down_the_request_does_the_work_itself(batch):
    from tests.services import free_port, point_celery_at

    point_celery_at(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        response = post_subscribe(csrf_client())
    finally:
        point_celery_at(None)
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    assert Subscriber.objects.get().status == "pending"
    [message] = mail.outbox
    assert message.subject == "Confirm your Paperpost subscription"


def test_a_confirmation_that_could_not_be_sent_is_sent_by_the_retry(batch, settings):
    from subscribers.lifecycle import SubscribeRequest, request_subscription
    from tests.services import free_port

    settings.EMAIL_BACKEND = "paperpost.mail.SMTPBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # refused
    with pytest.raises(OSError):
        request_subscription(SubscribeRequest("new@example.org", topics=[]))
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The failed attempt did not use up the address's one mail of the hour.
    assert request_subscription(SubscribeRequest("new@example.org", topics=[])) == "pending"
    assert [m.subject for m in mail.outbox] == ["Confirm your Paperpost subscription"]
    assert request_subscription(SubscribeRequest("new@example.org", topics=[])) == "pending-throttled"


def test_fifty_posts_from_one_ip_hit_the_rate_limit(batch, settings):
    settings.SUBSCRIBE_RATE_PER_IP = "10/600"
    statuses = [post_subscribe(Client(), email=f"a{i}@example.org").status_code for i in range(50)]
    assert statuses[:10] == [200] * 10 and set(statuses[10:]) == {429}
    response = post_subscribe(Client(), email="late@example.org")
    assert response["Retry-After"] == "600" and "Too many requests" in response.content.decode()
    assert len(mail.outbox) == 10 and Subscriber.objects.count() == 10


def test_the_honeypot_stores_and_sends_nothing(batch):
    response = post_subscribe(Client(), website="http://bot.example")
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    assert Subscriber.objects.count() == 0 and mail.outbox == []


def test_the_form_needs_csrf_and_reports_bad_fields(batch):
    assert Client(enforce_csrf_checks=True).post("/subscribe/", {"email": "a@example.org"}).status_code == 403
    response = post_subscribe(csrf_client(), email="nope", keywords="")
    html = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid email address" in html
    assert Subscriber.objects.count() == 0


def test_get_never_confirms_post_does_and_a_welcome_follows(batch):
    post_subscribe(csrf_client())
    confirm_path = link_in(mail.outbox[0], "/confirm/")
    client = Client(enforce_csrf_checks=True)
    page = client.get(confirm_path)
    assert page.status_code == 200 and "<form" in page.content.decode()
    assert Subscriber.objects.get().status == "pending"
    assert client.post(confirm_path, {}).status_code == 403  # CSRF still applies
    response = client.post(confirm_path, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert response.status_code == 200 and "You are subscribed" in response.content.decode()
    subscriber = Subscriber.objects.get()
    assert subscriber.status == "active" and subscriber.confirmed_at
    welcome = mail.outbox[-1]
    assert welcome.subject == "Welcome to Paperpost" and f"/u/{make_token(subscriber, 'manage')[:40]}" in welcome.body


def test_the_welcome_email_has_an_unsubscribe_link_and_one_click_headers(batch, make_subscriber):
    from email import message_from_bytes, policy

    from subscribers.lifecycle import confirm

    subscriber = make_subscriber("new@example.org", status="pending")
    assert confirm(subscriber)
    [welcome] = mail.outbox
    url = f"http://127.0.0.1:8000/u/{make_token(subscriber, 'unsubscribe')}/unsubscribe/"
    assert f"Unsubscribe: {url}" in welcome.body
    assert f'href="{url}"' in welcome.alternatives[0][0]
    headers = message_from_bytes(welcome.message().as_bytes(), policy=policy.default)
    assert headers["List-Unsubscribe"].strip() == f"<{url}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"] and headers["Auto-Submitted"] == "auto-generated"
    # What a mail client does with those headers (RFC 8058): a POST, no cookie, no CSRF token.
    response = Client(enforce_csrf_checks=True).post(url.removeprefix("http://127.0.0.1:8000"),
                                                     data="List-Unsubscribe=One-Click",
                                                     content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert Subscriber.objects.get().status == "unsubscribed"


def test_only_mail_to_a_subscriber_carries_unsubscribe_headers(batch):
    post_subscribe(csrf_client())
    [confirmation] = mail.outbox
    assert "List-Unsubscribe" not in confirmation.extra_headers and "Unsubscribe" not in confirmation.body


def test_confirmation_links_expire(batch, monkeypatch, settings):
    post_subscribe(csrf_client())
    path = link_in(mail.outbox[0], "/confirm/")
    import time as time_module

    later = time_module.time() + settings.CONFIRM_MAX_AGE_DAYS * 86400 + 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert Client().get(path).status_code == 404


def test_tokens_are_purpose_bound_and_invalid_ones_all_look_alike(batch, make_subscriber):
    subscriber = make_subscriber(status="pending")
    client = Client()
    confirm_token = make_token(subscriber, "confirm")
    unsubscribe_token = make_token(subscriber, "unsubscribe")
    manage_token = make_token(subscriber, "manage")
    assert client.get(f"/u/{manage_token}/").status_code == 200
    assert client.get(f"/u/{manage_token}/unsubscribe/").status_code == 404
    tampered = manage_token[:-2] + ("AA" if not manage_token.endswith("AA") else "BB")
    assert client.get(f"/u/{tampered}/").status_code == 404
    assert client.get(f"/u/{confirm_token}/unsubscribe/").status_code == 404
    assert client.post(f"/u/{confirm_token}/unsubscribe/", data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded").status_code == 404
    assert client.get(f"/confirm/{unsubscribe_token}/").status_code == 404
    assert client.get(f"/u/{unsubscribe_token}/").status_code == 404
    bodies = {client.get(url).content for url in [
        f"/confirm/{unsubscribe_token}/", "/confirm/garbage/", f"/u/{confirm_token}/", "/u/x:y:z/"]}
    assert len(bodies) == 1
    subscriber.refresh_from_db()
    assert subscriber.status == "pending"


def test_nothing_but_the_confirmation_goes_to_a_pending_address(batch, make_subscriber, django_capture_on_commit_callbacks):
    from subscribers.delivery import build_edition

    make_subscriber("pending@example.org", status="pending", topics=["lora-peft"])
    make_subscriber("active@example.org", topics=["lora-peft"])
    with django_capture_on_commit_callbacks(execute=True):
        build_edition(batch)
    assert [m.to for m in mail.outbox] == [["active@example.org"]]
    assert not Delivery.objects.filter(subscriber__email="pending@example.org").exists()


# --- Preference centre ----------------------------------------------------------------------


def prefs(**overrides):
    data = {"topics": [], "keywords": "", "categories": "", "authors": "", "frequency": "daily",
            "max_papers": "10", "paused_until": ""}
    data.update(overrides)
    return data


def test_the_preference_centre_saves_every_field_and_the_preview_follows(batch, make_subscriber):
    from digest.models import Topic

    subscriber = make_subscriber(topics=["lora-peft"])
    url = f"/u/{make_token(subscriber, 'manage')}/"
    client = Client(enforce_csrf_checks=True)
    page = client.get(url).content.decode()
    assert "Preview" in page and "LoLDU" in page and "Why: LoRA &amp; parameter-efficient fine-tuning" in page
    # How a topic behaves beside keywords is said where topics are chosen (docs/ranking.md).
    assert "a topic is the field around them" in page and "broad strictness" in page
    assert client.post(url, prefs()).status_code == 403
    unlearning = Topic.objects.get(slug="unlearning")
    future = (timezone.localdate() + dt.timedelta(days=14)).isoformat()
    response = client.post(url, prefs(
        topics=[unlearning.pk], keywords='"knowledge distillation", -survey', categories="cs.LG, cs.*",
        authors="Geoffrey Hinton", frequency="weekly", max_papers="3", paused_until=future,
        csrfmiddlewaretoken=client.cookies["csrftoken"].value))
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert [t.slug for t in subscriber.topics.all()] == ["unlearning"]
    assert subscriber.keywords == "knowledge distillation, -survey"
    assert (subscriber.categories, subscriber.authors, subscriber.frequency) == ("cs.LG, cs.*", "Geoffrey Hinton", "weekly")
    assert subscriber.max_papers == 3 and subscriber.paused_until.isoformat() == future
    page = client.get(url).content.decode()
    assert "Your preferences are saved" in page
    assert "LoLDU" not in page and "Label-Agnostic Forgetting" in page
    assert "3 papers" in page and "more over your limit" in page


def test_a_category_no_stored_paper_carries_is_kept_and_pointed_out(batch, make_subscriber):
    # A plasma physicist types physics.plasm-ph on a site whose sources list cs.LG only: the
    # category is kept (a quiet one is a fair wish), and the page says it matched nothing.
    from digest import corpus
    from digest.ingest.pipeline import ingest_bytes
    from tests.conftest import data_file

    ingest_bytes(data_file("arxiv_rss_new/distill_rss_cs.LG_2026-04-27_trimmed3items.xml").read_bytes())
    corpus.fit()
    corpus.forget()
    subscriber = make_subscriber(keywords="pruning")
    url = f"/u/{make_token(subscriber, 'manage')}/"
    client = Client()
    response = client.post(url, prefs(keywords="tokamak", categories="cs.LG, physics.plasm-ph, cs.*"))
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.categories == "cs.LG, physics.plasm-ph, cs.*"
    page = client.get(url).content.decode()
    assert "No paper of the last 60 days carries physics.plasm-ph: check the spelling" in page
    assert "carries cs.LG" not in page and "cs.*:" not in page
    # Once every category typed is seen, nothing is said.
    client.post(url, prefs(keywords="tokamak", categories="cs.LG"))
    assert "No paper of the last" not in client.get(url).content.decode()


@pytest.mark.parametrize("field, value, message", [
    ("max_papers", "0", "greater than or equal to 1"),
    ("max_papers", "500", "less than or equal to 50"),
    ("categories", "cs.LG; DROP TABLE x", "not an arXiv category"),
    ("paused_until", "2001-01-01", "Pick a day in the future"),
    ("frequency", "hourly", "Select a valid choice"),
])
def test_bad_preferences_get_a_clear_error_and_change_nothing(batch, make_subscriber, field, value, message):
    subscriber = make_subscriber(keywords="pruning")
    response = Client().post(f"/u/{make_token(subscriber, 'manage')}/", prefs(**{"keywords": "pruning", field: value}))
    assert response.status_code == 400 and message in response.content.decode()
    subscriber.refresh_from_db()
    assert (subscriber.keywords, subscriber.max_papers, subscriber.frequency) == ("pruning", 10, "daily")


def test_a_paused_subscriber_is_skipped_until_the_date(batch, make_subscriber, django_capture_on_commit_callbacks):
    from subscribers.delivery import build_edition

    make_subscriber("paused@example.org", topics=["lora-peft"], paused_until=timezone.localdate() + dt.timedelta(days=3))
    with django_capture_on_commit_callbacks(execute=True):
        build_edition(batch)
    assert mail.outbox == []


def test_changing_the_address_is_confirmed_by_the_new_address(batch, make_subscriber):
    subscriber = make_subscriber("old@example.org")
    client = Client()
    token = make_token(subscriber, "manage")
    client.post(f"/u/{token}/email/", {"new_email": "New@Example.org"})
    [message] = mail.outbox
    assert message.to == ["new@example.org"]
    subscriber.refresh_from_db()
    assert subscriber.email == "old@example.org"
    path = link_in(message, "/email/")
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.email == "new@example.org"


def test_an_address_change_to_a_taken_address_is_refused(batch, make_subscriber):
    subscriber = make_subscriber("old@example.org")
    make_subscriber("taken@example.org")
    Client().post(f"/u/{make_token(subscriber, 'manage')}/email/", {"new_email": "taken@example.org"})
    response = Client().post(link_in(mail.outbox[0], "/email/"))
    assert response.status_code == 409
    subscriber.refresh_from_db()
    assert subscriber.email == "old@example.org"


def test_address_changes_are_rate_limited_per_subscriber(batch, make_subscriber, settings):
    settings.EMAIL_CHANGE_RATE_PER_SUBSCRIBER = "3/86400"
    subscriber = make_subscriber("old@example.org")
    url = f"/u/{make_token(subscriber, 'manage')}/email/"
    client = Client()
    for i in range(40):
        client.post(url, {"new_email": f"victim{i}@example.net"})
    assert len(mail.outbox) == 3
    page = client.get(f"/u/{make_token(subscriber, 'manage')}/").content.decode()
    assert "too many address changes" in page.lower()


def test_address_changes_are_rate_limited_per_target(batch, make_subscriber):
    for i in range(5):
        subscriber = make_subscriber(f"sender{i}@example.org")
        Client().post(f"/u/{make_token(subscriber, 'manage')}/email/", {"new_email": "victim@example.net"})
    # A subscribe post for the same target within the hour sends nothing either.
    post_subscribe(csrf_client(), email="victim@example.net")
    assert [m.to for m in mail.outbox] == [["victim@example.net"]]


@pytest.mark.parametrize("reason", ["bounced", "complained"])
def test_an_address_change_never_mails_a_suppressed_address(batch, make_subscriber, reason):
    subscriber = make_subscriber("old@example.org")
    Suppression.objects.create(email_hash=email_hash("gone@example.net"), reason=reason)
    response = Client().post(f"/u/{make_token(subscriber, 'manage')}/email/", {"new_email": "Gone@Example.net"})
    assert response.status_code == 302 and mail.outbox == []


# --- Leaving --------------------------------------------------------------------------------------


def test_export_holds_everything_stored(batch, make_subscriber, django_capture_on_commit_callbacks):
    from subscribers.delivery import build_edition

    subscriber = make_subscriber("me@example.org", topics=["lora-peft"], keywords="pruning", consent_ip="192.0.2.1")
    with django_capture_on_commit_callbacks(execute=True):
        build_edition(batch)
    response = Client().get(f"/u/{make_token(subscriber, 'manage')}/export/")
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["email"] == "me@example.org" and data["topics"] == ["LoRA & parameter-efficient fine-tuning"]
    assert data["consent"]["ip"] == "192.0.2.1" and data["keywords"] == "pruning"
    assert len(data["deliveries"]) == 1 and data["deliveries"][0]["status"] == "sent"
    assert data["deliveries"][0]["papers"][0]["reasons"]


def test_delete_erases_the_subscriber_and_deliveries_and_keeps_only_a_hash(batch, make_subscriber, django_capture_on_commit_callbacks):
    from subscribers.delivery import build_edition

    subscriber = make_subscriber("me@example.org", topics=["lora-peft"])
    with django_capture_on_commit_callbacks(execute=True):
        build_edition(batch)
    client = Client(enforce_csrf_checks=True)
    url = f"/u/{make_token(subscriber, 'manage')}/delete/"
    assert client.get(url).status_code == 200 and Subscriber.objects.exists()
    client.post(url, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert not Subscriber.objects.exists() and not Delivery.objects.exists()
    suppression = Suppression.objects.get()
    assert suppression.email_hash == email_hash("me@example.org") and "me@example.org" not in str(Suppression.objects.values())
    with pytest.raises(CommandError, match="suppressed"):
        call_command("add_subscriber", "me@example.org", "--keywords", "x")
    # A new subscription and confirmation brings the address back.
    mail.outbox.clear()
    post_subscribe(csrf_client(), email="me@example.org")
    confirm_path = link_in(mail.outbox[0], "/confirm/")
    c = Client()
    c.post(confirm_path)
    assert Subscriber.objects.get().status == "active" and not Suppression.objects.exists()


def test_unsubscribe_get_only_asks(client, make_subscriber):
    subscriber = make_subscriber()
    response = client.get(f"/u/{make_token(subscriber, 'unsubscribe')}/unsubscribe/")
    assert response.status_code == 200 and "<form" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_one_click_unsubscribe_works_without_cookies_or_csrf(make_subscriber):
    subscriber = make_subscriber()
    url = f"/u/{make_token(subscriber, 'unsubscribe')}/unsubscribe/"
    client = Client(enforce_csrf_checks=True)
    for _ in range(2):  # idempotent
        response = client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_the_unsubscribe_page_form_needs_csrf(make_subscriber):
    subscriber = make_subscriber()
    url = f"/u/{make_token(subscriber, 'unsubscribe')}/unsubscribe/"
    client = Client(enforce_csrf_checks=True)
    assert client.post(url, {}).status_code == 403
    page = client.get(url)
    response = client.post(url, {"csrfmiddlewaretoken": page.cookies["csrftoken"].value})
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_one_click_unsubscribe_between_build_and_send_wins(batch, make_subscriber):
    from subscribers.delivery import build_edition, queue_pending

    subscriber = make_subscriber("late@example.org", topics=["lora-peft"])
    build_edition(batch)  # rows made, tasks not yet run (on_commit not executed)
    Client().post(f"/u/{make_token(subscriber, 'unsubscribe')}/unsubscribe/", data="List-Unsubscribe=One-Click",
                  content_type="application/x-www-form-urlencoded")
    queue_pending(Delivery.objects.get().edition_id)
    row = Delivery.objects.get()
    assert row.status == "skipped" and row.skip_reason == "subscriber unsubscribed"
    assert mail.outbox == []


# --- Bounces and complaints -----------------------------------------------------------------------


def postmark(client, payload, secret="hook:secret"):
    auth = "Basic " + base64.b64encode(secret.encode()).decode()
    return client.post("/anymail/postmark/tracking/", data=json.dumps(payload), content_type="application/json",
                       HTTP_AUTHORIZATION=auth)


def reload_urls():
    """The webhook routes are mounted only when a secret is configured, so the URLconf is
    built again after the setting changes."""
    import importlib

    from django.urls import clear_url_caches

    import web.urls

    importlib.reload(web.urls)
    clear_url_caches()


@pytest.fixture
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}
    reload_urls()
    yield
    settings.ANYMAIL = {"WEBHOOK_SECRET": None}
    reload_urls()


def test_a_hard_bounce_webhook_stops_mail(make_subscriber, webhook_secret):
    subscriber = make_subscriber("bouncy@example.org")
    response = postmark(Client(), {"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "ID": 42,
                                   "Email": "bouncy@example.org", "MessageID": "abc", "BouncedAt": "2026-11-26T10:00:00Z",
                                   "Description": "The server was unable to deliver your message", "Details": "smtp;550 5.1.1"})
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == "bounced"
    assert Suppression.objects.get().reason == "bounced"


def test_a_soft_bounce_changes_nothing(make_subscriber, webhook_secret):
    subscriber = make_subscriber("soft@example.org")
    postmark(Client(), {"RecordType": "Bounce", "Type": "SoftBounce", "TypeCode": 4096, "ID": 43,
                        "Email": "soft@example.org", "MessageID": "abd", "BouncedAt": "2026-11-26T10:00:00Z"})
    subscriber.refresh_from_db()
    assert subscriber.status == "active" and not Suppression.objects.exists()


def test_a_complaint_webhook_stops_mail(make_subscriber, webhook_secret):
    subscriber = make_subscriber("angry@example.org")
    postmark(Client(), {"RecordType": "SpamComplaint", "Type": "SpamComplaint", "TypeCode": 512, "ID": 44,
                        "Email": "angry@example.org", "MessageID": "abe", "BouncedAt": "2026-11-26T10:00:00Z"})
    subscriber.refresh_from_db()
    assert subscriber.status == "complained"


def test_webhooks_need_the_secret(make_subscriber, webhook_secret):
    subscriber = make_subscriber("x@example.org")
    response = postmark(Client(), {"RecordType": "Bounce", "Type": "HardBounce", "Email": "x@example.org"}, secret="bad:guess")
    assert response.status_code in (400, 401, 403)
    subscriber.refresh_from_db()
    assert subscriber.status == "active"


def test_without_a_secret_the_webhooks_are_not_routed_and_change_nothing(make_subscriber, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": None}
    reload_urls()
    subscriber = make_subscriber("victim@example.org")
    for payload in ({"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "ID": 1, "Email": "victim@example.org",
                     "MessageID": "m", "BouncedAt": "2026-11-26T10:00:00Z"},
                    {"RecordType": "SpamComplaint", "Type": "SpamComplaint", "TypeCode": 512, "ID": 2,
                     "Email": "victim@example.org", "MessageID": "n", "BouncedAt": "2026-11-26T10:00:00Z"}):
        response = Client().post("/anymail/postmark/tracking/", data=json.dumps(payload), content_type="application/json")
        assert response.status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.status == "active" and not Suppression.objects.exists()


def test_the_suppress_command_for_smtp_setups(make_subscriber, capsys):
    subscriber = make_subscriber("x@example.org")
    call_command("suppress", "X@example.org", "stranger@example.org", "--reason", "complained")
    assert "suppressed 2 address(es) as complained (1 were subscribers)" in capsys.readouterr().out
    subscriber.refresh_from_db()
    assert subscriber.status == "complained" and Suppression.objects.count() == 2
    with pytest.raises(CommandError, match="not an email address"):
        call_command("suppress", "nonsense")


def test_a_suppressed_address_gets_no_confirmation_mail(batch):
    Suppression.objects.create(email_hash=email_hash("bounced@example.org"), reason="bounced")
    post_subscribe(csrf_client(), email="bounced@example.org")
    assert mail.outbox == [] and not Subscriber.objects.exists()


# --- Admin and import/export ------------------------------------------------------------------------


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.org", "pw")
    client.force_login(user)
    return client


def test_admin_lists_counts_per_status_and_topic(admin_client_logged_in, make_subscriber):
    make_subscriber("a@example.org", topics=["lora-peft"])
    make_subscriber("b@example.org", status="pending")
    html = admin_client_logged_in.get("/admin/subscribers/subscriber/").content.decode()
    assert "By status" in html and "Active, by topic" in html
    assert re.search(r"Pending confirmation</a></td><td[^>]*>1<", html)
    assert re.search(r"LoRA &amp; parameter-efficient fine-tuning</td><td[^>]*>1<", html)
    filtered = admin_client_logged_in.get("/admin/subscribers/subscriber/?status__exact=pending").content.decode()
    assert "b@example.org" in filtered and "a@example.org" not in filtered


def test_admin_exports_csv_and_marks_bounces(admin_client_logged_in, make_subscriber):
    a = make_subscriber("a@example.org", topics=["lora-peft"], keywords="pruning")
    response = admin_client_logged_in.post("/admin/subscribers/subscriber/", {"action": "export_csv", "_selected_action": [a.pk]})
    rows = response.content.decode().splitlines()
    assert rows[0].startswith("email,topics,keywords") and rows[1].startswith("a@example.org,lora-peft,pruning")
    admin_client_logged_in.post("/admin/subscribers/subscriber/", {"action": "mark_bounced", "_selected_action": [a.pk]})
    a.refresh_from_db()
    assert a.status == "bounced"


def test_import_subscribers_from_csv(tmp_path, capsys):
    path = tmp_path / "list.csv"
    path.write_text(
        "email,topics,keywords,categories,authors,frequency\n"
        "one@example.org,lora-peft,pruning,cs.LG,,daily\n"
        "two@example.org,,\"knowledge distillation, -survey\",,Geoffrey Hinton,weekly\n"
        "not-an-email,,,,,\n"
        "three@example.org,no-such-topic,,,,\n"
    )
    with pytest.raises(CommandError, match="2 of 4 rows were not imported"):
        call_command("import_subscribers", str(path))
    out, err = capsys.readouterr()
    assert "4 rows: 2 added, 0 updated, 0 refused, 2 errors" in out
    assert "line 4:" in err and "line 5: unknown topic no-such-topic" in err
    two = Subscriber.objects.get(email="two@example.org")
    assert (two.frequency, two.keywords, two.authors, two.status) == ("weekly", "knowledge distillation, -survey", "Geoffrey Hinton", "active")
    assert Subscriber.objects.count() == 2


def test_import_rejects_a_file_without_an_email_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,topics\nx,y\n")
    with pytest.raises(CommandError, match="needs an 'email' column"):
        call_command("import_subscribers", str(path))


def test_import_refuses_to_resubscribe_people_who_left(tmp_path, capsys, make_subscriber):
    make_subscriber("left@example.org", status="unsubscribed", keywords="LoRA")
    make_subscriber("stays@example.org", keywords="LoRA")
    path = tmp_path / "list.csv"
    path.write_text("email,keywords\nleft@example.org,pruning\nstays@example.org,pruning\nnew@example.org,pruning\n")
    call_command("import_subscribers", str(path))
    out, err = capsys.readouterr()
    assert "3 rows: 1 added, 1 updated, 1 refused, 0 errors" in out
    assert "line 2: left@example.org unsubscribed" in err and "--resubscribe" in err
    assert Subscriber.objects.get(email="left@example.org").status == "unsubscribed"
    # --resubscribe needs a consent column saying when and how each person asked again.
    with pytest.raises(CommandError, match="consent"):
        call_command("import_subscribers", str(path), "--resubscribe")
    path.write_text("email,keywords,consent\nleft@example.org,pruning,re-opted in by email 2026-03-01\n"
                    "new2@example.org,pruning,\n")
    call_command("import_subscribers", str(path), "--resubscribe")
    assert "2 rows: 1 added, 1 updated, 0 refused, 0 errors" in capsys.readouterr().out
    left = Subscriber.objects.get(email="left@example.org")
    assert left.status == "active" and "re-opted in by email 2026-03-01" in left.consent_source


def test_import_with_resubscribe_still_refuses_a_row_without_consent(tmp_path, capsys, make_subscriber):
    make_subscriber("left@example.org", status="unsubscribed", keywords="LoRA")
    path = tmp_path / "list.csv"
    path.write_text("email,keywords,consent\nleft@example.org,pruning,\n")
    call_command("import_subscribers", str(path), "--resubscribe")
    assert "1 rows: 0 added, 0 updated, 1 refused, 0 errors" in capsys.readouterr().out
    assert Subscriber.objects.get().status == "unsubscribed"


def test_the_csv_export_defuses_spreadsheet_formulas(admin_client_logged_in, make_subscriber, tmp_path):
    import csv
    import io

    hostile = make_subscriber("x@example.org", keywords="=cmd|' /C calc'!A0, -survey",
                              authors="+SUM(1+1), @evil", categories="")
    response = admin_client_logged_in.post("/admin/subscribers/subscriber/",
                                           {"action": "export_csv", "_selected_action": [hostile.pk]})
    header, row = list(csv.reader(io.StringIO(response.content.decode())))
    cells = dict(zip(header, row))
    for cell in row:
        assert not cell or cell[0] not in "=+-@\t\r", cell
    assert cells["keywords"] == "'=cmd|' /C calc'!A0, -survey" and cells["authors"] == "'+SUM(1+1), @evil"
    # What the export writes, the import reads back unchanged.
    path = tmp_path / "back.csv"
    path.write_text("email,keywords,authors\n" + f'y@example.org,"{cells["keywords"]}","{cells["authors"]}"\n')
    call_command("import_subscribers", str(path))
    again = Subscriber.objects.get(email="y@example.org")
    assert again.keywords.startswith("=cmd|' /C calc'!A0") and again.authors == "+SUM(1+1), @evil"
