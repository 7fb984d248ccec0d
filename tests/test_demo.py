"""`make run`'s steps on a fresh var/ (migrate, collectstatic, scripts/sample-data.sh,
scripts/run.sh) serve the demo a newcomer sees: several days of real papers with authors,
votes and links, static files through whitenoise, and the site's own error pages."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT
from tests.services import free_port

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_make_run_serves_the_demo_with_the_sites_own_error_pages(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SITE_URL", "DEBUG", "EMAIL_HOST", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(PAPERPOST_VAR_DIR=str(tmp_path / "var"), PORT=str(port), PY=sys.executable)
    py = [sys.executable, "manage.py"]
    for step in ([*py, "migrate", "--noinput"], [*py, "collectstatic", "--noinput", "--verbosity", "0"],
                 ["scripts/sample-data.sh"]):
        done = subprocess.run(step, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert "published the batch of 2026-07-31: 35 papers" in done.stdout
    again = subprocess.run(["scripts/sample-data.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "0 new" in again.stdout  # running it again changes nothing
    server = subprocess.Popen(["scripts/run.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                status, home = get(base + "/")
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("scripts/run.sh did not start serving")
        assert status == 200 and "Papers of Friday 31 July 2026" in home
        assert "Jinsen Su" in home and "17 on HF" in home and ">arXiv</a>" in home and 'rel="prev"' in home
        status, css = get(base + "/static/css/site.css")
        assert status == 200 and "--accent" in css  # whitenoise, with DEBUG off
        status, missing = get(base + "/u/not-a-token/unsubscribe/")
        assert status == 404 and "Not found · Paperpost" in missing and "URLconf" not in missing
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
