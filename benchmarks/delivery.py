#!/usr/bin/env python
"""Delivery speed and memory, against django-newsletter and the sink's ceiling, in one run.

1. The peer figures, in this run and on this machine: ../shared/peer-bench/run.sh runs
   django-newsletter's submit_newsletter to 10,000 subscribers (dn10k) and two raw smtplib
   processes sending pre-built bytes (raw2-prebuilt: what the sink can take at most, for
   44 KB messages).
2. The sink's ceiling at django-newsletter's own size: the same two raw senders of pre-built
   bytes (peer-bench's sender.py), with the article count whose message is nearest
   django-newsletter's bytes per message as measured in step 1; measured right before and
   right after 3b, and their mean taken.
3. Paperpost: 10,000 subscribers with varied interests get personalised digests of the
   daily-papers page, through a real Redis and real Celery worker processes, into the same
   sink (../shared/peer-bench/sink.py). Timed: `manage.py send_digest --wait`, start to exit.
   a. 12 papers per email (about 44 KB, peer-bench's default payload and ceiling);
   b. at equal size: 20 papers (django-newsletter's 20 articles) with the abstract length
      (DIGEST_ABSTRACT_CHARS) whose digests are nearest django-newsletter's bytes per message.
4. The 44 KB case with 100,000 subscribers, for memory: the worker's and send_digest's peak
   RSS must stay flat (within 10%).

Prints a table and one JSON line (msgs_per_s, ratio_to_peer, share_of_ceiling, and at equal
size ratio_to_peer_equal_size, share_of_ceiling_equal_size, ...; worker_peak_mb_10k/100k).
Options: --skip-peer (no peer run: figures from the peer-bench README), --n-large N,
--no-equal-size, --profile N (only: where a worker's CPU per digest goes, at equal size).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from tests.services import RedisServer, WorkerFactory, free_port, wait_for  # noqa: E402  (the tests' real services)

PEER = Path(os.environ.get("PEER_BENCH", ROOT.parent / "shared" / "peer-bench"))
PY = sys.executable
# One more sending process than cores: each spends part of its time waiting for the SMTP
# server's reply, and a third process fills those gaps (measured: 2 processes 421 msgs/s,
# 3 processes 448 msgs/s, see benchmarks/README.md).
WORKERS = int(os.environ.get("BENCH_WORKERS", "3"))
# The machine is shared: the load before the run goes with the figures.
LOAD_BEFORE = " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_peer(out: Path) -> dict:
    """django-newsletter dn10k and the sink ceiling (raw2-prebuilt), one rep each."""
    env = {**os.environ, "PEER_BENCH_WORK": str(out / "work")}
    cmd = [str(PEER / "run.sh"), "dn10k", "raw2-prebuilt", "--reps", "1", "--out", str(out), "--quiet-wait", "20"]
    print("peer-bench:", " ".join(cmd), flush=True)
    subprocess.run(cmd, env=env, check=True)
    rows = {r["scenario"]: r for r in json.loads((out / "summary.json").read_text())}
    return {"dn10k": rows["dn10k"], "ceiling": rows["raw2-prebuilt"]}


def _sink(workdir: Path, tag: str) -> tuple[subprocess.Popen, int, Path]:
    port, stats = free_port(), workdir / f"sink-{tag}.json"
    stats.unlink(missing_ok=True)  # a stale file would pass for the new sink being up
    process = subprocess.Popen([PY, str(PEER / "sink.py"), str(port), "--stats-file", str(stats),
                                "--interval", "1"], stdout=subprocess.DEVNULL)
    wait_for(stats.exists, 10, "the sink")
    return process, port, stats


def _send(port: int, articles: int, count: int, procs: int) -> float:
    started = time.perf_counter()
    subprocess.run([PY, str(PEER / "sender.py"), str(port), "--count", str(count), "--procs", str(procs),
                    "--prebuild", "--articles", str(articles)], check=True, capture_output=True)
    return time.perf_counter() - started


def articles_for(target_bytes: int, workdir: Path) -> int:
    """The article count of peer-bench's sender.py whose message is nearest `target_bytes`."""
    process, port, stats = _sink(workdir, "probe")
    sizes = {}
    for articles in range(16, 27):
        before = json.loads(stats.read_text())["bytes"] if stats.exists() else 0
        _send(port, articles, 1, 1)
        time.sleep(1.2)
        sizes[articles] = json.loads(stats.read_text())["bytes"] - before
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    return min(sizes, key=lambda k: abs(sizes[k] - target_bytes))


def ceiling_at(articles: int, workdir: Path, tag: str) -> dict:
    """The sink's ceiling for messages of `articles` articles: two raw senders of pre-built
    bytes (peer-bench's sender.py), 10,000 messages."""
    process, port, stats = _sink(workdir, f"ceiling-{tag}")
    wall = _send(port, articles, 10_000, 2)
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    counted = json.loads(stats.read_text())
    return {"msgs_per_s": round(counted["messages"] / wall, 1), "bytes_per_msg": round(counted["bytes"] / counted["messages"]),
            "articles": articles}


def peak_kb(pid: int) -> int:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of processes, children waited for included (from /proc/<pid>/stat)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / tick
        except OSError:
            pass
    return total


def tree(pid: int) -> list[int]:
    """pid and its descendants (the Celery main process and its pool processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            children = []
        todo.extend(int(c) for c in children)
    return out


class Stack:
    """A throwaway database, Redis, the sink and Celery workers for one Paperpost run."""

    def __init__(self, workdir: Path, n: int, abstract_chars: int = 0, processes: int = WORKERS):
        self.workdir, self.n, self.processes = workdir, n, processes
        self.env = {
            **os.environ,
            "PAPERPOST_VAR_DIR": str(workdir / "var"),
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + "x" * 40,
            # INFO: the worker says "ready" at that level (one more log line per chunk).
            "LOG_LEVEL": "INFO",
            "DIGEST_CHUNK_SIZE": os.environ.get("DIGEST_CHUNK_SIZE", "200"),
        }
        if abstract_chars:
            self.env["DIGEST_ABSTRACT_CHARS"] = str(abstract_chars)
        if not os.environ.get("DATABASE_URL"):
            self.env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
        self.procs: list[subprocess.Popen] = []
        self.redis = self.workers = None

    def manage(self, *args, timed: bool = False) -> subprocess.CompletedProcess:
        cmd = [PY, "manage.py", *args]
        if timed:
            cmd = ["/usr/bin/time", "-v", "-o", str(self.workdir / "time.txt"), *cmd]
        return subprocess.run(cmd, cwd=ROOT, env=self.env, check=True, capture_output=True, text=True)

    def start(self):
        self.redis = RedisServer(self.workdir / "redis")
        self.redis.start()
        smtp_port = free_port()
        self.stats = self.workdir / "sink.json"
        self.procs.append(subprocess.Popen([PY, str(PEER / "sink.py"), str(smtp_port), "--stats-file", str(self.stats),
                                            "--interval", "1"], stdout=subprocess.DEVNULL))
        wait_for(self.stats.exists, 10, "the sink")
        self.env.update(REDIS_URL=self.redis.url, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port))
        self.workers = WorkerFactory(env=self.env, logdir=self.workdir)
        self.worker = self.workers.start(concurrency=self.processes, queues="mail", name="bench").process

    def worker_peak_mb(self) -> float:
        return max(peak_kb(p) for p in tree(self.worker.pid)) / 1024

    def sink_stats(self) -> dict:
        return json.loads(self.stats.read_text())

    def stop(self):
        """Stop whatever start() got to start."""
        if self.workers:
            self.workers.stop_all()
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        if self.redis:
            self.redis.stop()


SETUP = """
import random
from django.utils import timezone
from digest.models import Topic
from digest.starter_topics import load_starter_topics
from subscribers.models import Subscriber
load_starter_topics(Topic)  # a flushed database (DATABASE_URL runs) lost the data migration's topics
rng = random.Random(11)
N = {n}
extra = list(Topic.objects.exclude(slug="llm"))
llm = Topic.objects.get(slug="llm")
keywords = ["pruning", "LoRA", "benchmark", "-survey", "diffusion", "distillation", "reinforcement learning",
            "in-context learning", "graph", "few-shot", "data selection", "scaling law", "transformer"]
now = timezone.now()
batch = []
for i in range(N):
    batch.append(Subscriber(email=f"reader{{i:06d}}@example.org", status="active", confirmed_at=now, max_papers={papers},
                            keywords=", ".join(rng.sample(keywords, rng.randint(0, 3)))))
    if len(batch) == 5000:
        Subscriber.objects.bulk_create(batch)
        batch = []
Subscriber.objects.bulk_create(batch)
Through = Subscriber.topics.through
links = []
for pk in Subscriber.objects.values_list("pk", flat=True).iterator(chunk_size=5000):
    links.append(Through(subscriber_id=pk, topic_id=llm.pk))
    for t in rng.sample(extra, rng.randint(0, 3)):
        links.append(Through(subscriber_id=pk, topic_id=t.pk))
    if len(links) >= 20000:
        Through.objects.bulk_create(links)
        links = []
Through.objects.bulk_create(links)
print(Subscriber.objects.count())
"""


PROBE = """
import json
from django.conf import settings
from digest.models import Batch
from digest.selection import PeriodContent
from subscribers.emails import Digest, EditionInfo, PaperViews, Recipient, digest_message
from subscribers.models import Subscriber
batch = Batch.objects.published().order_by("-date").first()
content = PeriodContent(batch.date, batch.date)
# Every {step}th subscriber of the run's own population: how many papers clear a reader's
# floor varies from reader to reader, and the first few are not a fair sample of them all.
people = list(Subscriber.objects.order_by("pk")[::{step}])
# What each gets does not depend on the abstracts' length: selected once.
picks = [(person, *content.select(person.interests(), {papers})) for person in people]
sizes = {{}}


def size(cap):
    if cap not in sizes:
        settings.DIGEST_ABSTRACT_CHARS = cap
        views = PaperViews(content.papers)
        total = count = 0
        for person, matches, more in picks:
            if not matches:
                continue  # skipped: no email
            chosen = [(views.view(m.paper_id), m) for m in matches]
            message = digest_message(Digest(Recipient.of(person), EditionInfo(1, "daily", batch.date), 123456, chosen, more))
            total += len(message.message().as_bytes(linesep="\\r\\n"))
            count += 1
        sizes[cap] = total // count
    return sizes[cap]


# The size grows with the abstracts' length: a bisection for the first cap at or over the
# target, and the one before it.
caps, low, high = {caps}, 0, len({caps}) - 1
while low < high:
    middle = (low + high) // 2
    if size(caps[middle]) < {target}:
        low = middle + 1
    else:
        high = middle
size(caps[low]), size(caps[max(0, low - 1)])
print(json.dumps(sizes))
"""


def abstract_chars_for(target_bytes: int, papers: int, n: int) -> tuple[int, int]:
    """The DIGEST_ABSTRACT_CHARS whose digests of at most `papers` papers are nearest
    `target_bytes` on average, and that mean size, measured on 200 of the same `n`
    subscribers the run sends to (in a throwaway database)."""
    workdir = Path(tempfile.mkdtemp(prefix="pp-probe-"))
    stack = Stack(workdir, n)
    stack.manage("migrate", "--noinput")
    stack.manage("ingest", str(ROOT / "samples" / "daily-papers-page.txt"))
    stack.manage("publish")
    stack.manage("shell", "-c", SETUP.format(n=n, papers=papers))
    # From 100 characters: at 300, the shortest the probe used to try, Paperpost's 20-paper
    # digest was 6.7% larger than django-newsletter's email, measured at an unequal size.
    caps = list(range(100, 2001, 25))
    out = stack.manage("shell", "-c", PROBE.format(caps=caps, papers=papers, step=max(1, n // 200), target=target_bytes)).stdout
    sizes = {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}
    shutil.rmtree(workdir, ignore_errors=True)
    cap = min(sizes, key=lambda c: abs(sizes[c] - target_bytes))
    return cap, sizes[cap]


def paperpost_run(n: int, papers: int, abstract_chars: int = 0, processes: int = WORKERS) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"pp-delivery-{n}-"))
    stack = Stack(workdir, n, abstract_chars, processes)
    if os.environ.get("DATABASE_URL"):
        stack.manage("flush", "--noinput")
    stack.manage("migrate", "--noinput")
    stack.manage("ingest", str(ROOT / "samples" / "daily-papers-page.txt"))
    stack.manage("publish")
    stack.manage("shell", "-c", SETUP.format(n=n, papers=papers))
    try:
        stack.start()
        start, start_epoch = time.perf_counter(), time.time()
        done = stack.manage("send_digest", "--wait", "--timeout", "3000", timed=True)
        wall, end_epoch = time.perf_counter() - start, time.time()
        time.sleep(1.5)  # the sink writes its stats every second
        stats = stack.sink_stats()
        worker_mb = stack.worker_peak_mb()
        worker_cpu = cpu_seconds(tree(stack.worker.pid))
        timing = (workdir / "time.txt").read_text()
        send_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing).group(1)) / 1024
    finally:
        stack.stop()
    # A subscriber with nothing above their floor is skipped (no email): every row must be
    # sent or skipped, and the sink must have counted every one sent.
    counted = {k: int(v) for k, v in re.findall(r"(sent|skipped|failed|unknown) (\d+)", done.stdout.splitlines()[-1])}
    if stats["messages"] != counted.get("sent") or counted.get("sent", 0) + counted.get("skipped", 0) != n:
        raise SystemExit(f"the sink counted {stats['messages']} messages for {n} subscribers: {done.stdout[-500:]}")
    shutil.rmtree(workdir, ignore_errors=True)
    return {
        "n": n,
        "papers": papers,
        "abstract_chars": abstract_chars or None,
        "processes": processes,
        "wall_s": round(wall, 2),
        "msgs_per_s": round(stats["messages"] / wall, 1),
        "steady_msgs_per_s": round((stats["messages"] - 1) / max(1e-9, stats["last_msg_ts"] - stats["first_msg_ts"]), 1),
        "bytes_per_msg": round(stats["bytes"] / max(1, stats["messages"])),
        "connections": stats["connections"],
        # Before the first message reached the sink (start-up, the edition's rows, the first
        # chunk's loading), and after the last one (the last chunks' bookkeeping, --wait).
        "head_s": round(stats["first_msg_ts"] - start_epoch, 2),
        "tail_s": round(end_epoch - stats["last_msg_ts"], 2),
        "worker_peak_mb": round(worker_mb, 1),
        "send_digest_peak_mb": round(send_mb, 1),
        "sink_cpu_s": round(stats["cpu_user_s"] + stats["cpu_sys_s"], 1),
        "worker_cpu_ms_per_msg": round(1000 * worker_cpu / n, 2),
        "sink_cpu_ms_per_msg": round(1000 * (stats["cpu_user_s"] + stats["cpu_sys_s"]) / n, 2),
        "result": done.stdout.strip().splitlines()[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-peer", action="store_true", help="use the peer-bench README's figures instead")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n-large", type=int, default=100_000, help="0 skips the memory run")
    parser.add_argument("--papers", type=int, default=12,
                        help="papers per email (12 make ~44 KB, the size of peer-bench's default payload and ceiling)")
    parser.add_argument("--also-papers", type=int, default=0,
                        help="one more 10,000 run with this many papers (20 make ~67 KB, near django-newsletter's 75 KB)")
    parser.add_argument("--no-equal-size", action="store_true",
                        help="skip the runs at django-newsletter's message size (its ceiling and Paperpost's)")
    parser.add_argument("--scaling", metavar="1,2,3",
                        help="only: the 44 KB case with this many sending processes each (docs/scaling.md)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="only profile N digests in-process (20 papers, django-newsletter's size) and exit")
    parser.add_argument("--abstract-chars", type=int, default=0,
                        help="DIGEST_ABSTRACT_CHARS for --profile (default: as measured for the equal size)")
    args = parser.parse_args()
    from _setup import machine

    if args.scaling:
        scaling(args)
        return
    if args.profile:
        import _delivery_profile

        found = _delivery_profile.run(args.profile, 20, args.abstract_chars or 600, PEER, SETUP)
        _delivery_profile.report(found)
        print(json.dumps({"benchmark": "delivery-profile", "n": found["n"],
                          "shares": {k: round(v, 3) for k, v in found["shares"].items()}}))
        return

    out = Path(tempfile.mkdtemp(prefix="pp-peer-"))
    if args.skip_peer:
        peer = {"dn10k": {"msgs_per_s": 109.0, "bytes_per_msg": 74667, "peak_rss_mb": 61},
                "ceiling": {"msgs_per_s": 865.0, "bytes_per_msg": 44569}}
        print("peer figures from ../shared/peer-bench/README.md (not measured in this run)")
    else:
        peer = run_peer(out)
    peer_bytes = peer["dn10k"]["bytes_per_msg"]
    equal = equal_ceiling = None
    if not args.no_equal_size:
        articles = articles_for(peer_bytes, out)
        chars, probed = abstract_chars_for(peer_bytes, 20, args.n)
        print(f"equal size: django-newsletter sends {peer_bytes:,} bytes; the raw senders use {articles} articles; "
              f"Paperpost's 20 papers with DIGEST_ABSTRACT_CHARS={chars} make {probed:,} (probed)", flush=True)
    small = paperpost_run(args.n, args.papers)
    if not args.no_equal_size:
        # The ceiling at equal size right before and right after Paperpost's equal-size run, and
        # their mean: the share of the ceiling then compares adjacent minutes. Measured minutes
        # apart, the machine's drift moved it both ways (benchmarks/README.md, runs G and H).
        before = ceiling_at(articles, out, "before")
        equal = paperpost_run(args.n, 20, chars)
        after = ceiling_at(articles, out, "after")
        equal_ceiling = {**before, "msgs_per_s": round((before["msgs_per_s"] + after["msgs_per_s"]) / 2, 1),
                         "before": before["msgs_per_s"], "after": after["msgs_per_s"]}
    extra = paperpost_run(args.n, args.also_papers) if args.also_papers else None
    large = paperpost_run(args.n_large, args.papers) if args.n_large else None
    ratio = small["msgs_per_s"] / peer["dn10k"]["msgs_per_s"]
    share = small["msgs_per_s"] / peer["ceiling"]["msgs_per_s"]
    print(f"\ndelivery benchmark: {machine()}, {WORKERS} worker processes, database "
          f"{'PostgreSQL' if os.environ.get('DATABASE_URL') else 'SQLite'}; load average before: {LOAD_BEFORE}")
    print(f"{'what':60s} {'N':>7s} {'msgs/s':>7s} {'bytes/msg':>9s} {'peak MB':>8s}")
    print(f"{'django-newsletter submit_newsletter (dn10k)':60s} {10000:7,d} {peer['dn10k']['msgs_per_s']:7.0f} "
          f"{peer['dn10k']['bytes_per_msg']:9,d} {peer['dn10k'].get('peak_rss_mb', 0):8.0f}")
    print(f"{'sink ceiling: 2 raw senders, pre-built bytes':60s} {10000:7,d} {peer['ceiling']['msgs_per_s']:7.0f} "
          f"{peer['ceiling']['bytes_per_msg']:9,d} {'-':>8s}")
    if equal_ceiling:
        label = f"sink ceiling at equal size ({equal_ceiling['articles']} articles), mean"
        print(f"{label:60s} {10000:7,d} {equal_ceiling['msgs_per_s']:7.0f} {equal_ceiling['bytes_per_msg']:9,d} {'-':>8s}")
        print(f"    right before Paperpost's equal-size run {equal_ceiling['before']:.0f} msgs/s, "
              f"right after it {equal_ceiling['after']:.0f}")
    for run in filter(None, [small, equal, extra, large]):
        label = f"Paperpost, {run['papers']} papers" + (
            f", abstracts {run['abstract_chars']} chars (equal size)" if run["abstract_chars"] else "")
        print(f"{label:60s} {run['n']:7,d} {run['msgs_per_s']:7.0f} "
              f"{run['bytes_per_msg']:9,d} {run['worker_peak_mb']:4.0f}/{run['send_digest_peak_mb']:.0f}")
        print(f"    CPU per message: workers {run['worker_cpu_ms_per_msg']} ms, sink {run['sink_cpu_ms_per_msg']} ms; "
              f"steady rate at the sink {run['steady_msgs_per_s']}/s ({run['head_s']} s to the first message, "
              f"{run['tail_s']} s after the last); {run['result']}")
    print("(peak MB: the worker's largest process / send_digest)")
    print(f"at 44 KB: ratio to django-newsletter {ratio:.2f}x; share of the sink ceiling {share:.0%}")
    result = {
        "benchmark": "delivery",
        "subscribers": args.n,
        "msgs_per_s": small["msgs_per_s"],
        "peer_msgs_per_s": peer["dn10k"]["msgs_per_s"],
        "peer_bytes_per_msg": peer_bytes,
        "ratio_to_peer": round(ratio, 2),
        "ceiling_msgs_per_s": peer["ceiling"]["msgs_per_s"],
        "share_of_ceiling": round(share, 3),
        "bytes_per_msg": small["bytes_per_msg"],
        "worker_peak_mb_10k": small["worker_peak_mb"],
        "worker_peak_mb_100k": large["worker_peak_mb"] if large else None,
        "send_digest_peak_mb_10k": small["send_digest_peak_mb"],
        "send_digest_peak_mb_100k": large["send_digest_peak_mb"] if large else None,
        "peer_measured_in_this_run": not args.skip_peer,
        "workers": WORKERS,
        "papers_per_email": args.papers,
        "load_average_before": LOAD_BEFORE,
    }
    if equal:
        ratio_eq = equal["msgs_per_s"] / peer["dn10k"]["msgs_per_s"]
        share_eq = equal["msgs_per_s"] / equal_ceiling["msgs_per_s"]
        print(f"at equal size ({equal['bytes_per_msg']:,} against {peer_bytes:,} bytes): ratio to django-newsletter "
              f"{ratio_eq:.2f}x; share of the sink ceiling at that size {share_eq:.0%}")
        result.update({
            "msgs_per_s_equal_size": equal["msgs_per_s"],
            "bytes_per_msg_equal_size": equal["bytes_per_msg"],
            "abstract_chars_equal_size": equal["abstract_chars"],
            "ceiling_msgs_per_s_equal_size": equal_ceiling["msgs_per_s"],
            "ceiling_msgs_per_s_equal_size_before": equal_ceiling["before"],
            "ceiling_msgs_per_s_equal_size_after": equal_ceiling["after"],
            "ceiling_bytes_per_msg_equal_size": equal_ceiling["bytes_per_msg"],
            "ratio_to_peer_equal_size": round(ratio_eq, 2),
            "share_of_ceiling_equal_size": round(share_eq, 3),
            "worker_cpu_ms_per_msg_equal_size": equal["worker_cpu_ms_per_msg"],
            "sink_cpu_ms_per_msg_equal_size": equal["sink_cpu_ms_per_msg"],
        })
    if extra:
        result.update({f"msgs_per_s_{extra['papers']}_papers": extra["msgs_per_s"],
                       f"bytes_per_msg_{extra['papers']}_papers": extra["bytes_per_msg"]})
    if large:
        flat = large["worker_peak_mb"] <= 1.1 * small["worker_peak_mb"] and \
            large["send_digest_peak_mb"] <= 1.1 * small["send_digest_peak_mb"]
        result["memory_flat_within_10pct"] = flat
    print(json.dumps(result))


def scaling(args) -> None:
    """msgs/s with 1, 2, 3 ... sending processes, the rest as in the 44 KB case."""
    from _setup import machine

    runs = [paperpost_run(args.n, args.papers, processes=int(p)) for p in args.scaling.split(",")]
    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    print(f"\nscaling: {machine()}, database {database}, Redis broker; load average before: {LOAD_BEFORE}")
    print(f"{'sending processes':>18s} {'N':>7s} {'msgs/s':>7s} {'bytes/msg':>9s} {'worker CPU ms/msg':>18s} "
          f"{'sink CPU ms/msg':>16s}")
    for run in runs:
        print(f"{run['processes']:18d} {run['n']:7,d} {run['msgs_per_s']:7.0f} {run['bytes_per_msg']:9,d} "
              f"{run['worker_cpu_ms_per_msg']:18.2f} {run['sink_cpu_ms_per_msg']:16.2f}")
    print(json.dumps({"benchmark": "delivery-scaling", "database": database, "subscribers": args.n,
                      "msgs_per_s": {str(r["processes"]): r["msgs_per_s"] for r in runs},
                      "worker_cpu_ms_per_msg": {str(r["processes"]): r["worker_cpu_ms_per_msg"] for r in runs},
                      "load_average_before": LOAD_BEFORE}))


if __name__ == "__main__":
    main()
