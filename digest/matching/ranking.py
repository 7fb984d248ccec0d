"""Ranking: one subscriber (rank) or many at once (match_many).

    relevance = sum of the subscriber's component values for the paper (ranking.md)
    a paper is selected when relevance >= the floor of the subscriber's strictness and no
        exclusion or "fewer like this" component holds it
    score     = relevance + popularity x (SIGNAL x min(1, log(1+upvotes)/log(1+SCALE))
                                          + FEATURED if a curator featured it)
Ties keep the page order. Popularity only reorders papers that already cleared the floor.

Speed: a subscriber is a sum of component vectors, so many subscribers are one sparse
matrix product (rows: distinct interest sets, columns: components) x (components: papers),
and equal interests are matched once. The product's entries are packed into one integer
each, (row, best score first, page position), so one sort ranks every row."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .index import UNIT, PaperIndex, to_units
from .interests import BLOCKING, COMPONENTS, STRICTNESS, Interests

_BLOCKED = -(2**27)  # far below any relevance (13,421 units): a blocked paper's sum stays negative
MAX_BLOCKS_32 = 8  # rows with more blocking components than this are summed in 64 bits
SCORE_BITS = 34  # scores up to 17,179 relevance units
MAX_ROW_BITS = 20
MIN_ROWS_PER_THREAD = 5_000


@dataclass
class Ranking:
    """The outcome for one interest set: paper positions in the index, best first."""

    positions: np.ndarray  # int32 indices into PaperIndex.papers, ranked
    scores: np.ndarray  # float64 scores, same order
    total: int  # all selected papers (positions may hold only the top k)

    def pairs(self) -> list[tuple[int, float]]:
        return list(zip(self.positions.tolist(), self.scores.tolist()))


def floor_units(interests: Interests, index: PaperIndex) -> int:
    return max(1, round(index.weights.floor(interests.strictness) * UNIT))


def with_signal(relevance: np.ndarray, positions: np.ndarray, popularity_pct, index: PaperIndex) -> np.ndarray:
    """Scores in UNITs: relevance plus the community bonus scaled by popularity (0..100)."""
    if not index.has_signal:
        return relevance
    return relevance + (np.asarray(popularity_pct, dtype=np.int64) * index.bonus[positions]) // 100


def rank(interests: Interests, index: PaperIndex) -> Ranking:
    """All papers `interests` select, best first."""
    relevance = np.zeros(index.size, dtype=np.int64)
    for component in interests.adds:
        positions, values = index.vector(component)
        relevance[positions] += values  # positions are unique within one vector
    for component in interests.blocks:
        relevance[index.vector(component)[0]] = _BLOCKED
    positions = np.flatnonzero(relevance >= floor_units(interests, index)).astype(np.int32)
    scores = with_signal(relevance[positions], positions, round(interests.popularity * 100), index)
    order = np.lexsort((positions, -scores))
    return Ranking(positions[order], scores[order] / UNIT, len(positions))


class Rankings:
    """The outcome of match_many: every distinct interest set's ranked papers, kept in three
    flat arrays (positions, scores, row offsets); a Ranking is cut out when asked for."""

    def __init__(self, rows: dict[Interests, int], indptr: np.ndarray, packed: np.ndarray, totals: np.ndarray,
                 col_bits: int):
        # packed: per ranked paper, row | (max score - score) | position, bit-packed (UNITs).
        self._rows, self._indptr, self._packed, self._totals = rows, indptr, packed, totals
        self._col_bits = col_bits

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, interests: Interests) -> bool:
        return interests in self._rows

    def __getitem__(self, interests: Interests) -> Ranking:
        r = self._rows[interests]
        packed = self._packed[self._indptr[r]:self._indptr[r + 1]]
        positions = (packed & (2**self._col_bits - 1)).astype(np.int32)
        scores = ((2**SCORE_BITS - 1) - ((packed >> self._col_bits) & (2**SCORE_BITS - 1))) / UNIT
        return Ranking(positions, scores, int(self._totals[r]))

    @property
    def nbytes(self) -> int:
        return self._indptr.nbytes + self._packed.nbytes + self._totals.nbytes


def layout(size: int) -> tuple[int, int]:
    """(bits for the page position, rows per pass) for an index of `size` papers."""
    col_bits = max(1, int(max(1, size) - 1).bit_length())
    row_bits = min(MAX_ROW_BITS, 63 - SCORE_BITS - col_bits)
    if row_bits < 8:
        raise OverflowError(f"{size:,} papers are more than one ranking handles; split the period")
    return col_bits, 2**row_bits


def prepare(components: Iterable[int], index: PaperIndex) -> None:
    """Compute the expensive component vectors (liked papers, about texts, learned models)
    of many interest sets in a few products."""
    keys = [(c, COMPONENTS[c]) for c in components]
    index.prepare_similar(k[1] for _, k in keys if k[0] in ("like", "dislike"))
    index.prepare_dense([c for c, k in keys if k[0] in ("about", "learned")])


def match_many(interests_list: Iterable[Interests], index: PaperIndex, top_k: int | None = None,
               workers: int = 2) -> Rankings:
    """Rank many interest sets at once. Each distinct set is matched once, as one row of a
    sparse product; then one sort of packed (row, score, position) keys orders every row.
    With top_k, each row keeps its k best papers (and the count of all)."""
    rows: dict[Interests, int] = {}
    for interests in interests_list:
        if interests not in rows:
            rows[interests] = len(rows)
    unique = list(rows)
    col_bits, per_pass = layout(index.size)
    parts = [_match_pass(unique[start:start + per_pass], index, top_k, workers, col_bits)
             for start in range(0, len(unique), per_pass)]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Rankings(rows, np.zeros(1, dtype=np.int64), empty, empty, col_bits)
    if len(parts) == 1:
        return Rankings(rows, *parts[0], col_bits)
    offsets, packed, totals = [], [], []
    base = 0
    for indptr, keys, tot in parts:
        offsets.append(indptr[:-1] + base)
        base += len(keys)
        packed.append(keys)
        totals.append(tot)
    indptr = np.concatenate(offsets + [np.array([base])]).astype(np.int64)
    return Rankings(rows, indptr, np.concatenate(packed), np.concatenate(totals), col_bits)


def _match_pass(unique: list[Interests], index: PaperIndex, top_k: int | None, workers: int, col_bits: int):
    n_rows = len(unique)
    lengths = np.fromiter((len(i.adds) + len(i.blocks) for i in unique), dtype=np.int64, count=n_rows)
    flat = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable((i.adds, i.blocks) for i in unique)),
                       dtype=np.int64, count=int(lengths.sum()))
    used, local = np.unique(flat, return_inverse=True)
    prepare(used.tolist(), index)
    vectors = [index.vector(int(c)) for c in used]
    # An exclusion's papers get a huge negative relevance: whatever else adds up, the sum
    # stays negative, and it is dropped with everything under the floor.
    # 32-bit sums are faster; they cannot overflow while a row holds few blocking components.
    blocks = max((len(i.blocks) for i in unique), default=0)
    dtype = np.int32 if blocks <= MAX_BLOCKS_32 else np.int64
    values = [np.full(len(v[0]), _BLOCKED, dtype=dtype) if COMPONENTS[c][0] in BLOCKING else v[1].astype(dtype)
              for c, v in zip(used.tolist(), vectors)]
    component_matrix = sparse.csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0, dtype=dtype),
            np.concatenate([v[0] for v in vectors]) if vectors else np.zeros(0, dtype=np.int32),
            np.concatenate([[0], np.cumsum([len(v[0]) for v in vectors])]).astype(np.int64),
        ),
        shape=(len(used), index.size),
    )
    select = sparse.csr_matrix(
        (np.ones(len(flat), dtype=dtype), local, np.concatenate([[0], np.cumsum(lengths)])),
        shape=(n_rows, len(used)),
    )
    by_strictness = {s: max(1, round(index.weights.floor(s) * UNIT)) for s in STRICTNESS}
    floors = np.array([by_strictness[i.strictness] for i in unique], dtype=np.int64)
    popularity = np.array([i.popularity for i in unique], dtype=np.float64)
    popularity = np.rint(popularity * 100).astype(np.int64)
    # The numeric work below runs in C with the GIL released: split the rows over threads.
    n_threads = max(1, min(workers, n_rows // MIN_ROWS_PER_THREAD))
    bounds = np.linspace(0, n_rows, n_threads + 1).astype(int)
    jobs = [(select[a:b], int(a), component_matrix, index, floors[a:b], popularity[a:b], col_bits)
            for a, b in zip(bounds, bounds[1:])]
    if n_threads > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            pieces = list(pool.map(lambda job: _rank_rows(*job), jobs))
    else:
        pieces = [_rank_rows(*job) for job in jobs]
    keys = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    totals = np.bincount(keys >> (SCORE_BITS + col_bits), minlength=n_rows).astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(totals)]).astype(np.int64)
    if top_k is not None:
        take = np.minimum(totals, top_k)
        within = np.arange(len(keys)) - np.repeat(indptr[:-1], totals)
        keys = keys[within < np.repeat(take, totals)]
        indptr = np.concatenate([[0], np.cumsum(take)]).astype(np.int64)
    return indptr, keys, totals


def _rank_rows(select, first_row: int, component_matrix, index: PaperIndex, floors: np.ndarray,
               popularity: np.ndarray, col_bits: int) -> np.ndarray:
    """Relevance of some rows, floored, scored, packed as (row, best score first, page
    position) into one integer each and sorted: one sort orders every row at once."""
    relevance = select @ component_matrix  # rows x papers, in UNITs; blocked entries < 0
    if not len(floors) or floors.min() == floors.max():
        keep = relevance.data >= (floors[0] if len(floors) else 1)
    else:
        keep = relevance.data >= np.repeat(floors, np.diff(relevance.indptr))
    kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    kept_per_row = kept_before[relevance.indptr[1:]] - kept_before[relevance.indptr[:-1]]
    quantised, cols = relevance.data[keep].astype(np.int64), relevance.indices[keep]
    local_rows = np.repeat(np.arange(select.shape[0], dtype=np.int64), kept_per_row)
    if index.has_signal:
        quantised = with_signal(quantised, cols, popularity[local_rows], index)
    if len(quantised) and int(quantised.max()) >= 2**SCORE_BITS:
        raise OverflowError("a score too large to rank; lower the weights")
    keys = local_rows
    keys += first_row
    keys <<= SCORE_BITS + col_bits
    keys += (2**SCORE_BITS - 1) << col_bits
    quantised <<= col_bits
    keys -= quantised
    keys |= cols
    keys.sort()  # keys are distinct (row and position differ), so any sort is stable
    return keys


__all__ = ["Ranking", "Rankings", "match_many", "rank", "to_units"]
