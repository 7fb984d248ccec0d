#!/usr/bin/env python
"""Prints the keys of a holdout sample (benchmarks/devset/README.md), so that anyone can check
it was drawn by rule, not by looking at the matcher: the feed papers not in an earlier part of
the set and not liked by any profile, in SHA-1 order of their arXiv ids; the first 200, then the
next 100 that carry an ML category (the rule of the first round, at a smaller size).

    .venv/bin/python benchmarks/devset/sample_holdout.py holdout | diff - <(grep '"holdout"' benchmarks/devset/papers.jsonl | cut -d'"' -f4)
    .venv/bin/python benchmarks/devset/sample_holdout.py holdout2 | diff - <(grep '"holdout2"' benchmarks/devset/papers.jsonl | cut -d'"' -f4)
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.relevance import DEVSET, FEED  # noqa: E402
from digest.ingest.formats import parse  # noqa: E402

ML = {"cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "cs.IR", "cs.NE"}


# Each holdout is drawn from what the parts before it left.
EARLIER = {
    "holdout": ("tune", "report"),
    "holdout2": ("tune", "report", "holdout"),
    "holdout3": ("tune", "report", "holdout", "holdout2"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=sorted(EARLIER))
    part = parser.parse_args().part
    profiles = json.loads((DEVSET / "profiles.json").read_text())
    liked = {a for p in profiles for a in p["typed"]["liked"]}
    rows = [json.loads(line) for line in (DEVSET / "papers.jsonl").read_text().splitlines() if line.strip()]
    first_round = {r["key"] for r in rows if r["split"] in EARLIER[part]}
    rest, seen = [], set()
    for record in parse(FEED.read_bytes()).records:
        key = f"arxiv:{record.arxiv_id}"
        if key in first_round or record.arxiv_id in liked or key in seen:
            continue
        seen.add(key)
        rest.append(record)
    rest.sort(key=lambda r: hashlib.sha1(r.arxiv_id.encode()).hexdigest())
    sample = rest[:200] + [r for r in rest[200:] if set(r.categories) & ML][:100]
    for record in sample:
        print(f"arxiv:{record.arxiv_id}")


if __name__ == "__main__":
    main()
