#!/usr/bin/env python
"""Matching at scale: 100,000 generated subscribers against the full 1,504-paper feed,
against a straightforward per-subscriber loop on 10,000 of the same subscribers, in one run.

Prints a table and one JSON line with subscribers, seconds (all 100,000 matched: ranked
papers with scores), speedup_vs_loop (per-subscriber time of the loop / of the batch),
peak_mb (traced peak of the batch run) and unique_interest_sets."""

from __future__ import annotations

import json
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._setup import DATA, machine  # noqa: E402

FEED = DATA / "arxiv_rss_new" / "aioarxiv_rss_20archives_2024-11-28_full1504items.xml"
N_SUBSCRIBERS = 100_000
N_LOOP = 10_000

# Free keywords people type, weighted towards the common ones (Zipf-like by list order).
KEYWORDS = [
    "large language model", "LLM", "transformer", "diffusion", "reinforcement learning", "graph neural network",
    "LoRA", "benchmark", "fine-tuning", "attention", "federated learning", "contrastive learning", "robustness",
    "quantization", "pruning", "knowledge distillation", "in-context learning", "retrieval-augmented generation",
    "RAG", "multimodal", "vision-language", "segmentation", "object detection", "point cloud", "NeRF",
    "Gaussian splatting", "speech recognition", "text-to-speech", "machine translation", "question answering",
    "code generation", "reasoning", "chain-of-thought", "alignment", "RLHF", "hallucination", "interpretability",
    "explainability", "fairness", "privacy", "differential privacy", "adversarial", "causal inference",
    "time series", "anomaly detection", "recommendation", "protein", "molecular", "drug discovery",
    "medical imaging", "autonomous driving", "robotics", "quantum", "Bayesian", "variational", "optimization",
    "sparse", "mixture of experts", "scaling law", "tokenizer", "embedding", "self-supervised", "few-shot",
    "zero-shot", "continual learning", "domain adaptation", "uncertainty", "calibration", "generative model",
    "GAN", "VAE", "neural operator", "PDE", "physics-informed", "climate", "weather forecasting", "agent",
    "multi-agent", "tool use", "planning", "world model", "video generation", "image editing", "3D",
    "dataset", "evaluation", "survey", "theory", "convergence", "generalization", "kernel", "clustering",
]
EXCLUSIONS = ["-survey", "-review", "-position paper", "-benchmark"]
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "cs.IR", "cs.CR", "quant-ph",
              "math.OC", "eess.IV", "cs.NE", "cs.*", "stat.*", "physics.*", "q-bio.*"]


def zipf_choice(rng: random.Random, items: list, k: int) -> list:
    weights = [1.0 / (rank + 1) for rank in range(len(items))]
    chosen: list = []
    while len(chosen) < k:
        pick = rng.choices(items, weights)[0]
        if pick not in chosen:
            chosen.append(pick)
    return chosen


def generate(n: int, topics: list[tuple[str, str]], paper_ids: list[int], authors: list[str], seed: int = 7):
    """A realistic mix: 1-5 topics (popular ones more often), 0-5 keywords, some
    exclusions, categories and followed authors, 5% with "more like these" papers."""
    from digest.matching import Interests

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        chosen_topics = zipf_choice(rng, topics, rng.choices([1, 2, 3, 4, 5], [30, 30, 20, 12, 8])[0])
        keywords = zipf_choice(rng, KEYWORDS, rng.choices([0, 1, 2, 3, 4, 5], [30, 20, 18, 14, 10, 8])[0])
        if rng.random() < 0.15:
            keywords.append(rng.choice(EXCLUSIONS))
        categories = zipf_choice(rng, CATEGORIES, rng.choice([1, 2])) if rng.random() < 0.2 else []
        followed = rng.sample(authors, rng.randint(1, 3)) if rng.random() < 0.1 else []
        liked = rng.sample(paper_ids, rng.randint(1, 3)) if rng.random() < 0.05 else []
        out.append(Interests.build(topics=chosen_topics, keywords=", ".join(keywords), categories=categories,
                                   authors=followed, liked=liked))
    return out


def plain_loop_match(interests, index):
    """The straightforward way: one subscriber at a time, every term looked up in the
    postings and checked, every liked paper compared, nothing shared between subscribers.
    Same rules and same output as match_many (tested), so the two can be compared."""
    from collections import defaultdict

    from digest.matching import _final, units

    w = index.weights
    relevance: dict[int, int] = defaultdict(int)
    blocked: set[int] = set()
    for topic in interests.topics:
        hits: dict[int, float] = defaultdict(float)
        for term in topic.terms:
            if not term.exclude:
                for i, weight in index.find_term(term).items():
                    hits[i] += weight
        for term in topic.terms:
            if term.exclude:
                for i in index.find_term(term):
                    hits.pop(i, None)
        for i, value in hits.items():
            relevance[i] += units(value)
    for term in interests.keywords:
        if term.exclude:
            blocked.update(index.find_term(term))
        else:
            for i, weight in index.find_term(term).items():
                relevance[i] += units(weight)
    for pattern in interests.categories:
        for i in index.category_hits(pattern):
            relevance[i] += units(w.category)
    for name in interests.authors:
        for i in index.author_hits(name):
            relevance[i] += units(w.author)
    if interests.liked or interests.disliked:
        sims = index.compute_similar(list(interests.liked) + list(interests.disliked))
        for paper_id in interests.liked:
            for i, sim in sims[paper_id].items():
                relevance[i] += units(w.like * sim)
        for paper_id in interests.disliked:
            blocked.update(sims[paper_id])
            if paper_id in index.position:
                blocked.add(index.position[paper_id])
    import numpy as np

    positions = np.array(sorted(i for i, v in relevance.items() if v > 0 and i not in blocked), dtype=np.int64)
    values = np.array([relevance[i] for i in positions.tolist()], dtype=np.int64)
    scores = _final(values, positions, index) if len(positions) else np.zeros(0)
    return sorted(zip(positions.tolist(), scores.tolist()), key=lambda pair: (-pair[1], pair[0]))


def main() -> None:
    from digest.ingest.formats import parse
    from digest.matching import PaperDoc, PaperIndex, match_many, rank, reference_match
    from digest.starter_topics import STARTER_TOPICS

    records = parse(FEED.read_bytes()).records
    docs = [
        PaperDoc(id=10_000 + i, title=r.title, abstract=r.abstract, authors=tuple(r.authors),
                 categories=tuple(r.categories), order=i)
        for i, r in enumerate(records)
    ]
    topics = [(name, query) for name, _, query in STARTER_TOPICS]
    authors = sorted({a for d in docs for a in d.authors})
    start = time.perf_counter()
    subscribers = generate(N_SUBSCRIBERS, topics, [d.id for d in docs], authors)
    build_s = time.perf_counter() - start

    # Baseline: a straightforward loop, one subscriber at a time (index built inside the
    # timing, as for Paperpost).
    start = time.perf_counter()
    loop_index = PaperIndex(docs)
    loop_results = [plain_loop_match(s, loop_index) for s in subscribers[:N_LOOP]]
    loop_s = time.perf_counter() - start
    # Also: the single-subscriber fast path, one call per subscriber (shares the memoised
    # component vectors, but no dedupe and no matrix product).
    start = time.perf_counter()
    rank_index = PaperIndex(docs)
    rank_results = [rank(s, rank_index).pairs() for s in subscribers[:N_LOOP]]
    rank_s = time.perf_counter() - start

    # Paperpost: the whole 100,000 at once, the index built inside the timing; best of 3.
    batch_runs = []
    for _ in range(3):
        start = time.perf_counter()
        index = PaperIndex(docs)
        rankings = match_many(subscribers, index)
        batch_runs.append(time.perf_counter() - start)
        del index
    batch_s = min(batch_runs)
    # Memory in a separate run: tracemalloc slows Python code down.
    tracemalloc.start()
    index = PaperIndex(docs)
    rankings = match_many(subscribers, index)
    peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()

    mismatches = sum(1 for s, expected, single in zip(subscribers, loop_results, rank_results)
                     if not (rankings[s].pairs() == expected == single))
    spec_sample = subscribers[:100]
    spec_mismatches = sum(1 for s in spec_sample if reference_match(s, index) != rankings[s].pairs())
    per_loop = loop_s / N_LOOP
    per_batch = batch_s / N_SUBSCRIBERS
    speedup = per_loop / per_batch
    matches = [rankings[s].total for s in subscribers[:N_LOOP]]
    unique = len(rankings)

    print(f"matching benchmark: {len(docs):,} papers, {machine()}")
    print(f"generated {N_SUBSCRIBERS:,} subscribers in {build_s:.1f} s ({unique:,} distinct interest sets); "
          f"mean matches per subscriber {sum(matches) / len(matches):.0f}")
    print(f"{'what':48s} {'subscribers':>11s} {'seconds':>8s} {'us/subscriber':>14s}")
    print(f"{'straightforward loop, one subscriber at a time':48s} {N_LOOP:11,d} {loop_s:8.2f} {per_loop * 1e6:14.1f}")
    print(f"{'rank() per subscriber (memoised vectors)':48s} {N_LOOP:11,d} {rank_s:8.2f} {rank_s / N_LOOP * 1e6:14.1f}")
    print(f"{'Paperpost match_many (index + all matches)':48s} {N_SUBSCRIBERS:11,d} {batch_s:8.2f} {per_batch * 1e6:14.1f}")
    print(f"batch runs: {', '.join(f'{t:.2f}' for t in batch_runs)} s; results kept in {rankings.nbytes / 1e6:.0f} MB")
    print(f"speedup {speedup:.1f}x over the loop ({(rank_s / N_LOOP) / per_batch:.1f}x over rank() per subscriber); "
          f"identical to both on {N_LOOP:,}: {mismatches == 0} ({mismatches} differ); "
          f"identical to reference_match on 100: {spec_mismatches == 0}; peak traced {peak_mb:.0f} MB")
    print(json.dumps({
        "benchmark": "matching",
        "subscribers": N_SUBSCRIBERS,
        "papers": len(docs),
        "unique_interest_sets": unique,
        "seconds": round(batch_s, 3),
        "loop_subscribers": N_LOOP,
        "loop_seconds": round(loop_s, 3),
        "speedup_vs_loop": round(speedup, 1),
        "speedup_vs_rank_loop": round((rank_s / N_LOOP) / per_batch, 1),
        "identical": mismatches == 0 and spec_mismatches == 0,
        "peak_mb": round(peak_mb, 1),
    }))
    if mismatches or spec_mismatches:
        sys.exit("results differ from the loop")


if __name__ == "__main__":
    main()
