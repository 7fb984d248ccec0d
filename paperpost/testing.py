"""The pytest plugin that keeps a test session apart from a running Paperpost.

pyproject.toml loads it with `-p paperpost.testing`, so it runs before pytest-django reads
the settings. (A conftest.py would be too late, and this package, unlike tests/, can be
imported however pytest is started.)

A test run must share nothing with a `make run` in the same checkout or the same shell: not
its SQLite file, not its file cache (the tests clear theirs before every test), not its
outbox, not its Redis (a cache clear there is a FLUSHDB of the broker too). So:
- the session gets a var/ of its own, a temporary directory removed at the end, whatever
  PAPERPOST_VAR_DIR says;
- the variables that point settings at outside services or another address (REDIS_URL, the
  EMAIL_* server, SITE_URL, PORT, ...) are dropped: tests that need Redis or an SMTP server
  start their own (tests/services.py) and hand them to the processes they start.
DATABASE_URL stays: CI points it at a throwaway PostgreSQL, and the tests use a database of
their own there (TEST_DATABASE_NAME, test_paperpost). tests/test_isolation.py runs tests
beside a live embedded server and checks that it saw none of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from paperpost.embedded import prepare

# Settings that would connect the tests to someone else's services or address.
OUTSIDE = (
    "REDIS_URL", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS",
    "SITE_URL", "PORT", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
)

VAR_DIR = tempfile.mkdtemp(prefix="paperpost-test-var-")
os.environ["PAPERPOST_VAR_DIR"] = VAR_DIR
for name in OUTSIDE:
    os.environ.pop(name, None)
# The tests pin the LSA engine's figures (the processes they start too); the dense
# encoder's tests (tests/test_dense_encoder.py) switch it on themselves.
os.environ["MATCH_EMBEDDING_MODEL"] = ""
# Settings write nothing on import: the session's var/ (its static/ and, without SECRET_KEY,
# a key the workers the tests start are given too) is made as manage.py makes var/.
prepare()


def pytest_report_header(config) -> str:
    return f"paperpost: this session's var/ is {VAR_DIR} (removed at the end)"


def pytest_unconfigure(config) -> None:
    shutil.rmtree(VAR_DIR, ignore_errors=True)
