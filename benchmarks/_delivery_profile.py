"""Where a worker's CPU per digest goes: `benchmarks/delivery.py --profile N` sends N digests
in this one process (tasks in-process, a real SMTP connection to peer-bench's sink) under
cProfile on CPU time (waiting for the sink's replies is not counted), and prints the share
of each stage. cProfile slows everything down, so only the shares mean something.

Only the sending is profiled (the chunks, as a worker runs them), not the building of the
edition's rows (send_digest's work, in another process). What a worker does once, not per
digest, is done before profiling and reported apart: the ranking's corpus statistics (fitted
here on a fresh database, loaded by a real worker) and the imports they pull in (scikit-learn,
SciPy), about 6 s that would otherwise be a fifth of a 1,000-digest profile."""

from __future__ import annotations

import cProfile
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Stages, by the function a call's time is charged to (cumulative, outermost match wins).
STAGES = [
    ("claim, status reads, outcome writes (SQL)", ("claim_rows", "current_status", "mark_sent", "finish")),
    ("loading rows, interests, ledger", ("_prepare",)),
    ("ranking and why (select)", ("select",)),
    ("rendering the email (digest_message)", ("digest_message",)),
    ("MIME bytes (FastEmail.message, as_bytes)", ("as_bytes", "as_string")),
    ("SMTP: MAIL/RCPT/DATA (the CPU side)", ("sendmail",)),
    ("ledger of sent papers", ("flush",)),
]


def run(n: int, papers: int, abstract_chars: int, peer: Path, setup_code: str) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="pp-profile-"))
    from tests.services import free_port, wait_for

    port = free_port()
    stats_file = workdir / "sink.json"
    sink = subprocess.Popen([sys.executable, str(peer / "sink.py"), str(port), "--stats-file", str(stats_file),
                             "--interval", "1"], stdout=subprocess.DEVNULL)
    wait_for(stats_file.exists, 10, "the sink")
    os.environ.update({
        "PAPERPOST_VAR_DIR": str(workdir), "DATABASE_URL": f"sqlite:///{workdir / 'profile.sqlite3'}",
        "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port), "DIGEST_ABSTRACT_CHARS": str(abstract_chars),
        "SECRET_KEY": "bench-" + "x" * 40, "LOG_LEVEL": "WARNING", "DEBUG": "0",
    })
    os.environ.pop("REDIS_URL", None)
    from _setup import setup_django

    setup_django()
    from django.core.management import call_command

    from digest.corpus import current_stats
    from digest.models import Batch
    from subscribers import sending
    from subscribers.delivery import build_edition

    call_command("ingest", str(ROOT / "samples" / "daily-papers-page.txt"), verbosity=0)
    call_command("publish", verbosity=0)
    exec(setup_code.format(n=n, papers=papers), {})
    batch = Batch.objects.published().order_by("-date").first()
    warm_started = time.process_time()
    current_stats()
    warm_up = time.process_time() - warm_started
    profile = cProfile.Profile(time.process_time)
    started = time.perf_counter()
    real_send_chunk = sending.send_chunk

    def profiled(*args, **kwargs):
        profile.enable()
        try:
            return real_send_chunk(*args, **kwargs)
        finally:
            profile.disable()

    sending.send_chunk = profiled  # subscribers.tasks calls it through the module
    try:
        build_edition(batch)  # in-process: every chunk is sent here
    finally:
        sending.send_chunk = real_send_chunk
    wall = time.perf_counter() - started
    sink.send_signal(signal.SIGTERM)
    sink.wait(30)
    stats = pstats.Stats(profile)
    total = sum(row[2] for row in stats.stats.values())  # tottime of everything
    shares = {}
    for label, names in STAGES:
        cumulative = [row[3] for (_, _, func), row in stats.stats.items() if func in names]
        shares[label] = max(cumulative, default=0.0)
    # The SQL stage is several functions side by side; the others nest at most once.
    sql = sum(row[3] for (_, _, func), row in stats.stats.items() if func in STAGES[0][1])
    shares[STAGES[0][0]] = sql
    shares["other (Celery in-process, Django, the rest)"] = max(0.0, total - sum(shares.values()))
    top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:15]
    return {
        "n": n, "wall_s": wall, "total_s": total, "warm_up_s": warm_up,
        "shares": {label: seconds / total for label, seconds in shares.items()},
        "top": [(f"{Path(f).name}:{line} {func}", row[2] / total) for (f, line, func), row in top],
    }


def report(found: dict) -> None:
    print(f"\nprofile: {found['n']} digests sent in-process in {found['wall_s']:.1f} s under cProfile, "
          f"{1000 * found['total_s'] / found['n']:.2f} ms of CPU per digest (inflated by the profiler); "
          f"before it, once per process and not counted: {found['warm_up_s']:.1f} s of CPU (corpus statistics, imports)")
    print(f"{'stage':60s} {'share':>6s}")
    for label, share in found["shares"].items():
        print(f"{label:60s} {share:6.1%}")
    print("\nthe 15 functions with the most time of their own:")
    for name, share in found["top"]:
        print(f"  {share:6.1%}  {name}")
