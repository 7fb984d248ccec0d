"""Ranking: one subscriber (rank) or many at once (match_many).

    relevance = sum of the subscriber's component values for the paper (ranking.md)
    a paper is selected when relevance >= the floor of the subscriber's strictness and no
        exclusion or "fewer like this" component holds it
    score     = relevance + ORDER_CLOSENESS x mean closeness of the paper to each typed text
                + ORDER_CATEGORY x the value of each followed category the paper is in
                + popularity x (SIGNAL x min(1, log(1+upvotes)/log(1+SCALE))
                                + FEATURED if a curator featured it)
Ties keep the page order. The order parts and popularity only reorder papers that already
cleared the floor (the mean is an integer division of the texts' values in UNITs: every
path floors it alike).

Speed: equal interests are matched once (Distinct), and every distinct set is ranked by one
compiled loop (kernel.rank_rows) that sums its component vectors in a scratch array, keeps
what clears its floor and sorts it, packed as (best score first, page position) in one
integer each."""

from __future__ import annotations

from collections.abc import Iterable
import threading
import weakref
from operator import attrgetter, itemgetter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .index import UNIT, PaperIndex, to_units
from .interests import BLOCKING, COMPONENTS, KEY_HEADER, STRICTNESS, Interests, is_gated_topic

SCORE_BITS = 34  # packed scores: from -SCORE_OFFSET to TOP_PACKED units
SCORE_OFFSET = 2**20  # the closeness order may take a score below 0 (104 relevance units down)
TOP_PACKED = 2**SCORE_BITS - 1 - SCORE_OFFSET  # a score packs as TOP_PACKED - score
_BLOCKED = -(2**27)  # far below any relevance (13,421 units): a blocked paper's sum stays negative
CHUNK_ROWS = 8_192  # rows per call of the compiled loop (its output is sized per call)


@dataclass
class Ranking:
    """The outcome for one interest set: paper positions in the index, best first."""

    positions: np.ndarray  # int32 indices into PaperIndex.papers, ranked
    scores: np.ndarray  # float64 scores, same order
    total: int  # all selected papers (positions may hold only the top k)

    def pairs(self) -> list[tuple[int, float]]:
        return list(zip(self.positions.tolist(), self.scores.tolist()))


def floor_units(strictness: str, index: PaperIndex) -> int:
    """The floor of a strictness, in UNITs (a paper is selected at or above it)."""
    return max(1, round(index.weights.floor(strictness) * UNIT))


def with_signal(relevance: np.ndarray, positions: np.ndarray, popularity_pct, index: PaperIndex) -> np.ndarray:
    """Scores in UNITs: relevance plus the community bonus scaled by popularity (0..100)."""
    if not index.has_signal:
        return relevance
    return relevance + (np.asarray(popularity_pct, dtype=np.int64) * index.bonus[positions]) // 100


def closeness_order(texts: tuple[int, ...], positions: np.ndarray, index: PaperIndex) -> np.ndarray:
    """The closeness part of the score of the papers at `positions`, in UNITs: the floor of
    the mean of the typed texts' values (0 without texts, or when the index does not order
    by closeness)."""
    if not texts or not index.orders_by_closeness:
        return np.zeros(len(positions), dtype=np.int64)
    total = sum(index.text_values(c)[positions] for c in texts)
    return total // len(texts)


def order_part(interests: Interests, positions: np.ndarray, index: PaperIndex) -> np.ndarray:
    """What the order adds to the papers at `positions`, in UNITs: the typed texts'
    closeness, and ORDER_CATEGORY for each followed category the paper is in."""
    part = closeness_order(interests.texts, positions, index)
    if interests.order_categories and index.orders_by_category:
        part += sum(index.category_order(c)[positions] for c in interests.order_categories)
    return part


def rank(interests: Interests, index: PaperIndex) -> Ranking:
    """All papers `interests` select, best first."""
    relevance = np.zeros(index.size, dtype=np.int64)
    checked = interests.sensed if index.senses_keywords else ()
    for component in (interests.summed if checked else interests.adds):
        positions, values = index.vector(component)
        relevance[positions] += values  # positions are unique within one vector
    for term, own in checked:
        positions, values = index.sensed_vector(term, own, interests.sense_texts)
        relevance[positions] += values
    for component in interests.blocks:
        relevance[index.vector(component)[0]] = _BLOCKED
    positions = np.flatnonzero(relevance >= floor_units(interests.strictness, index)).astype(np.int32)
    scores = relevance[positions] + order_part(interests, positions, index)
    scores = with_signal(scores, positions, round(interests.popularity * 100), index)
    order = np.lexsort((positions, -scores))
    return Ranking(positions[order], scores[order] / UNIT, len(positions))


class Rankings:
    """The outcome of match_many: every distinct interest set's ranked papers, kept as the
    compiled loop returned them, one set of flat arrays (positions, scores, row offsets,
    counts) per CHUNK_ROWS rows; a Ranking is cut out when asked for."""

    def __init__(self, rows: Distinct, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]):
        self._rows, self._parts = rows, parts

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, interests: Interests) -> bool:
        return self._rows.row(interests) is not None

    def __getitem__(self, interests: Interests) -> Ranking:
        r = self._rows.row(interests)
        if r is None:
            raise KeyError(interests)
        positions, scores, indptr, totals = self._parts[r // CHUNK_ROWS]
        r %= CHUNK_ROWS
        a, b = indptr[r], indptr[r + 1]
        # A copy of the positions: a Ranking kept (selection's cache) must not hold the whole
        # batch's arrays. Scores are kept in UNITs (int32: half the memory of float64).
        return Ranking(positions[a:b].copy(), scores[a:b] / UNIT, int(totals[r]))

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for part in self._parts for a in part)


class Distinct:
    """The distinct interest sets of a list, in the order they first come, as their content
    keys (interests.content_key: bytes, whose hash was computed when the interests were
    built), and the row of each. Touching 100,000 scattered objects is what costs, so each
    is read once (Interests has slots: one load), for its key, and deduplicated by one
    dictionary that also numbers the rows."""

    def __init__(self, interests_list: Iterable[Interests]):
        row_of: dict[bytes, int] = {}
        first = row_of.setdefault
        for key in map(attrgetter("_key"), interests_list):
            first(key, len(row_of))
        self._row_of = row_of
        self.keys: list[bytes] = list(row_of)

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, interests: Interests) -> int | None:
        return self._row_of.get(interests._key)


def col_bits_of(size: int) -> int:
    """Bits for the page position in a packed key, for an index of `size` papers."""
    col_bits = max(1, int(max(1, size) - 1).bit_length())
    if col_bits + SCORE_BITS > 62:
        raise OverflowError(f"{size:,} papers are more than one ranking handles; split the period")
    return col_bits


SEMANTIC = frozenset(("like", "dislike", "about", "learned"))


def is_semantic(key: tuple) -> bool:
    """Computed from the semantic layer: liked papers, about texts, learned models, and the
    topics an about-me gates (each needs its text's closeness)."""
    return key[0] in SEMANTIC or is_gated_topic(key)


def prepare(components: Iterable[int], index: PaperIndex, texts: Iterable[int] = ()) -> None:
    """Compute the expensive component vectors (liked papers, about texts, topics gated by
    them, learned models) of many interest sets, and the typed texts' values for the order,
    in a few products."""
    keys = [(c, COMPONENTS[c]) for c in components]
    index.prepare_similar(k[1] for _, k in keys if k[0] in ("like", "dislike"))
    index.prepare_likes([c for c, k in keys if k[0] == "like"])
    index.prepare_dense([c for c, k in keys if k[0] in ("about", "learned") or is_gated_topic(k)] + list(texts))


def match_many(interests_list: Iterable[Interests], index: PaperIndex, top_k: int | None = None,
               workers: int = 2) -> Rankings:
    """Rank many interest sets at once. Each distinct set is matched once, as one row; the
    rows are ranked by the compiled loop (kernel.rank_rows), `workers` threads each taking
    a share of them. With top_k, each row keeps its k best papers (and the count of all)."""
    rows = Distinct(interests_list)
    keys = rows.keys  # each row's interests.content_key()
    col_bits = col_bits_of(index.size)
    if not keys:
        return Rankings(rows, [])
    from .kernel import rank_rows  # numba: loaded by the processes that rank in batch only

    arrays = _row_arrays(keys, index, workers)
    n_rows = len(keys)

    def run(lo: int):
        positions, scores, totals, overflow = rank_rows(lo, min(n_rows, lo + CHUNK_ROWS), *arrays,
                                                        col_bits, TOP_PACKED, -SCORE_OFFSET)
        if overflow:
            raise OverflowError("a score too large to rank; lower the weights")
        indptr = _offsets(totals)
        if top_k is not None:
            take = np.minimum(totals, top_k)
            within = np.arange(len(positions)) - np.repeat(indptr[:-1], totals)
            kept = within < np.repeat(take, totals)
            positions, scores = positions[kept], scores[kept]
            indptr = _offsets(take)
        return positions, scores, indptr, totals

    starts = range(0, n_rows, CHUNK_ROWS)
    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(run, starts))
    else:
        parts = [run(lo) for lo in starts]
    return Rankings(rows, parts)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    """Row pointers (CSR style) from each row's count of items."""
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _segments(buf: np.ndarray, begin: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row pointers, items) of one list of every row, each row's found at buf[begin:begin + length]."""
    ptr = _offsets(lengths)
    return ptr, buf[np.arange(ptr[-1]) + np.repeat(begin - ptr[:-1], lengths)]


def _places(ids: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct ids, sorted; a table of each one's place among them): component ids
    are small integers, so a lookup table does it in two gathers."""
    present = np.zeros(size, dtype=bool)
    present[ids] = True
    used = np.flatnonzero(present)
    lookup = np.zeros(size, dtype=np.int64)
    lookup[used] = np.arange(len(used))
    return used, lookup


def _renumber(ids: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct ids, sorted; each id's place among them)."""
    used, lookup = _places(ids, size)
    return used, lookup[ids]


def _dense_rows(ids: list[int], row_of) -> np.ndarray:
    """Dense per-paper integer rows (typed texts' values, closeness or category order) as
    one papers x ids array in 32 bits (a row's texts sit together; they are small
    integers: UNITs or thousandths)."""
    if not ids:
        return np.zeros((1, 1), dtype=np.int32)
    stacked = np.stack([row_of(c) for c in ids])
    if np.abs(stacked).max(initial=0) >= 2**31:
        raise OverflowError("a closeness too large to rank; lower the weights")
    return np.ascontiguousarray(stacked.T, dtype=np.int32)


class Postings:
    """Every component vector the batch has read on one index, concatenated (the compiled
    loop reads a component's postings by its row here), with blocking components' values
    set to _BLOCKED. Kept beside the index and extended with the components a batch brings
    that it lacks: a batch whose vectors are memoised copies none of them (gathering 8,500
    vectors took 14 ms of the benchmark's 0.24 s). The index's vectors never change once
    computed, so rows stay valid; an extension builds new arrays and swaps them in, so a
    batch holds one consistent set."""

    _of: "weakref.WeakKeyDictionary[PaperIndex, Postings]" = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    def __init__(self):
        self.ptr = np.zeros(1, dtype=np.int64)
        self.pos = self.val = np.zeros(0, dtype=np.int64)
        self.row = np.zeros(0, dtype=np.int64)  # component id -> its row here, -1: none

    @classmethod
    def of(cls, index: PaperIndex) -> Postings:
        with cls._lock:
            found = cls._of.get(index)
            if found is None:
                found = cls._of[index] = Postings()
            return found

    def rows(self, components: np.ndarray) -> np.ndarray:
        """Each component's row here, -1 for those without one yet."""
        row = self.row
        if len(row) < len(COMPONENTS):
            row = np.concatenate([row, np.full(len(COMPONENTS) - len(row), -1, dtype=np.int64)])
        return row[components]

    def extend(self, components: list[int], index: PaperIndex) -> None:
        """Add these components' vectors, taken from the index (computed there if need be)."""
        with self._lock:
            new = [c for c in components if c >= len(self.row) or self.row[c] < 0]
            if not new:
                return
            vectors = [index.vector(c) for c in new]
            sizes = np.fromiter(map(len, map(itemgetter(0), vectors)), dtype=np.int64, count=len(new))
            val = np.concatenate([v[1] for v in vectors], dtype=np.int64)
            blocking = np.fromiter((COMPONENTS[c][0] in BLOCKING for c in new), dtype=bool, count=len(new))
            val[np.repeat(blocking, sizes)] = _BLOCKED
            row = np.full(max(len(COMPONENTS), len(self.row)), -1, dtype=np.int64)
            row[:len(self.row)] = self.row
            row[new] = np.arange(len(self.ptr) - 1, len(self.ptr) - 1 + len(new))
            # New arrays, swapped in: a batch that read the old ones keeps a consistent set.
            self.ptr, self.pos, self.val = (np.concatenate([self.ptr, self.ptr[-1] + np.cumsum(sizes)]),
                                            np.concatenate([self.pos, *(v[0] for v in vectors)], dtype=np.int64),
                                            np.concatenate([self.val, val]))
            self.row = row

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        with self._lock:
            return self.ptr, self.pos, self.val, self.row


def _row_arrays(keys: list[bytes], index: PaperIndex, workers: int) -> tuple:
    """Everything kernel.rank_rows reads, from the rows' keys: each row's components, its
    checked keywords and their texts, the texts and categories of its order, its floor and
    popularity; the component vectors (computed here, the semantic ones on a second thread)
    and the dense rows of the texts' closeness and values."""
    n_rows, n_ids = len(keys), len(COMPONENTS)
    # The keys (interests.content_key) joined: one array of int64 records, read a field or a
    # list of every row at a time.
    buf = np.frombuffer(b"".join(keys), dtype=np.int64)
    starts = _offsets(np.fromiter(map(len, keys), dtype=np.int64, count=n_rows) // 8)[:-1]
    strictness, popularity, n_summed, n_sensed, n_typed, n_cats, n_stexts = buf[starts[:, None] + np.arange(KEY_HEADER)].T
    ends = np.cumsum([starts + KEY_HEADER, n_summed, 2 * n_sensed, n_typed, n_cats], axis=0)
    # An index that does not check keywords sums them as they are: their texts are left
    # out, so the loop finds no other known text and applies no gate.
    sensing = index.senses_keywords
    row_ptr, flat = _segments(buf, ends[0], n_summed)
    _, pairs = _segments(buf, ends[1], 2 * n_sensed)
    sense_ptr, pairs = _offsets(n_sensed), pairs.reshape(-1, 2)
    otext_ptr, otext_flat = _segments(buf, ends[2], n_typed if index.orders_by_closeness else 0 * n_typed)
    ocat_ptr, ocat_flat = _segments(buf, ends[3], n_cats if index.orders_by_category else 0 * n_cats)
    stext_ptr, stext_flat = _segments(buf, ends[4], n_stexts if sensing else 0 * n_stexts)
    otexts, otext_ids = _renumber(otext_flat, n_ids)
    stexts, stext_place = _places(stext_flat, n_ids)
    stext_ids, sense_own = stext_place[stext_flat], stext_place[pairs[:, 1]]
    ocats, ocat_ids = _renumber(ocat_flat, n_ids)
    comps = np.concatenate([flat, pairs[:, 0]])
    postings = Postings.of(index)
    rows = postings.rows(comps)
    new = np.unique(comps[rows < 0]).tolist()
    # The semantic components (liked papers, about texts and the topics they gate, learned
    # models, and the typed texts) are a few large matrix products, mostly in C with the
    # GIL released: they run on a second thread while this one computes the term, topic,
    # author and category vectors, mostly in Python. Each writes its own entries of the
    # index's memos. Nothing runs when every vector is memoised already.
    texts = np.union1d(otexts, stexts).tolist()
    todo, todo_texts = index.unmemoised(new, texts)
    if todo or todo_texts:
        if workers > 1:
            with ThreadPoolExecutor(max_workers=1) as pool:
                semantic = pool.submit(prepare, todo, index, todo_texts)
                for c in todo:
                    if not is_semantic(COMPONENTS[c]):
                        index.vector(c)
                semantic.result()
        else:
            prepare(todo, index, todo_texts)
    if new:
        postings.extend(new, index)
    comp_ptr, comp_pos, comp_val, row = postings.arrays()
    if new:
        rows = row[comps]
    row_comps, sense_term = rows[:len(flat)], rows[len(flat):]
    # The checked keywords' texts: closeness in thousandths, and whether the corpus knows each;
    # the order: the typed texts' values (their floored mean is added) and the followed
    # categories' (added as they are).
    milli = _dense_rows(stexts.tolist(), index.text_milli)
    known = np.fromiter(map(index.knows_text, stexts.tolist()), dtype=np.int64, count=len(stexts)) if sensing \
        else np.zeros(1, dtype=np.int64)
    text_values = _dense_rows(otexts.tolist(), index.text_values)
    cat_values = _dense_rows(ocats.tolist(), index.category_order)
    floors = np.array([floor_units(s, index) for s in STRICTNESS], dtype=np.int64)[strictness]
    w = index.weights
    return (row_ptr, row_comps, comp_ptr, comp_pos, comp_val,
            sense_ptr, sense_term, sense_own, stext_ptr, stext_ids, milli, known,
            float(w.keyword_sense_keep), float(w.keyword_sense_low), float(w.keyword_sense_high),
            otext_ptr, otext_ids, text_values, ocat_ptr, ocat_ids, cat_values,
            floors, popularity, index.bonus.astype(np.int64), bool(index.has_signal), int(index.size))


__all__ = ["Ranking", "Rankings", "match_many", "rank", "to_units"]
