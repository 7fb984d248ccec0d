"""Limits that must hold under concurrency and against guessing: the subscribe form's per-IP
limit with 60 parallel posts against a live server (real HTTP, real threads), and admin
login throttling per IP and per username, visible in the admin."""

import re
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


def csrf_of(base_url: str) -> tuple[str, str]:
    with urllib.request.urlopen(base_url + "/", timeout=30) as response:
        html = response.read().decode()
        cookie = response.headers.get_all("Set-Cookie") or []
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    csrf_cookie = next(c.split(";")[0] for c in cookie if c.startswith("csrftoken="))
    return token, csrf_cookie


def post(url: str, fields: dict, cookie: str) -> int:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST",
                                     headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_sixty_parallel_posts_from_one_ip_let_exactly_the_limit_through(live_server, settings):
    from subscribers.models import Subscriber

    settings.SUBSCRIBE_RATE_PER_IP = "10/600"
    token, cookie = csrf_of(live_server.url)

    def one(i):
        fields = {"email": f"p{i}@example.org", "keywords": "LoRA", "frequency": "daily",
                  "csrfmiddlewaretoken": token}
        return post(live_server.url + "/subscribe/", fields, cookie)

    with ThreadPoolExecutor(max_workers=60) as pool:
        statuses = list(pool.map(one, range(60)))
    assert statuses.count(200) == 10 and statuses.count(429) == 50, statuses
    assert Subscriber.objects.count() == 10


def test_the_counter_is_atomic_across_threads(settings):
    """The primitive itself, hammered from threads (each with its own database connection)."""
    from django.db import connection

    from paperpost.ratelimit import allow

    def one(_):
        try:
            return allow("test-scope", "198.51.100.9", 25, 600)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(one, range(120)))
    assert results.count(True) == 25


# --- Admin login throttling -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Dozens of sign-ins per test: a cheap hasher keeps them quick (the throttling is the point).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def curator(django_user_model):
    return django_user_model.objects.create_superuser("curator", "curator@example.org", "correct horse battery")


def login(username, password, ip):
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password},
                           REMOTE_ADDR=ip)
    return client, response


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_thirty_wrong_passwords_lock_the_ip_out_even_for_the_right_one(curator):
    for _ in range(30):
        login("curator", "wrong", "203.0.113.7")
    client, response = login("curator", "correct horse battery", "203.0.113.7")
    assert response.status_code == 429 and "Too many failed sign-ins" in response.content.decode()
    assert not logged_in(client)


def test_guessing_one_username_from_many_addresses_locks_that_username(curator):
    for i in range(30):
        login("curator", "wrong", f"198.51.100.{i}")
    client, response = login("curator", "correct horse battery", "192.0.2.200")
    assert response.status_code == 429 and not logged_in(client)


def test_guessing_many_usernames_from_one_address_locks_that_address(curator):
    for i in range(30):
        login(f"user{i}", "wrong", "203.0.113.99")
    client, response = login("curator", "correct horse battery", "203.0.113.99")
    assert response.status_code == 429 and not logged_in(client)


def test_a_few_mistakes_do_not_lock_anyone_out(curator):
    for _ in range(3):
        login("curator", "wrong", "203.0.113.8")
    client, _ = login("curator", "correct horse battery", "203.0.113.8")
    assert logged_in(client)


def test_lockouts_are_listed_in_the_admin(curator, django_user_model):
    for _ in range(10):
        login("curator", "wrong", "203.0.113.7")
    other = django_user_model.objects.create_superuser("ops", "ops@example.org", "another long password")
    client = Client()
    client.force_login(other)
    html = client.get("/admin/axes/accessattempt/").content.decode()
    assert "203.0.113.7" in html and "curator" in html
