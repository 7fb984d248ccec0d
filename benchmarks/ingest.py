#!/usr/bin/env python
"""Ingest of the full 1,504-item arXiv RSS feed, against feedparser's own parse time of
the same bytes (default options) and against a naive per-item save() loop, in one run.

Prints a table and one JSON line:
  items, ratio_to_feedparser (first ingest / feedparser), reingest_ratio_to_feedparser,
  naive_ratio_to_feedparser, queries (first ingest), reingest_queries, peak_mb."""

from __future__ import annotations

import io
import json
import time
import tracemalloc

from _setup import DATA, machine, setup_django

FEED = DATA / "arxiv_rss_new" / "aioarxiv_rss_20archives_2024-11-28_full1504items.xml"
REPEAT = 5


def main() -> None:
    setup_django()
    import feedparser
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from digest.ingest.formats import parse
    from digest.ingest.pipeline import ingest_bytes
    from digest.models import Batch, BatchEntry, Paper

    data = FEED.read_bytes()

    def reset():
        with transaction.atomic():
            BatchEntry.objects.all().delete()
            Paper.objects.all().delete()
            Batch.objects.all().delete()

    def feedparser_parse():
        feedparser.parse(io.BytesIO(data))

    def first_ingest():
        reset()
        start = time.perf_counter()
        summary = ingest_bytes(data)
        elapsed = time.perf_counter() - start
        assert summary.new == 1504, summary.line()
        return elapsed

    def reingest():
        start = time.perf_counter()
        summary = ingest_bytes(data)
        elapsed = time.perf_counter() - start
        assert summary.unchanged == 1504, summary.line()
        return elapsed

    def naive_ingest():
        """What a first version would do: feedparser, then one save() per item."""
        from digest.ingest.store import REPLACE_TYPES

        reset()
        start = time.perf_counter()
        result = parse(data)
        with transaction.atomic():
            for rec in result.records:
                paper, _ = Paper.objects.update_or_create(
                    key=rec.key,
                    defaults=dict(title=rec.title, abstract=rec.abstract, arxiv_id=rec.arxiv_id,
                                  version=rec.version, authors=rec.authors, categories=rec.categories,
                                  abs_url=rec.abs_url, pdf_url=rec.pdf_url),
                )
                if rec.announce_type in REPLACE_TYPES:
                    continue
                batch, _ = Batch.objects.get_or_create(date=rec.announce_date)
                BatchEntry.objects.get_or_create(batch=batch, paper=paper)
        return time.perf_counter() - start

    # Interleave the measurements so that machine noise hits all of them alike.
    fp_times, first_times, re_times, naive_times = [], [], [], []
    for _ in range(REPEAT):
        start = time.perf_counter()
        feedparser_parse()
        fp_times.append(time.perf_counter() - start)
        first_times.append(first_ingest())
        re_times.append(reingest())
    for _ in range(2):
        naive_times.append(naive_ingest())
    fp, first, again, naive = min(fp_times), min(first_times), min(re_times), min(naive_times)

    reset()
    with CaptureQueriesContext(connection) as first_q:
        ingest_bytes(data)
    with CaptureQueriesContext(connection) as re_q:
        ingest_bytes(data)
    reset()
    tracemalloc.start()
    ingest_bytes(data)
    peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()

    vendor = connection.vendor
    print(f"ingest benchmark: {FEED.name} ({len(data):,} bytes, 1,504 items), {vendor}, {machine()}")
    print(f"{'what':44s} {'seconds':>8s} {'x feedparser':>13s} {'queries':>8s}")
    print(f"{'feedparser.parse (baseline, default options)':44s} {fp:8.3f} {1.0:13.2f} {'-':>8s}")
    print(f"{'Paperpost first ingest (parse + store)':44s} {first:8.3f} {first / fp:13.2f} {len(first_q):8d}")
    print(f"{'Paperpost re-ingest, unchanged':44s} {again:8.3f} {again / fp:13.2f} {len(re_q):8d}")
    print(f"{'naive: parse + save() per item':44s} {naive:8.3f} {naive / fp:13.2f} {'~4/item':>8s}")
    print(f"peak traced memory of one first ingest: {peak_mb:.1f} MB; best of {REPEAT} (naive: best of 2)")
    print(json.dumps({
        "benchmark": "ingest",
        "database": vendor,
        "items": 1504,
        "feedparser_s": round(fp, 4),
        "first_ingest_s": round(first, 4),
        "reingest_s": round(again, 4),
        "naive_s": round(naive, 4),
        "ratio_to_feedparser": round(first / fp, 3),
        "reingest_ratio_to_feedparser": round(again / fp, 3),
        "naive_ratio_to_feedparser": round(naive / fp, 3),
        "queries": len(first_q),
        "reingest_queries": len(re_q),
        "peak_mb": round(peak_mb, 1),
    }))


if __name__ == "__main__":
    main()
