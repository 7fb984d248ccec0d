#!/usr/bin/env python
"""Relevance on the labelled development set (benchmarks/devset/), the product against two
fair baselines, in one run.

- The stored corpus is every paper of the daily-papers page, the Hugging Face JSON files and
  the full 1,504-item arXiv feed; corpus statistics (IDF, acronyms, the semantic layer) are
  fitted on it, as the product fits them on its rolling window of stored papers.
- Five parts of papers: `tune` and `report` (the first round's halves), `holdout`, `holdout2`
  and `holdout3` (300, 300 and 288 papers, each judged before the matcher was run on it).
- Seventeen sets of readers (--readers): the original 17 (all five parts), ten new readers
  (the three holdouts) and twelve more each in the third to seventeenth sets (all five
  parts); the sixth to seventeenth were written by someone who never saw the matcher, each
  judged before a change to the engine and scored once with the engines before and after
  it, then studied (all but the seventeenth, judged after the last change kept: the
  reported figures). See benchmarks/devset/README.md.
- Each part's papers are one period to rank for each profile (about a fifth of a real day);
  with --split day, all of a set's labelled papers are one edition, the size of a real day.
  The product sends what clears the subscriber's floor (strictness "balanced", the default).
- Baseline (a), substring: the typed keywords and the chosen topics' query terms as
  case-insensitive substrings of title + abstract, exclusions drop, categories and authors
  match exactly; ordered by the number of distinct terms hit, then page order.
- Baseline (b), TF-IDF: cosine of the "about me" sentence (the typed keywords when there is
  none) against each paper, TF-IDF fitted on the same corpus; its threshold is the one with
  the best micro F1 on the tune half.

Feedback: for every part after the first, the product is scored again as it ranks after the
readers reacted in their emails of the earlier parts, one part a day (after_feedback()).

Metrics: micro and macro precision/recall/F1 over (profile, paper) pairs (a profile that gets
nothing counts precision 0), precision@5 (precision of the first <=5 papers each subscriber
gets, averaged over the subscribers who get any), nDCG@10 of what is sent (gains 2/1).
Ends with one JSON line: f1, p_at_5, ndcg_at_10, f1_substring, f1_tfidf, ... of the last
part printed (holdout3, unless --split names another) and, over several parts, their mean.

    .venv/bin/python benchmarks/relevance.py --readers seventeenth
    .venv/bin/python benchmarks/relevance.py --readers seventeenth --split day
    .venv/bin/python benchmarks/relevance.py --split tune
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._setup import DATA  # noqa: E402

DEVSET = ROOT / "benchmarks" / "devset"
# The devset's parts in the order they were made (and, for the feedback runs, the days).
PARTS = ("tune", "report", "holdout", "holdout2", "holdout3")
# Every labelled paper of a reader set as one edition: 1,409 papers (888 for the new readers),
# the size of a real day of arXiv (the shared feed is one day's 1,504 items). A part is a fifth
# of that: on a part, four readers in ten have fewer than five relevant papers, which caps
# their precision@5 whatever the ranking.
DAY = "day"
# The second set of readers (profiles-new.json): ten readers made after the engine was tuned,
# judged on the three holdouts' papers only (benchmarks/devset/README.md, fifth round); the
# third to seventeenth (profiles-third.json .. -seventeenth): twelve more each, judged on
# every part (sixth to twentieth rounds).
NEW_PARTS = ("holdout", "holdout2", "holdout3")
READERS = {"original": ("profiles.json", "labels.jsonl", PARTS), "new": ("profiles-new.json", "labels-new.jsonl", NEW_PARTS),
           "third": ("profiles-third.json", "labels-third.jsonl", PARTS),
           "fourth": ("profiles-fourth.json", "labels-fourth.jsonl", PARTS),
           "fifth": ("profiles-fifth.json", "labels-fifth.jsonl", PARTS),
           "sixth": ("profiles-sixth.json", "labels-sixth.jsonl", PARTS),
           "seventh": ("profiles-seventh.json", "labels-seventh.jsonl", PARTS),
           "eighth": ("profiles-eighth.json", "labels-eighth.jsonl", PARTS),
           "ninth": ("profiles-ninth.json", "labels-ninth.jsonl", PARTS),
           "tenth": ("profiles-tenth.json", "labels-tenth.jsonl", PARTS),
           "eleventh": ("profiles-eleventh.json", "labels-eleventh.jsonl", PARTS),
           "twelfth": ("profiles-twelfth.json", "labels-twelfth.jsonl", PARTS),
           "thirteenth": ("profiles-thirteenth.json", "labels-thirteenth.jsonl", PARTS),
           "fourteenth": ("profiles-fourteenth.json", "labels-fourteenth.jsonl", PARTS),
           "fifteenth": ("profiles-fifteenth.json", "labels-fifteenth.jsonl", PARTS),
           "sixteenth": ("profiles-sixteenth.json", "labels-sixteenth.jsonl", PARTS),
           "seventeenth": ("profiles-seventeenth.json", "labels-seventeenth.jsonl", PARTS),
           "eighteenth": ("profiles-eighteenth.json", "labels-eighteenth.jsonl", PARTS),
           "nineteenth": ("profiles-nineteenth.json", "labels-nineteenth.jsonl", PARTS)}
PAGE = DATA / "daily-papers-page.txt"
HF_FILES = sorted((DATA / "hf_daily_papers").glob("*.json"))
FEED = DATA / "arxiv_rss_new" / "aioarxiv_rss_20archives_2024-11-28_full1504items.xml"


@dataclass
class Devset:
    corpus: list  # PaperDoc of every stored paper
    by_key: dict  # devset key -> PaperDoc
    by_arxiv: dict  # arXiv id -> PaperDoc (for liked papers)
    split_of: dict  # devset key -> "tune" | "report"
    keys: list  # devset keys in papers.jsonl order (the page order of a period)
    profiles: list
    grades: dict  # (reader, key) -> 1 | 2
    texts: dict = field(default_factory=dict)  # doc id -> title + abstract

    def period(self, split: str) -> list:
        return [self.by_key[k] for k in self.keys if split in (DAY, self.split_of[k])]

    def relevant(self, reader: str, split: str) -> dict:
        return {self.by_key[k].id: g for (r, k), g in self.grades.items()
                if r == reader and split in (DAY, self.split_of[k])}


def load_devset(readers: str = "original") -> Devset:
    """The devset's papers read from the shared data by the project's own parsers, with the
    profiles and labels of `readers` ("original": the 17 readers of profiles.json, all five
    parts; "new": the 10 readers of profiles-new.json, the three holdouts; "third": the 12
    readers of profiles-third.json, and "fourth" to "seventeenth", the 12 of
    profiles-fourth.json to -seventeenth.json: all five parts)."""
    profiles_file, labels_file, parts = READERS[readers]
    from digest.ingest.formats import parse
    from digest.matching import PaperDoc

    for path in [PAGE, FEED, *HF_FILES]:
        if not path.exists():
            sys.exit(f"{path} is missing: the shared data set belongs at ../shared/data (or set PAPERPOST_DATA)")
    corpus, by_key, by_arxiv = [], {}, {}

    def add(record, doc_id: int, key: str | None) -> None:
        doc = PaperDoc(id=doc_id, title=record.title, abstract=record.abstract, authors=tuple(record.authors),
                       categories=tuple(record.categories), order=doc_id, upvotes=record.upvotes or 0)
        corpus.append(doc)
        if key:
            by_key[key] = doc
        if record.arxiv_id:
            by_arxiv.setdefault(record.arxiv_id, doc)
            by_key.setdefault(f"arxiv:{record.arxiv_id}", doc)

    for i, record in enumerate(parse(PAGE.read_bytes()).records):
        add(record, 1 + i, f"page:{i + 1:02d}")
    n = 1000
    for path in HF_FILES:
        for record in parse(path.read_bytes()).records:
            add(record, n, None)
            n += 1
    for i, record in enumerate(parse(FEED.read_bytes()).records):
        add(record, 10_000 + i, None)
    rows = [json.loads(line) for line in (DEVSET / "papers.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["split"] in parts]
    keys = [r["key"] for r in rows]
    missing = [k for k in keys if k not in by_key]
    if missing:
        sys.exit(f"devset papers not found in the shared data: {missing[:5]}")
    grades = {}
    for line in (DEVSET / labels_file).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            for reader, grade in row["grades"].items():
                grades[(reader, row["key"])] = int(grade)
    profiles = json.loads((DEVSET / profiles_file).read_text())
    return Devset(corpus, by_key, by_arxiv, {r["key"]: r["split"] for r in rows}, keys, profiles, grades,
                  {d.id: f"{d.title}\n{d.abstract}" for d in corpus})


# --- Metrics -------------------------------------------------------------------------------------


@dataclass
class Scores:
    micro: tuple[float, float, float]
    macro: tuple[float, float, float]
    p_at_5: float
    ndcg_at_10: float
    per_profile: dict  # reader -> (precision, recall, f1, sent, relevant)


def prf(tp: int, sent: int, relevant: int) -> tuple[float, float, float]:
    p = tp / sent if sent else 0.0
    r = tp / relevant if relevant else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def ndcg(ranked: list[int], gains: dict[int, int], k: int = 10) -> float:
    dcg = sum(gains.get(pid, 0) / math.log2(i + 2) for i, pid in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


def evaluate(sent: dict[str, list[int]], devset: Devset, split: str) -> Scores:
    """`sent`: reader -> the paper ids the system sends, best first."""
    tp_all = sent_all = rel_all = 0
    per, p5, nd = {}, [], []
    for profile in devset.profiles:
        reader = profile["id"]
        gains = devset.relevant(reader, split)
        ranked = sent.get(reader, [])
        tp = sum(1 for pid in ranked if pid in gains)
        tp_all, sent_all, rel_all = tp_all + tp, sent_all + len(ranked), rel_all + len(gains)
        per[reader] = (*prf(tp, len(ranked), len(gains)), len(ranked), len(gains))
        if ranked:
            top = ranked[:5]
            p5.append(sum(1 for pid in top if pid in gains) / len(top))
        nd.append(ndcg(ranked, gains))
    macro = tuple(sum(v[i] for v in per.values()) / len(per) for i in range(3))
    return Scores(prf(tp_all, sent_all, rel_all), macro, sum(p5) / len(p5) if p5 else 0.0, sum(nd) / len(nd), per)


# --- The systems ---------------------------------------------------------------------------------


def topic_queries() -> dict[str, tuple[str, str]]:
    from digest.starter_topics import STARTER_TOPICS

    return {slug: (name, query) for name, slug, query in STARTER_TOPICS}


def matching_stats(devset: Devset):
    """The corpus statistics fitted on every stored paper, as the product fits its window."""
    from digest.matching import CorpusStats

    return CorpusStats.fit(devset.corpus)


@dataclass
class Feedback:
    """What one reader said in the emails of earlier days, as the product stores it."""

    more: list = field(default_factory=list)  # paper ids: "more like this" (liked papers)
    fewer: list = field(default_factory=list)  # paper ids: "fewer like this" (disliked papers)
    model: object = None  # the LearnedModel retrained from them


def product(devset: Devset, split: str, strictness: str = "balanced", stats=None, weights=None,
            feedback: dict | None = None) -> dict[str, list[int]]:
    """What the product sends each profile for the split's period (with `feedback`: reader ->
    Feedback, as it would after those reactions)."""
    import inspect

    from digest import matching

    topics = topic_queries()
    period = devset.period(split)
    liked_docs = [devset.by_arxiv[a] for p in devset.profiles for a in p["typed"]["liked"] if a in devset.by_arxiv]
    feedback = feedback or {}
    by_id = {d.id: d for d in devset.corpus}
    liked_docs += [by_id[i] for f in feedback.values() for i in f.more + f.fewer]
    new_engine = hasattr(matching, "CorpusStats")
    if new_engine:
        stats = stats or matching.CorpusStats.fit(devset.corpus)
        index = matching.PaperIndex(period, weights, stats=stats, external=liked_docs)
    else:
        index = matching.PaperIndex(period, external=liked_docs)
    accepts = inspect.signature(matching.Interests.build).parameters
    out = {}
    for profile in devset.profiles:
        typed = profile["typed"]
        extra = {}
        if "about" in accepts:
            extra = {"about": typed["about"], "strictness": strictness}
        said = feedback.get(profile["id"], Feedback())
        if said.fewer or said.model:
            extra.update(disliked=said.fewer, learned=said.model)
        interests = matching.Interests.build(
            topics=[topics[slug] for slug in typed["topics"]], keywords=typed["keywords"],
            categories=typed["categories"], authors=typed["authors"],
            liked=[devset.by_arxiv[a].id for a in typed["liked"] if a in devset.by_arxiv] + said.more, **extra)
        ranking = matching.rank(interests, index)
        out[profile["id"]] = [index.papers[p].id for p in ranking.positions.tolist()]
    return out


def after_feedback(devset: Devset, days: list[str], stats, share: float = 1.0, per_email: int = 10,
                   seed: int = 5) -> dict:
    """Readers who react in their emails: on each of `days` (parts of the devset, in order)
    each profile gets its email (the first `per_email` papers the product sends, with what it
    learned so far) and marks `share` of its papers (chosen at random) "more like this" when
    the labels say relevant, "fewer like this" when not, as subscribers/learning.py records
    them; the model is retrained after each day against the days' other papers (the
    background, as learning.background_docs). Returns reader -> Feedback for the next day."""
    import random

    from digest.matching import train

    rng = random.Random(seed)
    said = {p["id"]: Feedback() for p in devset.profiles}
    seen: list = []
    for day in days:
        sent = product(devset, day, stats=stats, feedback=said)
        seen += devset.period(day)
        by_id = {d.id: d for d in seen}
        for profile in devset.profiles:
            reader, mine = profile["id"], said[profile["id"]]
            gains = devset.relevant(reader, day)
            for pid in sent[reader][:per_email]:
                if rng.random() < share:
                    (mine.more if pid in gains else mine.fewer).append(pid)
            examples = [(by_id[i], 1.0) for i in mine.more] + [(by_id[i], -1.0) for i in mine.fewer]
            # The typed liked papers are labels too (Subscriber.liked_papers).
            examples += [(devset.by_arxiv[a], 1.0) for a in profile["typed"]["liked"] if a in devset.by_arxiv]
            labelled = {d.id for d, _ in examples}
            mine.model = train(examples, stats, background=[d for d in seen if d.id not in labelled])
    return said


def substring_baseline(devset: Devset, split: str) -> dict[str, list[int]]:
    from digest.matching import normalize_name, parse_terms

    topics = topic_queries()
    out = {}
    for profile in devset.profiles:
        typed = profile["typed"]
        terms = list(parse_terms(typed["keywords"]))
        for slug in typed["topics"]:
            terms += parse_terms(topics[slug][1])
        wanted = list(dict.fromkeys(t.text.casefold() for t in terms if not t.exclude))
        unwanted = [t.text.casefold() for t in terms if t.exclude]
        cats = {c.strip() for c in typed["categories"].split(",") if c.strip()}
        names = {normalize_name(a) for a in typed["authors"].split(",") if a.strip()}
        scored = []
        for order, doc in enumerate(devset.period(split)):
            text = f"{doc.title} {doc.abstract}".casefold()
            if any(u in text for u in unwanted):
                continue
            hits = sum(1 for w in wanted if w in text)
            hits += sum(1 for c in doc.categories if c in cats)
            hits += sum(1 for a in doc.authors if normalize_name(a) in names)
            if hits:
                scored.append((-hits, order, doc.id))
        out[profile["id"]] = [pid for _, _, pid in sorted(scored)]
    return out


class TfidfBaseline:
    """Cosine of the "about me" sentence (or the typed keywords) against each paper."""

    def __init__(self, devset: Devset):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.devset = devset
        self.vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=1)
        self.vectorizer.fit([devset.texts[d.id] for d in devset.corpus])
        self.threshold = 0.0

    def query(self, typed: dict) -> str:
        if typed["about"].strip():
            return typed["about"]
        from digest.matching import parse_terms

        return ", ".join(t.text for t in parse_terms(typed["keywords"]) if not t.exclude)

    def scores(self, split: str) -> dict[str, list[tuple[float, int]]]:
        period = self.devset.period(split)
        docs = self.vectorizer.transform([self.devset.texts[d.id] for d in period])
        out = {}
        for profile in self.devset.profiles:
            text = self.query(profile["typed"])
            if not text.strip():
                out[profile["id"]] = []
                continue
            sims = (docs @ self.vectorizer.transform([text]).T).toarray().ravel()
            out[profile["id"]] = sorted(((-float(s), order) for order, s in enumerate(sims) if s > 0))
        return out

    def sent(self, split: str, threshold: float | None = None) -> dict[str, list[int]]:
        limit = self.threshold if threshold is None else threshold
        period = self.devset.period(split)
        return {reader: [period[order].id for s, order in ranked if -s >= limit]
                for reader, ranked in self.scores(split).items()}

    def choose_threshold(self) -> float:
        """The threshold with the best micro F1 on the tune half."""
        best = (-1.0, 0.0)
        for step in range(1, 60):
            t = step / 100
            f1 = evaluate(self.sent("tune", t), self.devset, "tune").micro[2]
            best = max(best, (f1, t))
        self.threshold = best[1]
        return self.threshold


# --- Output ----------------------------------------------------------------------------------------


def table(split: str, systems: dict[str, Scores], out: Callable[[str], None] = print) -> None:
    out(f"\n== {split} ==")
    out(f"{'system':22s} {'micro P':>7s} {'R':>5s} {'F1':>5s}   {'macro P':>7s} {'R':>5s} {'F1':>5s}   "
        f"{'P@5':>5s} {'nDCG@10':>7s}")
    for name, s in systems.items():
        out(f"{name:22s} {s.micro[0]:7.3f} {s.micro[1]:5.3f} {s.micro[2]:5.3f}   {s.macro[0]:7.3f} {s.macro[1]:5.3f} "
            f"{s.macro[2]:5.3f}   {s.p_at_5:5.3f} {s.ndcg_at_10:7.3f}")
    out("P@5: precision of the first <=5 papers each subscriber gets, averaged over subscribers who get any.")
    out(f"\n{'profile':20s} {'rel':>4s} | " + " | ".join(f"{n[:14]:>14s} P/R/F1 sent" for n in systems))
    first = next(iter(systems.values()))
    for reader in first.per_profile:
        cells = []
        for s in systems.values():
            p, r, f, n, _ = s.per_profile[reader]
            cells.append(f"{p:4.2f}/{r:4.2f}/{f:4.2f} {n:4d}")
        out(f"{reader:20s} {first.per_profile[reader][4]:4d} | " + " | ".join(f"{c:>26s}" for c in cells))


def dense_stats(stats, folder):
    """The same corpus statistics with the dense encoder of `folder` attached (what
    MATCH_EMBEDDING_MODEL does in the product)."""
    from digest.matching.dense import load_encoder

    return stats.with_dense(load_encoder(folder))


def run(splits: list[str], strictness: str = "balanced", readers: str = "original", model: str | None = None) -> dict:
    devset = load_devset(readers)
    parts = READERS[readers][2]
    tfidf = TfidfBaseline(devset)
    # The threshold is chosen on the original readers' tune half (the new readers have no
    # labels there) and kept for any reader set.
    tfidf.threshold = threshold = (tfidf if readers == "original" else TfidfBaseline(load_devset())).choose_threshold()
    stats = None
    from digest import matching

    if hasattr(matching, "CorpusStats"):
        stats = matching.CorpusStats.fit(devset.corpus)
    with_model = dense_stats(stats, model) if model and stats is not None else None
    sizes = " / ".join(f"{sum(1 for s in devset.split_of.values() if s == part)} {part}" for part in parts)
    print(f"relevance benchmark: {len(devset.corpus):,} stored papers, {len(devset.keys)} labelled ({sizes}), "
          f"{len(devset.profiles)} {readers} profiles; strictness {strictness}; "
          f"TF-IDF threshold {threshold:.2f} (chosen on tune)")
    means: dict[str, list[float]] = {}
    result = {}
    for split in splits:
        systems = {
            "Paperpost": evaluate(product(devset, split, strictness, stats), devset, split),
            "substring filter": evaluate(substring_baseline(devset, split), devset, split),
            "TF-IDF about me": evaluate(tfidf.sent(split), devset, split),
        }
        if with_model is not None:
            # The engine with the dense encoder in place of LSA (MATCH_EMBEDDING_MODEL).
            systems["Paperpost + MiniLM"] = evaluate(product(devset, split, strictness, with_model), devset, split)
        # The same readers after reacting in the emails of the parts before this one (a day
        # each): to every paper of each email, or to a random half of them.
        days = parts[:parts.index(split)] if split in parts else []
        if days and stats is not None:
            for name, share in (("after feedback, all", 1.0), ("after feedback, half", 0.5)):
                said = after_feedback(devset, days, stats, share=share)
                systems[name] = evaluate(product(devset, split, strictness, stats, feedback=said), devset, split)
        table(split, systems)
        ours, sub, tf = systems["Paperpost"], systems["substring filter"], systems["TF-IDF about me"]
        result = {
            "benchmark": "relevance", "split": split, "strictness": strictness,
            "f1": round(ours.micro[2], 3), "precision": round(ours.micro[0], 3), "recall": round(ours.micro[1], 3),
            "macro_f1": round(ours.macro[2], 3), "p_at_5": round(ours.p_at_5, 3), "ndcg_at_10": round(ours.ndcg_at_10, 3),
            "f1_substring": round(sub.micro[2], 3), "p_at_5_substring": round(sub.p_at_5, 3),
            "ndcg_at_10_substring": round(sub.ndcg_at_10, 3),
            "f1_tfidf": round(tf.micro[2], 3), "p_at_5_tfidf": round(tf.p_at_5, 3), "ndcg_at_10_tfidf": round(tf.ndcg_at_10, 3),
            "tfidf_threshold": threshold,
        }
        for name, key in (("after feedback, all", "after_feedback"), ("after feedback, half", "after_feedback_half"),
                          ("Paperpost + MiniLM", "dense")):
            if name in systems:
                s = systems[name]
                result |= {f"f1_{key}": round(s.micro[2], 3), f"p_at_5_{key}": round(s.p_at_5, 3),
                           f"ndcg_at_10_{key}": round(s.ndcg_at_10, 3)}
        for key in ("f1", "p_at_5", "ndcg_at_10", "f1_substring", "p_at_5_substring", "f1_tfidf", "p_at_5_tfidf",
                    *(("f1_dense", "p_at_5_dense", "ndcg_at_10_dense") if with_model is not None else ())):
            means.setdefault(key, []).append(result[key])
    if len(splits) > 1:
        # Each part is one day's edition; the mean over the days printed.
        result["mean_over_parts"] = {k: round(sum(v) / len(v), 3) for k, v in means.items()}
        print(f"\nmean over {', '.join(splits)}: " + ", ".join(f"{k} {v}" for k, v in result["mean_over_parts"].items()))
    result["readers"] = readers
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=[*PARTS, "all", DAY], default="all",
                        help="which part to score (default: every part of the reader set, one at a time); "
                             "day: all of the set's labelled papers as one edition, the size of a real day "
                             "(benchmarks/devset/README.md)")
    parser.add_argument("--readers", choices=list(READERS), default="original",
                        help="original: the 17 readers the engine was tuned on (five parts); new: ten readers "
                             "judged on the three holdouts; third: twelve readers on all five parts (both "
                             "tuned on since); fourth: twelve readers made and judged before the last tuning, "
                             "on all five parts; fifth: twelve more, written by someone who never saw the "
                             "matcher (tuned on since); sixth to ninth: twelve more each, written the same "
                             "way, each scored once and tuned on since (tenth to sixteenth too); seventeenth: "
                             "twelve more, written the same way after the last change, never tuned on; eighteenth: twelve more, "
                             "judged before the dense encoder was measured, never tuned on; nineteenth: twelve "
                             "more, judged after the encoder's numbers were chosen, never tuned on")
    parser.add_argument("--strictness", choices=["strict", "balanced", "broad"], default="balanced")
    from digest.matching.dense import BUNDLED_MODEL

    parser.add_argument("--embedding-model", default=str(BUNDLED_MODEL),
                        help="the dense encoder's folder (`make model`): scores the engine with it as well "
                             "(\"Paperpost + MiniLM\", JSON keys *_dense); 'none' skips it")
    args = parser.parse_args()
    model = None if args.embedding_model == "none" else args.embedding_model
    parts = READERS[args.readers][2]
    if args.split not in ("all", DAY) and args.split not in parts:
        parser.error(f"the {args.readers} readers are judged on {', '.join(parts)} only")
    splits = list(parts) if args.split == "all" else [args.split]
    print(json.dumps(run(splits, args.strictness, args.readers, model)))


if __name__ == "__main__":
    main()
