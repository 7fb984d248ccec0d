#!/usr/bin/env python
"""Matching at scale: 100,000 generated subscribers against the full 1,504-paper feed, against
the memoised per-subscriber path (rank() once per subscriber) on 10,000 of the same
subscribers, in one run; then the same with 10% of subscribers holding learned models, and
a weekly edition (the feed's papers over 5 days, 7,520 papers).

Prints a table and one JSON line with subscribers, seconds (all 100,000 ranked, the index and
every component vector computed inside the timing), speedup_vs_memoised (per-subscriber time
of rank() / of the batch, both with the edition's component vectors memoised already: what
each path costs per subscriber), speedup_with_edition_work (the same ratio with each side
computing the edition's vectors inside its timing: the baseline on 10,000 subscribers,
scaled by ten, so it counts that work ten times; the figure reported until 2026-12-03),
lookup_us (taking one subscriber's Ranking out of the batch's result), key_pack_us (packing
the content key the batch reads, done when interests are built; tuple_key_us: the tuple key
it replaced) and speedup_with_key_packing (speedup_vs_memoised with that whole packing
counted on the batch's side), learned_seconds,
weekly_seconds, identical (the paths agree, and agree with reference_match on samples), peak_mb.

--subscribers N ranks N generated subscribers instead (docs/scaling.md uses 1,000,000);
--batch-only times one cold batch run (the memoised one still best of 3) and skips the
learned-model and weekly runs and the traced rerun (null in the JSON), reporting the
process's peak RSS instead: what a large N needs."""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._setup import DATA, machine

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
        about = rng.choice(ABOUTS) if rng.random() < 0.05 else ""
        strictness = rng.choices(["balanced", "strict", "broad"], [80, 10, 10])[0]
        out.append(Interests.build(topics=chosen_topics, keywords=", ".join(keywords), categories=categories,
                                   authors=followed, liked=liked, about=about, strictness=strictness))
    return out


ABOUTS = [
    "I work on efficient inference for large language models: quantization, pruning and KV-cache compression.",
    "Reinforcement learning for robots: manipulation and locomotion policies learned in simulation.",
    "Graph neural networks and message passing for molecules and materials.",
    "Evaluation of language models: benchmarks, judges, contamination.",
    "Diffusion models for image and video generation and editing.",
    "Quantum error correction and quantum algorithms.",
    "Galaxy formation and evolution, high-redshift galaxies.",
    "Speech recognition and spoken language models.",
]


def docs_of(records, day: int = 0):
    from digest.matching import PaperDoc

    return [PaperDoc(id=day * 100_000 + 10_000 + i, title=r.title, abstract=r.abstract, authors=tuple(r.authors),
                     categories=tuple(r.categories), order=day * 10_000 + i, upvotes=(i * 37) % 120 if i % 5 == 0 else 0)
            for i, r in enumerate(records)]


def with_models(subscribers, docs, stats, share: float, seed: int = 11):
    """Give `share` of the subscribers a learned model: 200 distinct models (from likes and
    dislikes of feed papers), as many subscribers keep their own."""
    from digest.matching import Interests, train

    rng = random.Random(seed)
    models = []
    while len(models) < 200:
        liked, other = rng.sample(docs, 6), rng.sample(docs, 4)
        model = train([(d, 1.0) for d in liked] + [(d, -1.0) for d in other], stats, background=rng.sample(docs, 200))
        if model is not None:
            models.append(model)
    out = []
    for k, s in enumerate(subscribers):
        if rng.random() < share:
            s = Interests._from_parts(s.topics, s.keywords, s.categories, s.authors, s.liked, s.disliked, s.about,
                                      s.strictness, models[k % len(models)], s.popularity)
        out.append(s)
    return out


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def timed_batch(subscribers, docs, stats, repeat: int = 3) -> tuple[float, list[float], object]:
    """Best of `repeat`: the index built inside the timing, as for Paperpost."""
    from digest.matching import PaperIndex, match_many

    runs, rankings, index = [], None, None
    for _ in range(repeat):
        start = time.perf_counter()
        index = PaperIndex(docs, stats=stats)
        rankings = match_many(subscribers, index)
        runs.append(time.perf_counter() - start)
    return min(runs), runs, (rankings, index)


def main() -> None:
    parser = argparse.ArgumentParser(description="Matching at scale: generated subscribers against the 1,504-paper feed, "
                                                 "beside rank() once per subscriber, in one run.")
    parser.add_argument("--subscribers", type=int, default=N_SUBSCRIBERS, metavar="N",
                        help=f"generated subscribers to rank at once (default {N_SUBSCRIBERS:,})")
    parser.add_argument("--batch-only", action="store_true",
                        help="one cold batch (the memoised one best of 3) and the baseline only "
                             "(no learned, weekly, dense or traced runs)")
    from digest.matching.dense import BUNDLED_MODEL

    parser.add_argument("--embedding-model", default=str(BUNDLED_MODEL),
                        help="the dense encoder's folder (`make model`): the batch is timed with it too, "
                             "the papers embedded first (not timed, as the fit); 'none' skips it")
    args = parser.parse_args()
    n = args.subscribers
    n_loop = min(N_LOOP, n)  # the baseline ranks this many of them
    from digest.ingest.formats import parse
    from digest.matching import CorpusStats, PaperIndex, match_many, rank, reference_match
    from digest.starter_topics import STARTER_TOPICS

    records = parse(FEED.read_bytes()).records
    docs = docs_of(records)
    start = time.perf_counter()
    stats = CorpusStats.fit(docs)
    fit_s = time.perf_counter() - start
    topics = [(name, query) for name, _, query in STARTER_TOPICS]
    authors = sorted({a for d in docs for a in d.authors})
    start = time.perf_counter()
    subscribers = generate(n, topics, [d.id for d in docs], authors)
    build_s = time.perf_counter() - start

    # Baseline: the memoised per-subscriber path, rank() once per subscriber (shares the
    # component vectors, but no dedupe and no matrix product); index built inside the timing.
    start = time.perf_counter()
    rank_index = PaperIndex(docs, stats=stats)
    rank_rankings = [rank(s, rank_index) for s in subscribers[:n_loop]]
    rank_s = time.perf_counter() - start
    rank_results = [r.pairs() for r in rank_rankings]
    # The same with every vector memoised: per-subscriber work only, best of 3.
    warm_rank_s = min(_timed(lambda: [rank(s, rank_index) for s in subscribers[:n_loop]]) for _ in range(3))

    batch_s, batch_runs, (rankings, index) = timed_batch(subscribers, docs, stats, repeat=1 if args.batch_only else 3)
    if args.batch_only:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # RSS of the whole process
    else:
        tracemalloc.start()
        timed_batch(subscribers, docs, stats, repeat=1)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    warm_batch_s = min(_timed(lambda: match_many(subscribers, index)) for _ in range(3))
    lookup_s = _timed(lambda: [rankings[s] for s in subscribers[:n_loop]])
    # The content key that the batch reads (interests.content_key) is packed when each
    # subscriber's interests are built, outside both timings like the rest of the building.
    # Only the batch needs it, so its whole cost is also shown counted on the batch's side:
    # conservative, as the tuple of tuples it replaced (until 2026-12-03; timed beside it)
    # was built and hashed for the batch too.
    from digest.matching.interests import content_key

    parts = [(s.strictness, s.popularity, s.summed, tuple(sorted(set(s.blocks))), s.sensed, s.texts,
              s.order_categories, s.sense_texts) for s in subscribers]
    names = [tuple(t.name for t in s.topics) for s in subscribers]
    key_s = min(_timed(lambda: [hash(content_key(*p)) for p in parts]) for _ in range(3))
    tuple_key_s = min(_timed(lambda: [hash((p[2], p[3], t, p[0], p[1], p[5], p[6], p[4], p[7]))
                                      for p, t in zip(parts, names)]) for _ in range(3))
    mismatches = sum(1 for s, expected in zip(subscribers, rank_results) if rankings[s].pairs() != expected)
    spec_mismatches = sum(1 for s in subscribers[:100] if reference_match(s, index) != rankings[s].pairs())

    learned_s = weekly_s = None
    learned_runs, learned_mismatches, weekly_mismatches, week = [], 0, 0, []
    if not args.batch_only:
        # 10% of the subscribers with learned models.
        learned = with_models(subscribers, docs, stats, 0.10)
        learned_s, learned_runs, (learned_rankings, learned_index) = timed_batch(learned, docs, stats)
        with_model = [s for s in learned if s.learned is not None][:100]
        learned_mismatches = sum(1 for s in with_model if reference_match(s, learned_index) != learned_rankings[s].pairs())

        # A weekly edition: the feed's papers over 5 days, distinct ids (7,520 papers).
        week = [d for day in range(5) for d in docs_of(records, day)]
        weekly_s, _, (weekly_rankings, weekly_index) = timed_batch(subscribers, week, stats, repeat=1)
        weekly_mismatches = sum(1 for s in subscribers[:20] if rank(s, weekly_index).pairs() != weekly_rankings[s].pairs())

    dense_s = embed_s = None
    dense_runs, dense_mismatches = [], 0
    if not args.batch_only and args.embedding_model != "none":
        # The same subscribers with the dense encoder in place of LSA (MATCH_EMBEDDING_MODEL):
        # the product embeds each paper once, at ingest, so embedding is not timed here.
        from digest.matching.dense import load_encoder, paper_text

        dense_stats = stats.with_dense(load_encoder(args.embedding_model))
        start = time.perf_counter()
        dense_stats.dense.encode([paper_text(d) for d in docs])
        embed_s = time.perf_counter() - start
        dense_s, dense_runs, (dense_rankings, dense_index) = timed_batch(subscribers, docs, dense_stats)
        dense_mismatches = sum(1 for s in subscribers[:1000] if rank(s, dense_index).pairs() != dense_rankings[s].pairs())
        dense_mismatches += sum(1 for s in subscribers[:100] if reference_match(s, dense_index) != dense_rankings[s].pairs())

    per_rank = rank_s / n_loop
    per_batch = batch_s / n
    speedup_cold = per_rank / per_batch
    per_warm_rank, per_warm_batch = warm_rank_s / n_loop, warm_batch_s / n
    speedup = per_warm_rank / per_warm_batch
    per_lookup = lookup_s / n_loop
    per_key, per_tuple_key = key_s / n, tuple_key_s / n
    speedup_keyed = per_warm_rank / (per_warm_batch + per_key)
    matches = [rankings[s].total for s in subscribers[:n_loop]]
    print(f"matching benchmark: {len(docs):,} papers, {machine()}")
    print(f"corpus statistics fitted in {fit_s:.1f} s; generated {n:,} subscribers in {build_s:.1f} s "
          f"({len(rankings):,} distinct interest sets); mean papers selected per subscriber "
          f"{sum(matches) / len(matches):.1f}")
    print(f"{'what':56s} {'subscribers':>11s} {'papers':>7s} {'seconds':>8s} {'us/subscriber':>14s}")
    print(f"{'rank() per subscriber, vectors memoised: the baseline':56s} {n_loop:11,d} {len(docs):7,d} "
          f"{warm_rank_s:8.2f} {per_warm_rank * 1e6:14.1f}")
    print(f"{'Paperpost match_many, vectors memoised':56s} {n:11,d} {len(docs):7,d} "
          f"{warm_batch_s:8.2f} {per_warm_batch * 1e6:14.1f}")
    print(f"{'  taking one Ranking out of its result (per lookup)':56s} {n_loop:11,d} {'':7s} "
          f"{lookup_s:8.2f} {per_lookup * 1e6:14.1f}")
    print(f"{'rank(), the index and vectors computed inside':56s} {n_loop:11,d} {len(docs):7,d} "
          f"{rank_s:8.2f} {per_rank * 1e6:14.1f}")
    print(f"{'Paperpost match_many, the index and vectors inside':56s} {n:11,d} {len(docs):7,d} "
          f"{batch_s:8.2f} {per_batch * 1e6:14.1f}")
    if not args.batch_only:
        print(f"{'  the same, 10% of subscribers with learned models':56s} {n:11,d} {len(docs):7,d} "
              f"{learned_s:8.2f} {learned_s / n * 1e6:14.1f}")
        print(f"{'  a weekly edition (the feed over 5 days)':56s} {n:11,d} {len(week):7,d} "
              f"{weekly_s:8.2f} {weekly_s / n * 1e6:14.1f}")
    if dense_s is not None:
        print(f"{'  the same, with the dense encoder in place of LSA':56s} {n:11,d} {len(docs):7,d} "
              f"{dense_s:8.2f} {dense_s / n * 1e6:14.1f}")
        print(f"dense encoder: the {len(docs):,} papers embedded in {embed_s:.1f} s (once per paper, at ingest; "
              f"not timed above); runs {', '.join(f'{t:.2f}' for t in dense_runs)} s; identical to rank() on "
              f"{min(1000, n):,} "
              f"and to reference_match on 100: {dense_mismatches == 0}")
    print(f"batch runs: {', '.join(f'{t:.2f}' for t in batch_runs)} s; learned: "
          f"{', '.join(f'{t:.2f}' for t in learned_runs) or '-'} s; results kept in {rankings.nbytes / 1e6:.0f} MB; "
          f"peak {'RSS' if args.batch_only else 'traced'} {peak_mb:.0f} MB")
    print(f"speedup per subscriber, vectors memoised on both sides: {speedup:.1f}x "
          f"({speedup_cold:.1f}x with the edition's vectors inside both timings, the baseline's scaled from "
          f"{n_loop:,}); with a lookup per subscriber added to the batch: {per_warm_rank / (per_warm_batch + per_lookup):.1f}x")
    print(f"the content key, packed when each subscriber's interests are built (not timed above): "
          f"{per_key * 1e6:.2f} us per subscriber (the tuple key it replaced: {per_tuple_key * 1e6:.2f} us); "
          f"counted on the batch's side: {speedup_keyed:.1f}x "
          f"(only its cost over the tuple's: {per_warm_rank / (per_warm_batch + per_key - per_tuple_key):.1f}x)")
    print(f"identical to rank() on {n_loop:,}: {mismatches == 0}; "
          f"to reference_match on 100: {spec_mismatches == 0}"
          + ("" if args.batch_only else f", on 100 with learned models: {learned_mismatches == 0}; "
                                        f"weekly identical to rank() on 20: {weekly_mismatches == 0}"))
    identical = not (mismatches or spec_mismatches or learned_mismatches or weekly_mismatches or dense_mismatches)
    print(json.dumps({
        "benchmark": "matching",
        "subscribers": n,
        "papers": len(docs),
        "unique_interest_sets": len(rankings),
        "seconds": round(batch_s, 3),
        "memoised_subscribers": n_loop,
        "memoised_seconds": round(rank_s, 3),
        "speedup_vs_memoised": round(speedup, 1),
        "speedup_with_edition_work": round(speedup_cold, 1),
        "memoised_rank_us": round(per_warm_rank * 1e6, 1),
        "memoised_batch_us": round(per_warm_batch * 1e6, 2),
        "lookup_us": round(per_lookup * 1e6, 2),
        "key_pack_us": round(per_key * 1e6, 2),
        "tuple_key_us": round(per_tuple_key * 1e6, 2),
        "speedup_with_key_packing": round(speedup_keyed, 1),
        "learned_share": None if args.batch_only else 0.10,
        "learned_seconds": None if learned_s is None else round(learned_s, 3),
        "weekly_papers": len(week) or None,
        "weekly_seconds": None if weekly_s is None else round(weekly_s, 3),
        "dense_seconds": None if dense_s is None else round(dense_s, 3),
        "dense_embed_seconds": None if embed_s is None else round(embed_s, 1),
        "identical": identical,
        "peak_mb": round(peak_mb, 1),
    }))
    if not identical:
        sys.exit("results differ between the paths")


if __name__ == "__main__":
    main()
