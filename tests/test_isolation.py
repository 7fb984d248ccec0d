"""Tests share nothing with a running `make run`: its database, its cache, its outbox and its
Redis stay untouched however the tests are started (paperpost.testing gives each session a
var/ of its own and drops the variables that point at outside services).

The integration test starts the embedded server the way `make run` does, on a free port with
a var/ of its own, then runs real tests beside it in a second pytest process whose shell
points PAPERPOST_VAR_DIR at the server's var/ (as sharing the checkout's var/ did) and
REDIS_URL and EMAIL_HOST at servers that do not exist, while a thread keeps reading the
server's feed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import feedparser
import pytest
from django.conf import settings

from paperpost import testing
from tests.services import ROOT, free_port, wait_for


def inside(path, folder) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def test_the_session_writes_only_in_a_var_of_its_own():
    var = Path(settings.VAR_DIR)
    assert var == Path(testing.VAR_DIR) and not inside(var, ROOT)
    assert os.environ["PAPERPOST_VAR_DIR"] == testing.VAR_DIR  # and so do the processes tests start
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        assert inside(database["TEST"]["NAME"], var)
    else:
        assert database["TEST"]["NAME"].startswith("test_")
    cache = settings.CACHES["default"]
    assert cache["BACKEND"].endswith("FileBasedCache") and inside(cache["LOCATION"], var)
    assert inside(settings.OUTBOX_DIR, var) and inside(settings.STATIC_ROOT, var)
    assert (var / "secret_key").exists() and not settings.REDIS_URL and not settings.EMAIL_HOST
    assert settings.CELERY_BROKER_URL.startswith("memory://")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def feed_titles(base: str) -> set[str]:
    return {entry.title for entry in feedparser.parse(get(base + "/feed/")).entries}


@pytest.fixture
def embedded_server(tmp_path):
    """The Makefile's `run` recipe (migrate, collectstatic, scripts/sample-data.sh,
    scripts/run.sh), with PAPERPOST_VAR_DIR for the checkout's var/ and a free port."""
    var, port = tmp_path / "server-var", free_port()
    env = {**os.environ, "PAPERPOST_VAR_DIR": str(var), "PORT": str(port), "PY": sys.executable}
    for name in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)  # the embedded mode: SQLite in its var/

    for step in ([sys.executable, "manage.py", "migrate", "--noinput"],
                 [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                 ["scripts/sample-data.sh"]):
        subprocess.run(step, cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen(["scripts/run.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return get(base + "/healthz")
        except OSError:
            return None

    try:
        wait_for(up, 60, "the embedded server to answer")
        yield base, var
    finally:
        os.killpg(process.pid, 15)
        process.wait(20)
        log.close()


@pytest.mark.integration
def test_tests_beside_a_running_server_leave_it_untouched(embedded_server, tmp_path):
    base, var = embedded_server
    titles = feed_titles(base)
    get(base + "/")
    assert titles
    with sqlite3.connect(var / "paperpost.sqlite3") as db:
        papers = db.execute("select count(*) from digest_paper").fetchone()
    cached = {p.name for p in (var / "cache").iterdir()}
    assert cached, "the server cached nothing"

    seen: list[set[str]] = []
    done = threading.Event()

    def read_the_feed():
        while not done.is_set():
            seen.append(feed_titles(base))

    reader = threading.Thread(target=read_the_feed)
    reader.start()
    env = {
        **os.environ,
        # The shell of someone who also runs the server, at its worst.
        "PAPERPOST_VAR_DIR": str(var),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(free_port()),
        # On PostgreSQL (CI's second run), not this session's own test database.
        "TEST_DATABASE_NAME": "test_paperpost_isolation",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    try:
        # Tests that ingest papers the server does not have, cache feeds, clear the cache
        # (every test does), subscribe, mail and hit the subscribe limits.
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "tests/test_site.py", "tests/test_subscriptions.py",
             "-k", "feeds_are_valid or conditional_get or subscribing_stores or fifty_posts_for_one_address"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )
    finally:
        done.set()
        reader.join(60)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "5 passed" in run.stdout, run.stdout[-1000:]

    # The server's cache was not cleared, its feed never showed a test's paper, its database
    # holds what `make run` put there and nothing else, and it mailed nobody.
    assert cached <= {p.name for p in (var / "cache").iterdir()}
    assert seen and all(each == titles for each in seen), [each - titles for each in seen if each != titles][:1]
    assert feed_titles(base) == titles
    with sqlite3.connect(var / "paperpost.sqlite3") as db:
        assert db.execute("select count(*) from digest_paper").fetchone() == papers
        assert db.execute("select count(*) from subscribers_subscriber").fetchone() == (0,)
        assert db.execute("select count(*) from paperpost_ratecounter").fetchone() == (0,)
    assert not (var / "outbox").exists() or not any((var / "outbox").iterdir())
