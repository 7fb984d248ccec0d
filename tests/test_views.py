import pytest
from django.test import Client

from subscribers.models import Subscriber
from subscribers.tokens import make_token


@pytest.mark.django_db
def test_home_shows_the_latest_published_batch_with_the_subscribe_form(client, batch):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Papers of Thursday 19 March 2026" in html
    assert html.count('<span class="rank">') == 30 and "93 papers" in html
    assert "DreamSync: Aligning Text-to-Image Generation" in html
    assert 'action="/subscribe/"' in html and "csrfmiddlewaretoken" in html
    assert any('href="https://github.com/SKDDJ/LoLDU"' in client.get(f"/?page={n}").content.decode() for n in (1, 2, 3, 4))


@pytest.mark.django_db
def test_home_without_a_published_batch_says_so(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No papers have been published yet" in response.content.decode()


@pytest.mark.django_db
def test_draft_batches_are_not_public(client, page_bytes):
    from digest.ingest.pipeline import ingest_bytes

    ingest_bytes(page_bytes)
    assert "DreamSync" not in client.get("/").content.decode()
    assert client.get("/papers/2026-03-19/").status_code == 404


@pytest.mark.django_db
def test_a_day_and_a_paper_page(client, batch):
    assert client.get("/papers/2026-03-19/").status_code == 200
    from digest.models import Paper

    paper = Paper.objects.get(title__startswith="LoLDU")
    response = client.get(paper.get_absolute_url())
    assert response.status_code == 200 and "LoLDU" in response.content.decode()
    assert client.get("/paper/title:no-such-paper/").status_code == 404


@pytest.mark.django_db
def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "in-process"}


@pytest.mark.django_db
def test_the_subscribe_form_stores_a_pending_subscriber(batch):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/")
    token = page.cookies["csrftoken"].value
    response = client.post("/subscribe/", {
        "email": "New@Example.org", "topics": [], "keywords": "LoRA", "frequency": "daily",
        "csrfmiddlewaretoken": token,
    })
    assert response.status_code == 200
    assert "Check your inbox" in response.content.decode()
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "new@example.org"
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.consent_ip == "127.0.0.1"


@pytest.mark.django_db
def test_the_subscribe_form_needs_a_csrf_token(batch):
    response = Client(enforce_csrf_checks=True).post("/subscribe/", {"email": "a@example.org", "keywords": "x"})
    assert response.status_code == 403
    assert Subscriber.objects.count() == 0


@pytest.mark.django_db
def test_a_bad_email_gets_a_clear_error(client, batch):
    response = client.post("/subscribe/", {"email": "not-an-address", "keywords": "LoRA", "frequency": "daily"})
    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()
    assert Subscriber.objects.count() == 0


@pytest.mark.django_db
def test_unsubscribe_get_only_asks(client, make_subscriber):
    subscriber = make_subscriber()
    response = client.get(f"/u/{make_token(subscriber, 'unsubscribe')}/unsubscribe/")
    assert response.status_code == 200 and "<form" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


@pytest.mark.django_db
def test_one_click_unsubscribe_works_without_cookies_or_csrf(make_subscriber):
    subscriber = make_subscriber()
    url = f"/u/{make_token(subscriber, 'unsubscribe')}/unsubscribe/"
    client = Client(enforce_csrf_checks=True)
    for _ in range(2):  # idempotent
        response = client.post(url, data="List-Unsubscribe=One-Click",
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_tokens_are_bound_to_their_purpose(client, make_subscriber):
    subscriber = make_subscriber()
    manage_token = make_token(subscriber, "manage")
    assert client.get(f"/u/{manage_token}/unsubscribe/").status_code == 404
    assert client.post(f"/u/{manage_token}/unsubscribe/", data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded").status_code == 404
    assert client.get(f"/u/{manage_token}/").status_code == 200
    assert client.get("/u/garbage/").status_code == 404
    tampered = manage_token[:-2] + ("AA" if not manage_token.endswith("AA") else "BB")
    assert client.get(f"/u/{tampered}/").status_code == 404
