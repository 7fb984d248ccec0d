"""Per-subscriber learned models: a linear classifier over the same TF-IDF features as the
semantic layer, trained from a subscriber's own signals, kept as a few hundred term
weights and a bias (a few KB of JSON), and blended with the explicit interests.

The subscriber side (storage, retraining task, preference centre) uses this API:

    examples = [(doc, +1.0) for doc in liked] + [(doc, -1.0) for doc in not_interested]
             + [(doc, +0.3) for doc in clicked]            # weak positives
    model = train(examples, stats, background=recent_docs)  # None below MIN_LABELS
    row.model = model.to_dict()                              # JSON, store it as it is
    ...
    Interests.build(..., learned=LearnedModel.from_dict(row.model))

Labels: +1 for liked / "more like this" / upvoted, -1 for "fewer like this" / "not
interested", a smaller positive weight for clicks. `background` (recent papers the person
did not react to) are weak negatives, as arxiv-sanity treats every unmarked paper: they
keep a model trained on likes alone from liking everything. A model with fewer than
MIN_LABELS labels, or fewer than MIN_POSITIVES positives, is not usable: Interests.build
then ignores it and the explicit interests alone decide.

What the model adds to a paper's relevance: Weights.learned x ramp(z, LEARNED_LOW, LEARNED_HIGH),
z the standard score of the model's margin over the edition's papers (closeness.learned_values:
the probability itself is under 0.5 for nearly every new paper); `top_terms()` says what it learned, for the
preference centre."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..text import analyse
from .semantic import tfidf_features

MIN_LABELS = 5
MIN_POSITIVES = 2
TOP_TERMS = 300
BACKGROUND_WEIGHT = 0.2
BACKGROUND_MAX = 400


@dataclass(frozen=True, eq=False)
class LearnedModel:
    terms: tuple[tuple[str, float], ...]  # (stem, weight), strongest first
    bias: float
    positives: int = 0
    negatives: int = 0
    positive_ids: tuple[int, ...] = ()  # papers that taught it (to say "because you liked ...")
    trained_at: str = ""
    _digest: str = field(default="", repr=False)

    def __post_init__(self):
        if not self._digest:
            payload = json.dumps([self.terms, self.bias], separators=(",", ":")).encode()
            object.__setattr__(self, "_digest", hashlib.sha1(payload).hexdigest()[:16])

    def __hash__(self) -> int:
        return hash(self._digest)

    def __eq__(self, other) -> bool:
        return isinstance(other, LearnedModel) and self._digest == other._digest

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def usable(self) -> bool:
        return self.positives + self.negatives >= MIN_LABELS and self.positives >= MIN_POSITIVES and bool(self.terms)

    def top_terms(self, n: int = 10) -> list[tuple[str, float]]:
        """The words that most raise a paper's chance (positive weights, strongest first)."""
        return [(t, w) for t, w in self.terms if w > 0][:n]

    def to_dict(self) -> dict:
        return {"version": 1, "terms": [[t, round(w, 5)] for t, w in self.terms], "bias": round(self.bias, 5),
                "positives": self.positives, "negatives": self.negatives, "positive_ids": list(self.positive_ids),
                "trained_at": self.trained_at}

    @classmethod
    def from_dict(cls, data: dict) -> LearnedModel:
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a learned model (version 1) dictionary")
        return cls(tuple((str(t), float(w)) for t, w in data["terms"]), float(data["bias"]),
                   int(data.get("positives", 0)), int(data.get("negatives", 0)),
                   tuple(int(i) for i in data.get("positive_ids", ())), str(data.get("trained_at", "")))


def train(examples: Iterable[tuple[object, float]], stats, background: Sequence = (), top_terms: int = TOP_TERMS,
          c: float = 10.0, seed: int = 0, exclude: Collection[str] = ()) -> LearnedModel | None:
    """Fit a logistic regression on TF-IDF features of (paper, label weight) examples;
    papers are PaperDoc-like (id, title, abstract). Returns None below the label minimum.
    `exclude`: stems the model must not use (words the person asked it to forget); the
    other words are fitted without them."""
    # scikit-learn is a heavy import, needed only where a model is trained.
    from sklearn.linear_model import LogisticRegression

    examples = [(doc, float(w)) for doc, w in examples if w]
    positives = [d for d, w in examples if w > 0]
    negatives = [d for d, w in examples if w < 0]
    if len(examples) < MIN_LABELS or len(positives) < MIN_POSITIVES:
        return None
    labelled = {d.id for d, _ in examples}
    pool = [d for d in background if d.id not in labelled]
    if len(pool) > BACKGROUND_MAX:
        pool = random.Random(seed).sample(pool, BACKGROUND_MAX)
    docs = [d for d, _ in examples] + pool
    y = np.array([1 if w > 0 else 0 for _, w in examples] + [0] * len(pool))
    if y.min() == y.max():
        return None  # only positives and no background: nothing to tell them from
    sample_weight = np.array([abs(w) for _, w in examples] + [BACKGROUND_WEIGHT] * len(pool))
    seqs = [tuple(analyse(d.title)[0]) + tuple(analyse(d.abstract or "")[0]) for d in docs]
    features, vocab = tfidf_features(seqs, stats)
    dropped = [vocab[t] for t in exclude if t in vocab]
    if dropped:
        keep = np.ones(features.shape[1])
        keep[dropped] = 0.0
        features = features @ sparse.diags(keep)
    classifier = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="liblinear")
    classifier.fit(features, y, sample_weight=sample_weight)
    terms = {t: i for t, i in vocab.items()}
    coef = classifier.coef_.ravel()
    order = np.argsort(-np.abs(coef))[:top_terms]
    names = {i: t for t, i in terms.items()}
    # Rounded as stored, so that a model read back from its dictionary is the same model.
    kept = tuple((names[int(i)], round(float(coef[i]), 5)) for i in order if round(float(coef[i]), 5) != 0)
    return LearnedModel(kept, round(float(classifier.intercept_[0]), 5), len(positives), len(negatives),
                        tuple(d.id for d in positives[:50]),
                        dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
