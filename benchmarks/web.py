#!/usr/bin/env python
"""Public pages under load: `/` and `/feed/` against a static file of the same size served
by the same server, in one run.

Production settings: gunicorn (sync workers), DEBUG off, the cache on Redis, WhiteNoise for
static files; SQLite (or the database DATABASE_URL names, which must be throwaway). wrk
keeps 50 connections open on loopback for each URL in turn. Prints a table and one JSON
line: rps_home, rps_feed, rps_static (of the home page's size), ratio_to_static (the lower
of the two pages' ratios to their same-size static file), p99_ms (the worse page) and errors.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CONNECTIONS = 50
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "3"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


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
    port, redis_port = free_port(), free_port()
    env = {
        **os.environ,
        "PAPERPOST_VAR_DIR": str(work / "var"),
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 40,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "LOG_LEVEL": "WARNING",
    }
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = f"sqlite:///{work / 'web.sqlite3'}"
    procs = [subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(redis_port),
                               "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL)]

    def manage(*args):
        subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)

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
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
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
    }))


if __name__ == "__main__":
    main()
