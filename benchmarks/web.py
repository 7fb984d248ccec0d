#!/usr/bin/env python
"""Public pages under load: `/` and `/feed/` against a static file of the same size served
by the same server, in one run; then 50 concurrent voters on one paper (see vote_check).

Production settings: gunicorn (sync workers), DEBUG off, the cache on Redis, WhiteNoise for
static files; SQLite (or the database DATABASE_URL names, which must be throwaway). wrk
keeps 50 connections open on loopback for each URL in turn. Prints a table and one JSON
line: rps_home, rps_feed, rps_static (of the home page's size), ratio_to_static (the lower
of the two pages' ratios to their same-size static file), p99_ms (the worse page) and errors,
and the vote check's figures (votes_lost and votes_doubled must be 0).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.services import RedisServer, free_port, wait_for  # noqa: E402  (the tests' real services)

PY = sys.executable
CONNECTIONS = 50
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "3"))


def wait_http(url: str, timeout: float = 30) -> bytes:
    def fetch():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            return None

    return wait_for(fetch, timeout, url, interval=0.2)


def wrk(url: str) -> dict:
    wrk_bin = shutil.which("wrk")
    if not wrk_bin:
        raise SystemExit("wrk is missing: apt-get install -y wrk (scripts/system-deps.sh bench does)")
    out = subprocess.run([wrk_bin, "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return {"rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"), "errors": errors}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="pp-web-"))
    port = free_port()
    redis = RedisServer(work / "redis")
    redis.start()
    env = {
        **os.environ,
        "PAPERPOST_VAR_DIR": str(work / "var"),
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 40,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "REDIS_URL": redis.url,
        "LOG_LEVEL": "WARNING",
        # The 50 voters share one loopback address: lift the per-IP vote limit for the check.
        "VOTE_RATE_PER_IP": "100000/60",
    }
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = f"sqlite:///{work / 'web.sqlite3'}"
    procs = []

    def manage(*args):
        subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)

    def manage_output(*args) -> str:
        return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                              text=True).stdout

    try:
        if os.environ.get("DATABASE_URL"):
            manage("flush", "--noinput")
        manage("migrate", "--noinput")
        manage("ingest", str(ROOT / "samples" / "daily-papers-page.txt"))
        manage("publish")
        manage("collectstatic", "--noinput")
        # The static files to compare with: the same bytes as the pages, served by the same
        # server (WhiteNoise inside gunicorn), created before it starts.
        gunicorn_cmd = [PY, "-m", "gunicorn", "paperpost.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
                        str(GUNICORN_WORKERS), "--log-level", "warning", "--backlog", "2048"]
        probe = subprocess.Popen(gunicorn_cmd, cwd=ROOT, env=env)
        home = wait_http(f"http://127.0.0.1:{port}/")
        feed = wait_http(f"http://127.0.0.1:{port}/feed/")
        probe.send_signal(signal.SIGTERM)
        probe.wait(30)
        static_root = work / "var" / "static"
        (static_root / "bench").mkdir(exist_ok=True)
        (static_root / "bench" / "home.html").write_bytes(home)
        (static_root / "bench" / "feed.xml").write_bytes(feed)
        server = subprocess.Popen(gunicorn_cmd, cwd=ROOT, env=env)
        procs.append(server)
        wait_http(f"http://127.0.0.1:{port}/static/bench/home.html")
        results = {}
        for name, path in [("static_home", "/static/bench/home.html"), ("home", "/"),
                           ("static_feed", "/static/bench/feed.xml"), ("feed", "/feed/")]:
            wait_http(f"http://127.0.0.1:{port}{path}")  # warm the caches
            results[name] = wrk(f"http://127.0.0.1:{port}{path}")
        votes = vote_check(f"http://127.0.0.1:{port}", manage_output)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)

    home_ratio = results["home"]["rps"] / results["static_home"]["rps"]
    feed_ratio = results["feed"]["rps"] / results["static_feed"]["rps"]
    db = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    print(f"web benchmark: gunicorn {GUNICORN_WORKERS} sync workers, Redis cache, {db}, wrk {CONNECTIONS} connections x {DURATION}s")
    print(f"{'URL':34s} {'bytes':>8s} {'req/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s}")
    sizes = {"home": len(home), "static_home": len(home), "feed": len(feed), "static_feed": len(feed)}
    for name, label in [("static_home", "static file, home's size"), ("home", "/"),
                        ("static_feed", "static file, feed's size"), ("feed", "/feed/")]:
        r = results[name]
        print(f"{label:34s} {sizes[name]:8,d} {r['rps']:8.0f} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['errors']:6d}")
    print(f"ratio to static: / {home_ratio:.2f}, /feed/ {feed_ratio:.2f}")
    print_votes(votes)
    print(json.dumps({
        "benchmark": "web",
        "database": db.lower(),
        "rps_home": round(results["home"]["rps"], 1),
        "rps_feed": round(results["feed"]["rps"], 1),
        "rps_static": round(results["static_home"]["rps"], 1),
        "rps_static_feed_size": round(results["static_feed"]["rps"], 1),
        "ratio_to_static": round(min(home_ratio, feed_ratio), 3),
        "p99_ms": round(max(results["home"]["p99_ms"], results["feed"]["p99_ms"]), 2),
        "errors": sum(r["errors"] for r in results.values()),
        "voters": votes["voters"],
        "votes_counted": votes["counted"],
        "votes_lost": votes["lost"],
        "votes_doubled": votes["doubled"],
        "vote_p50_ms": votes["p50_ms"],
        "vote_p99_ms": votes["p99_ms"],
        "naive_counter_lost": votes["naive_lost"],
    }))


# --- 50 concurrent voters on one paper -------------------------------------------------------

VOTERS = 50

# Run by `manage.py shell -c`: 50 signed-in members (sessions made as a sign-in makes them).
_MAKE_VOTERS = """
import json
from django.test import Client
from community.members import member_for, user_for_email
sessions = []
for i in range(%d):
    user = user_for_email(f"voter{i}@bench.example")
    member = member_for(user); member.display_name = f"Voter {i}"; member.save()
    client = Client(); client.force_login(user)
    sessions.append(client.cookies["sessionid"].value)
print(json.dumps(sessions))
"""

# The baseline: the same 50 threads bumping a counter by read-modify-write (no row lock, no
# unique vote row), which is what a vote counter without the database's help does.
_NAIVE = """
import json, threading
from django.db import connection
from digest.models import Paper
paper = Paper.objects.order_by("pk").last()
Paper.objects.filter(pk=paper.pk).update(community_votes=0)
barrier = threading.Barrier(%d)
def bump():
    barrier.wait()
    p = Paper.objects.get(pk=paper.pk)
    p.community_votes = p.community_votes + 1
    Paper.objects.filter(pk=p.pk).update(community_votes=p.community_votes)
    connection.close()
threads = [threading.Thread(target=bump) for _ in range(%d)]
[t.start() for t in threads]; [t.join() for t in threads]
counted = Paper.objects.get(pk=paper.pk).community_votes
Paper.objects.filter(pk=paper.pk).update(community_votes=0)
print(json.dumps({"counted": counted}))
"""

_COUNT = """
import json
from community.counts import drift
from community.models import Vote
from community.lookup import published_paper
paper = published_paper(%r)
print(json.dumps({"rows": Vote.objects.filter(paper=paper).count(), "stored": paper.community_votes, "drift": drift()}))
"""


def vote_check(base: str, manage_output) -> dict:
    """50 signed-in voters press Upvote on the same paper at the same moment, each twice (a
    double click), over real HTTP against the live server: every vote must count once."""
    import http.cookiejar
    import statistics
    import threading
    import urllib.parse

    sessions = json.loads(manage_output("shell", "-c", _MAKE_VOTERS % VOTERS).strip().splitlines()[-1])
    first = json.loads(wait_http(f"{base}/api/papers/?per_page=1"))["results"][0]
    identifier = first["id"]
    start = threading.Barrier(VOTERS)
    timings, statuses, errors = [], [], []
    lock = threading.Lock()

    def voter(session_key: str) -> None:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar),
                                             _NoRedirect())
        host = urllib.parse.urlsplit(base).hostname
        jar.set_cookie(_cookie("sessionid", session_key, host))
        try:
            opener.open(f"{base}/login/", timeout=30).read()  # the CSRF cookie, as a browser gets it
            token = next(c.value for c in jar if c.name == "csrftoken")
            body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "next": "/"}).encode()
            start.wait()
            for _ in range(2):
                began = time.perf_counter()
                request = urllib.request.Request(f"{base}/paper/{identifier}/upvote/", data=body, method="POST",
                                                 headers={"Referer": base + "/"})
                try:
                    status = opener.open(request, timeout=60).status
                except urllib.error.HTTPError as exc:
                    status = exc.code
                with lock:
                    timings.append((time.perf_counter() - began) * 1000)
                    statuses.append(status)
        except Exception as exc:  # noqa: BLE001 (counted and printed)
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=voter, args=(key,)) for key in sessions]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    counts = json.loads(manage_output("shell", "-c", _COUNT % identifier).strip().splitlines()[-1])
    time.sleep(1.2)  # the page-cache version is reused for up to a second per process
    shown = json.loads(wait_http(f"{base}/api/papers/{identifier}/"))["votes"]["community"]
    naive = json.loads(manage_output("shell", "-c", _NAIVE % (VOTERS, VOTERS)).strip().splitlines()[-1])
    timings.sort()
    return {
        "voters": VOTERS, "requests": len(statuses), "non_redirect": sum(1 for s in statuses if s != 302),
        "errors": errors, "counted": counts["stored"], "rows": counts["rows"], "shown": shown,
        "lost": max(0, VOTERS - counts["rows"]) + abs(counts["rows"] - counts["stored"]),
        "doubled": max(0, counts["rows"] - VOTERS), "drift": counts["drift"], "seconds": round(seconds, 2),
        "p50_ms": round(statistics.median(timings), 1) if timings else None,
        "p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 1) if timings else None,
        "naive_lost": VOTERS - naive["counted"],
    }


def print_votes(v: dict) -> None:
    print(f"vote check: {v['voters']} signed-in voters, one paper, each POSTs upvote twice at once "
          f"({v['requests']} requests in {v['seconds']} s)")
    print(f"{'counter':34s} {'votes':>6s} {'lost':>5s} {'doubled':>7s} {'p50 ms':>7s} {'p99 ms':>7s}")
    print(f"{'Paperpost (HTTP, live server)':34s} {v['counted']:6d} {v['lost']:5d} {v['doubled']:7d} "
          f"{v['p50_ms']:7.1f} {v['p99_ms']:7.1f}")
    print(f"{'naive read-modify-write (threads)':34s} {VOTERS - v['naive_lost']:6d} {v['naive_lost']:5d} {0:7d}")
    print(f"API shows {v['shown']} community votes; stored count drift {v['drift']}; "
          f"non-redirect answers {v['non_redirect']}; client errors {len(v['errors'])}")
    if v["lost"] or v["doubled"] or v["errors"] or v["shown"] != v["voters"]:
        raise SystemExit(f"vote check failed: {v}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _cookie(name: str, value: str, host: str):
    import http.cookiejar

    return http.cookiejar.Cookie(0, name, value, None, False, host, False, False, "/", True, False, None, False,
                                 None, None, {})


if __name__ == "__main__":
    main()
