#!/usr/bin/env python
"""`import_subscribers` of 100,000 generated rows, against the per-row path it replaced (one
upsert and one commit per row, timed on the first ROWS_PER_ROW rows) and against a plain
`bulk_create` of the same subscribers (no checks, no topics: the floor of any import), in
one run.

Every figure is wall-clock time, with the process's CPU time beside it: on a shared machine
the wall clock moves with the load, the CPU time much less.

Prints a table and one JSON line:
  rows, rows_per_s (first import, into an empty list), again_rows_per_s (the same file once
  more: every row an update), per_row_rows_per_s (the old path), speedup_vs_per_row,
  bulk_create_rows_per_s, ratio_to_bulk_create (first import time / bulk_create time),
  rows_per_cpu_s (first import), load (the 1-minute load average when it ran)."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import sys
import time

from _setup import machine, setup_django

ROWS = int(os.environ.get("IMPORT_ROWS", 100_000))
ROWS_PER_ROW = int(os.environ.get("IMPORT_PER_ROW_ROWS", 2_000))
KEYWORDS = ["LoRA", "knowledge distillation", "diffusion", "RLHF", "mixture of experts", "quantization",
            "retrieval augmented generation", "speculative decoding", "-survey", "vision transformer",
            "graph neural network", "protein folding", "tokenizer", "state space model", "-benchmark"]
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.*", "stat.ML", "q-bio.BM"]
AUTHORS = ["Geoffrey Hinton", "Yoshua Bengio", "Fei-Fei Li", "Percy Liang", "Chelsea Finn", "Sergey Levine"]


def generate(rows: int, topics: list[str]) -> str:
    """A CSV as an operator moving a list would have it: a mix of interests, a consent note."""
    rng = random.Random(11)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "topics", "keywords", "categories", "authors", "frequency", "consent"])
    for i in range(rows):
        writer.writerow([
            f"reader.{i}@lab{i % 997}.example.org",
            ",".join(rng.sample(topics, rng.randint(0, 3))),
            ", ".join(rng.sample(KEYWORDS, rng.randint(0, 4))),
            ", ".join(rng.sample(CATEGORIES, rng.randint(0, 2))) if rng.random() < 0.3 else "",
            ", ".join(rng.sample(AUTHORS, rng.randint(1, 2))) if rng.random() < 0.1 else "",
            "weekly" if rng.random() < 0.2 else "daily",
            "signed up at the 2025 workshop" if rng.random() < 0.5 else "",
        ])
    return out.getvalue()


def main() -> None:
    workdir = setup_django()
    from django.core.management import call_command
    from django.db import connection, transaction

    from digest.models import Topic
    from subscribers.models import Subscriber
    from subscribers.services import SubscriberInput, clean_input, upsert_confirmed

    def reset():
        with transaction.atomic():
            Subscriber.topics.through.objects.all().delete()
            Subscriber.objects.all().delete()

    topics = list(Topic.objects.values_list("slug", flat=True))
    text = generate(ROWS, topics)
    path = workdir / "list.csv"
    path.write_text(text)

    def run_import() -> tuple[float, float]:
        out, err = io.StringIO(), io.StringIO()
        start, cpu = time.perf_counter(), time.process_time()
        call_command("import_subscribers", str(path), stdout=out, stderr=err)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert "0 errors" in out.getvalue(), out.getvalue() + err.getvalue()[-2000:]
        return elapsed, cpu

    reset()
    load = os.getloadavg()[0]
    first, first_cpu = run_import()
    assert Subscriber.objects.count() == ROWS
    linked = Subscriber.topics.through.objects.count()
    again, again_cpu = run_import()
    assert Subscriber.objects.count() == ROWS and Subscriber.topics.through.objects.count() == linked

    # The path it replaced: the old command's loop, one upsert_confirmed (and commit) per row.
    reset()
    rows = list(csv.DictReader(io.StringIO(text)))[:ROWS_PER_ROW]
    start, cpu = time.perf_counter(), time.process_time()
    for row in rows:
        upsert_confirmed(SubscriberInput(**row), source="benchmark")
    per_row, per_row_cpu = time.perf_counter() - start, time.process_time() - cpu

    # The floor: the same subscribers, already checked, in one bulk_create (no topics).
    reset()
    known = {t.slug: t for t in Topic.objects.all()}
    rows = list(csv.DictReader(io.StringIO(text)))
    cleaned = [clean_input(SubscriberInput(**row), known) for row in rows]
    objs = [Subscriber(email=c.email, status=Subscriber.Status.ACTIVE, keywords=c.keywords, categories=c.categories,
                       authors=c.authors, frequency=c.frequency, consent_source=c.consent[:100]) for c in cleaned]
    start, cpu = time.perf_counter(), time.process_time()
    with transaction.atomic():
        Subscriber.objects.bulk_create(objs, batch_size=500)
    floor, floor_cpu = time.perf_counter() - start, time.process_time() - cpu

    per_row_rate = ROWS_PER_ROW / per_row
    print(f"import_subscribers, {ROWS:,} rows ({connection.vendor}); {machine()}; load {load:.1f}")
    print(f"{'what':58} {'rows':>9} {'seconds':>9} {'rows/s':>9} {'CPU s':>7} {'rows/CPU s':>10}")
    table = [
        ("per-row path it replaced (upsert + commit per row)", ROWS_PER_ROW, per_row, per_row_cpu),
        ("plain bulk_create of the same rows (no checks, no topics)", ROWS, floor, floor_cpu),
        ("import_subscribers, empty list (all added)", ROWS, first, first_cpu),
        ("import_subscribers, same file again (all updated)", ROWS, again, again_cpu),
    ]
    for what, rows, wall, cpu in table:
        print(f"{what:58} {rows:>9,} {wall:>9.2f} {rows / wall:>9,.0f} {cpu:>7.2f} {rows / cpu:>10,.0f}")
    print(json.dumps({
        "benchmark": "imports", "database": connection.vendor, "rows": ROWS,
        "rows_per_s": round(ROWS / first), "again_rows_per_s": round(ROWS / again),
        "per_row_rows_per_s": round(per_row_rate), "speedup_vs_per_row": round(ROWS / first / per_row_rate, 1),
        "bulk_create_rows_per_s": round(ROWS / floor), "ratio_to_bulk_create": round(first / floor, 2),
        "rows_per_cpu_s": round(ROWS / first_cpu), "load": round(load, 1),
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
