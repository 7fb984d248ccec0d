"""The semantic layer: TF-IDF over the stored corpus, reduced by a truncated SVD (latent
semantic analysis) to a few hundred dimensions in which words that share contexts sit
together, so that "LLM agents" is near "language models acting as agents" even where
the words differ. Fitted on the rolling window of stored papers (CorpusStats.fit), kept
as a small array file, and loaded by workers: no download, no network, no GPU.

Any object with the same `embed(seqs)` method (rows of unit vectors for lists of stems)
can stand in as a dense-embedding backend."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from .terms import STOPWORDS

DIMENSIONS = 192
MIN_DOCS = 40  # below this the corpus is too small for a latent space to mean anything


def useful(stem: str) -> bool:
    return len(stem) > 2 and stem not in STOPWORDS and not stem.isdigit()


def l2_rows(matrix):
    matrix = sparse.csr_matrix(matrix)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ matrix


def tfidf_rows(seqs: Sequence[Sequence[str]], vocab: dict[str, int], idf: np.ndarray) -> sparse.csr_matrix:
    """Unit-length rows of (1 + log tf) x idf over `vocab`; unknown stems are left out."""
    get = vocab.get
    ids = [[j for j in map(get, seq) if j is not None] for seq in seqs]
    cols = np.fromiter((j for row in ids for j in row), dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum([len(row) for row in ids])]).astype(np.int64)
    counts = sparse.csr_matrix((np.ones(len(cols)), cols, indptr), shape=(len(seqs), len(vocab)))
    counts.sum_duplicates()  # one entry per word and row, holding its count
    counts.data = (1.0 + np.log(counts.data)) * np.asarray(idf, dtype=np.float64)[counts.indices]
    return l2_rows(counts).tocsr()


class SemanticModel:
    def __init__(self, vocab: list[str], idf: np.ndarray, components: np.ndarray):
        self.terms = list(vocab)
        self.vocab = {t: i for i, t in enumerate(self.terms)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.components = np.asarray(components, dtype=np.float32)  # dimensions x vocabulary

    @property
    def dimensions(self) -> int:
        return self.components.shape[0]

    @classmethod
    def fit(cls, seqs: Sequence[Sequence[str]], dimensions: int = DIMENSIONS, min_df: int = 2,
            max_terms: int = 40_000) -> SemanticModel | None:
        # scikit-learn is a heavy import, needed only where a fit happens.
        from sklearn.decomposition import TruncatedSVD

        n = len(seqs)
        if n < MIN_DOCS:
            return None
        df = Counter(s for seq in seqs for s in set(seq) if useful(s))
        kept = sorted((s for s, d in df.items() if d >= min_df and d < 0.5 * n), key=lambda s: (-df[s], s))[:max_terms]
        if len(kept) < 3:
            # Every word is in half the papers or in one only (a handful of near-identical
            # papers): nothing to learn a latent space from, and TruncatedSVD needs 3 terms.
            return None
        vocab = {s: i for i, s in enumerate(kept)}
        idf = np.array([math.log((1 + n) / (1 + df[s])) + 1.0 for s in kept])
        matrix = tfidf_rows(seqs, vocab, idf)
        k = max(2, min(dimensions, n // 4, len(kept) - 1))
        svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=5, random_state=0)
        svd.fit(matrix)
        return cls(kept, idf, svd.components_)

    def tfidf(self, seqs: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        return tfidf_rows(seqs, self.vocab, self.idf)

    def embed(self, seqs: Sequence[Sequence[str]]) -> np.ndarray:
        """Unit vectors in the latent space, one row per text (zero for a text with no
        known word)."""
        return self.project(self.tfidf(seqs))

    def project(self, tfidf: sparse.csr_matrix) -> np.ndarray:
        """Unit latent vectors of TF-IDF rows (as tfidf() makes them)."""
        dense = np.asarray(tfidf @ self.components.T, dtype=np.float32)
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return dense / norms

    def arrays(self) -> dict[str, np.ndarray]:
        return {"semantic_terms": np.array(self.terms), "semantic_idf": self.idf.astype(np.float32),
                "semantic_components": self.components.astype(np.float16)}

    @classmethod
    def from_arrays(cls, arrays) -> SemanticModel:
        return cls(arrays["semantic_terms"].tolist(), arrays["semantic_idf"], arrays["semantic_components"])


def tfidf_features(seqs: Sequence[Sequence[str]], stats) -> tuple[sparse.csr_matrix, dict[str, int]]:
    """Unit TF-IDF rows: over the semantic layer's vocabulary when there is one, else over
    the words of `seqs` with the corpus IDF."""
    if stats.semantic is not None:
        return stats.semantic.tfidf(seqs), stats.semantic.vocab
    vocab: dict[str, int] = {}
    for seq in seqs:
        for s in seq:
            if useful(s):
                vocab.setdefault(s, len(vocab))
    idf = np.array([stats.idf(s) for s in vocab]) if vocab else np.zeros(0)
    return tfidf_rows(seqs, vocab, idf), vocab
