from __future__ import annotations

import datetime as dt
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache

from tests.services import (
    RedisServer,
    SMTPServer,
    WorkerFactory,
    child_env,
    database_url_for_children,
    point_celery_at,
)

# The live test server (Django's ThreadedWSGIServer) listens with a backlog of 10; the
# throttling test opens 60 connections at once, and past the backlog the kernel drops or
# resets some of them (a ConnectionResetError seen on one CI run), which tests the socket
# queue rather than the rate limit. A deployment's server (gunicorn) sets its own backlog.
from django.core.servers.basehttp import ThreadedWSGIServer  # noqa: E402

ThreadedWSGIServer.request_queue_size = 128

ROOT = Path(__file__).resolve().parent.parent
# The shared real-world inputs live beside the checkout (../shared/data); PAPERPOST_DATA
# points elsewhere. The seed page is also in samples/ for `make run`.
DATA = Path(os.environ.get("PAPERPOST_DATA", ROOT.parent / "shared" / "data"))
PAGE = ROOT / "samples" / "daily-papers-page.txt"
PAGE_DATE = dt.date(2026, 3, 19)


def data_file(relative: str) -> Path:
    path = DATA / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: the shared data set belongs at ../shared/data "
                    "(or set PAPERPOST_DATA)", pytrace=False)
    return path


@pytest.fixture(autouse=True)
def _starter_topics(request):
    """Transactional tests flush the database, data migrations included: put the starter
    topics back for every test that uses the database."""
    if "django_db_setup" in request.fixturenames:
        transactional = "transactional_db" in request.fixturenames or "live_server" in request.fixturenames
        marker = request.node.get_closest_marker("django_db")
        if marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
            transactional = True
        request.getfixturevalue("transactional_db" if transactional else "db")
        from digest.models import Topic
        from digest.starter_topics import load_starter_topics

        load_starter_topics(Topic)


@pytest.fixture(autouse=True)
def _clean_cache():
    from digest.corpus import forget
    from digest.pagecache import forget_content_version

    cache.clear()
    forget_content_version()
    forget()
    yield
    cache.clear()
    forget_content_version()
    forget()


@pytest.fixture
def page_bytes() -> bytes:
    return PAGE.read_bytes()


@pytest.fixture
def batch(db, page_bytes):
    """The daily-papers page ingested and published."""
    from digest.ingest.pipeline import ingest_bytes
    from digest.models import Batch

    ingest_bytes(page_bytes, date=PAGE_DATE)
    found = Batch.objects.get(date=PAGE_DATE)
    found.publish()
    return found


@pytest.fixture
def make_subscriber(db):
    from digest.models import Topic
    from subscribers.models import Subscriber

    def make(email="reader@example.org", topics=(), keywords="", categories="", authors="",
             status=Subscriber.Status.ACTIVE, **fields):
        subscriber = Subscriber.objects.create(
            email=email, status=status, keywords=keywords, categories=categories, authors=authors, **fields
        )
        subscriber.topics.set(Topic.objects.filter(slug__in=topics))
        return subscriber

    return make


# --- Real services -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def workers(redis_server, smtp_server, settings, tmp_path):
    """Start Celery worker processes against the test database, the Redis server and the
    SMTP server, and make this process queue tasks on that Redis."""
    redis_server_client_flush(redis_server)
    env = child_env(**{
        "DATABASE_URL": database_url_for_children(),
        "REDIS_URL": redis_server.url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_TIMEOUT": "10",
        "SECRET_KEY": settings.SECRET_KEY,
        "SITE_URL": settings.SITE_URL,
        "PAPERPOST_VAR_DIR": str(tmp_path / "worker-var"),
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    })
    factory = WorkerFactory(env=env, logdir=tmp_path)
    point_celery_at(redis_server.url)
    yield factory
    factory.stop_all()
    point_celery_at(None)


@pytest.fixture
def fast(settings):
    """This process's sweep and retry settings as short as the workers' (delivery_checks.FAST)."""
    from tests.delivery_checks import FAST

    for name, value in FAST.items():
        setattr(settings, name, float(value) if "." in value else int(value))
    return FAST


def redis_server_client_flush(server: RedisServer) -> None:
    import redis

    redis.Redis.from_url(server.url).flushall()


# --- A real browser -------------------------------------------------------------------------------

CHROMIUM = os.environ.get("PAPERPOST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
SCREENSHOTS = ROOT / "var" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (its own browser download is not used)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` "
                    "(scripts/system-deps.sh does)", pytrace=False)
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between page steps are still synchronous, so Django's async-safety check is lifted.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield instance
    instance.close()
    playwright.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    # Every browser test doubles as a Content-Security-Policy test: the browser reports each
    # script, style or resource the policy blocked on the console.
    blocked = []
    page.on("console", lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page
    context.close()
    assert not blocked, f"the Content-Security-Policy blocked: {blocked}"


@pytest.fixture
def site(live_server, settings, smtp_server):
    """The live server, with links in emails pointing at it and mail going to the real
    SMTP test server."""
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_TIMEOUT = 10
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return live_server


# --- The community: members and their sessions ----------------------------------------------------


@pytest.fixture
def make_member(db):
    """make_member("alice@example.org", name="Alice") -> the user (a reader account)."""
    from community.members import member_for, user_for_email

    def make(email="alice@example.org", name="Alice", **fields):
        user = user_for_email(email)
        member = member_for(user)
        for key, value in {"display_name": name or "", **fields}.items():
            setattr(member, key, value)
        member.save()
        return user

    return make


@pytest.fixture
def member_client(make_member):
    """A client signed in as a new member (with CSRF checks, like a browser)."""
    from django.test import Client

    def make(email="alice@example.org", name="Alice", **fields):
        client = Client(enforce_csrf_checks=True)
        client.user = make_member(email, name, **fields)
        client.force_login(client.user)
        client.get("/login/")  # sets the CSRF cookie
        return client

    return make


def csrf_post(client, path, data=None, **extra):
    """POST with the client's CSRF cookie as the form token, as a browser form does."""
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    return client.post(path, {**(data or {}), "csrfmiddlewaretoken": token}, **extra)


# --- arXiv's API, recorded ------------------------------------------------------------------------


class _ArxivAPI(http.server.BaseHTTPRequestHandler):
    """Answers like export.arxiv.org/api/query with recorded responses: 1605.08386 is known,
    any other id gets arXiv's empty answer."""

    asked: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        wanted = parse_qs(urlsplit(self.path).query)["id_list"][0].split(",")
        _ArxivAPI.asked.append(",".join(wanted))
        folder = "arxiv_api_atom/derived_bodies/"
        name = "1605.08386" if "1605.08386" in wanted else "0000.0000"
        body = data_file(f"{folder}arxivpy_recorded_2026_id_{name}.body.xml").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def arxiv_api(settings):
    """A local server in place of export.arxiv.org/api/query (ARXIV_API_URL), reached through
    the ingest guards (loopback allowed for it); `.asked` lists the id lists it was asked for."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ArxivAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ARXIV_API_URL = f"http://127.0.0.1:{server.server_address[1]}/api/query"
    settings.INGEST_ALLOWED_HOSTS = ["127.0.0.1"]
    _ArxivAPI.asked = []
    yield _ArxivAPI
    server.shutdown()
