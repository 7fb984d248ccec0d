"""Statistics of the stored corpus, the rolling window of recent papers, that scoring
needs beyond one edition's papers: how many papers hold each word (for IDF), how common
each arXiv category is, the acronyms the corpus defines, and the semantic layer.

Fit it with CorpusStats.fit(docs) on the papers of the last N days (digest.corpus does
that from the database, stores one compact blob per fit and hands the latest to every
worker); pass it to PaperIndex(papers, stats=...). An index given no stats fits them on
its own papers, which is what tests and small installs get."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

from ..text import analyse
from .analysis import CURATED_STEMS, Acronyms, learn_acronyms
from .semantic import DIMENSIONS, SemanticModel
from .terms import category_matches


class CorpusStats:
    def __init__(self, n_docs: int, df: dict[str, int], category_df: dict[str, int], acronyms: Acronyms,
                 semantic: SemanticModel | None = None, fitted_at: str = ""):
        self.n_docs = max(1, n_docs)
        self.df = df
        self.category_df = category_df
        self.acronyms = dict(acronyms)
        self.semantic = semantic
        # The dense encoder (dense.TextEncoder) standing in for the semantic layer's latent
        # vectors where one is installed: not part of the stored fit, attached by whoever
        # loads it (digest.corpus.current_stats, from MATCH_EMBEDDING_MODEL).
        self.dense = None
        self.fitted_at = fitted_at
        self._idf: dict[str, float] = {}

    @classmethod
    def fit(cls, docs: Iterable, dimensions: int = DIMENSIONS, semantic: bool = True) -> CorpusStats:
        """`docs`: PaperDoc-like objects (title, abstract, categories)."""
        df: Counter = Counter()
        cats: Counter = Counter()
        seqs, texts = [], []
        for doc in docs:
            title_seq, title_compounds = analyse(doc.title)
            abs_seq, abs_compounds = analyse(doc.abstract or "")
            df.update(set(title_seq) | set(abs_seq) | set(title_compounds) | set(abs_compounds))
            cats.update(set(doc.categories or ()))
            seqs.append(title_seq + abs_seq)
            texts.append(f"{doc.title}. {doc.abstract or ''}")
        model = SemanticModel.fit(seqs, dimensions) if semantic else None
        return cls(len(seqs), dict(df), dict(cats), learn_acronyms(texts), model,
                   dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def with_dense(self, encoder) -> CorpusStats:
        """The same statistics with a dense encoder attached (what current_stats does with
        MATCH_EMBEDDING_MODEL), for those that fit their own (benchmarks, tests)."""
        other = copy.copy(self)
        other.dense = encoder
        return other

    def idf(self, stem: str) -> float:
        """BM25's IDF: ln(1 + (N - df + 0.5) / (df + 0.5)); a word the corpus never saw
        counts as seen once."""
        found = self._idf.get(stem)
        if found is None:
            found = self._idf[stem] = self.idf_of_df(self.df.get(stem, 1))
        return found

    def idf_of_df(self, df: int) -> float:
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def papers_in(self, pattern: str) -> int:
        """Stored papers holding a category that `pattern` ("cs.CL", "cs.*") matches; a paper
        in two matching categories counts twice."""
        return sum(n for category, n in self.category_df.items() if category_matches(pattern, category))

    def category_share(self, pattern: str) -> float:
        """papers_in(pattern) as a share of the stored papers (at most 1)."""
        return min(1.0, self.papers_in(pattern) / self.n_docs)

    # -- storage ------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        meta = {"n_docs": self.n_docs, "category_df": self.category_df, "fitted_at": self.fitted_at,
                "acronyms": {k: [list(f) for f in v] for k, v in self.acronyms.items() if k not in CURATED_STEMS}}
        words = sorted(self.df)
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                  "df_words": np.array(words), "df_counts": np.array([self.df[w] for w in words], dtype=np.int32)}
        if self.semantic is not None:
            arrays.update(self.semantic.arrays())
        out = io.BytesIO()
        np.savez_compressed(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> CorpusStats:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(arrays["meta"].tobytes().decode())
            df = dict(zip(arrays["df_words"].tolist(), arrays["df_counts"].tolist()))
            semantic = SemanticModel.from_arrays(arrays) if "semantic_terms" in arrays else None
        acronyms = {k: tuple(tuple(f) for f in v) for k, v in meta["acronyms"].items()}
        return cls(meta["n_docs"], df, meta["category_df"], {**acronyms, **CURATED_STEMS}, semantic, meta["fitted_at"])
