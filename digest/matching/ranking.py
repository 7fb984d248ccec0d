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

Speed: a subscriber is a sum of component vectors, so many subscribers are one sparse
matrix product (rows: distinct interest sets, columns: components) x (components: papers),
and equal interests are matched once. The product's entries are packed into one integer
each, (row, best score first, page position), so one sort ranks every row."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from operator import attrgetter, eq, itemgetter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .closeness import sense_gate
from .index import UNIT, PaperIndex, to_units
from .interests import BLOCKING, COMPONENTS, STRICTNESS, Interests, is_gated_topic

_BLOCKED = -(2**27)  # far below any relevance (13,421 units): a blocked paper's sum stays negative
MAX_BLOCKS_32 = 8  # rows with more blocking components than this are summed in 64 bits
SCORE_BITS = 34  # packed scores: from -SCORE_OFFSET to TOP_PACKED units
SCORE_OFFSET = 2**20  # the closeness order may take a score below 0 (104 relevance units down)
TOP_PACKED = 2**SCORE_BITS - 1 - SCORE_OFFSET  # a score packs as TOP_PACKED - score
MAX_ROW_BITS = 20
MIN_ROWS_PER_THREAD = 5_000
BLOCK_ROWS = 4_096
CLOSENESS_ROWS = 1_024  # rows per sparse-dense product of the order parts


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
    for component in (interests._key[0] if checked else interests.adds):
        positions, values = index.vector(component)
        relevance[positions] += values  # positions are unique within one vector
    for term, own in checked:
        positions, values = index.sensed_vector(term, own, interests.sense_texts)
        relevance[positions] += values
    for component in interests.blocks:
        relevance[index.vector(component)[0]] = _BLOCKED
    positions = np.flatnonzero(relevance >= floor_units(interests, index)).astype(np.int32)
    scores = relevance[positions] + order_part(interests, positions, index)
    scores = with_signal(scores, positions, round(interests.popularity * 100), index)
    order = np.lexsort((positions, -scores))
    return Ranking(positions[order], scores[order] / UNIT, len(positions))


class Rankings:
    """The outcome of match_many: every distinct interest set's ranked papers, kept in three
    flat arrays (positions, scores, row offsets); a Ranking is cut out when asked for."""

    def __init__(self, rows: Distinct, indptr: np.ndarray, packed: np.ndarray, totals: np.ndarray,
                 col_bits: int, slots: np.ndarray | None = None):
        # packed: per ranked paper, row | (max score - score) | position, bit-packed (UNITs).
        # slots: where each row's papers stand in the flat arrays (rows are ranked grouped
        # by floor and popularity, not in the order they came).
        self._rows, self._indptr, self._packed, self._totals = rows, indptr, packed, totals
        self._col_bits = col_bits
        self._slots = slots

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, interests: Interests) -> bool:
        return self._rows.row(interests) is not None

    def __getitem__(self, interests: Interests) -> Ranking:
        r = self._rows.row(interests)
        if r is None:
            raise KeyError(interests)
        if self._slots is not None:
            r = int(self._slots[r])
        packed = self._packed[self._indptr[r]:self._indptr[r + 1]]
        positions = (packed & (2**self._col_bits - 1)).astype(np.int32)
        scores = (TOP_PACKED - ((packed >> self._col_bits) & (2**SCORE_BITS - 1))) / UNIT
        return Ranking(positions, scores, int(self._totals[r]))

    @property
    def nbytes(self) -> int:
        slots = self._slots.nbytes if self._slots is not None else 0
        return self._indptr.nbytes + self._packed.nbytes + self._totals.nbytes + slots


class Distinct:
    """The distinct interest sets of a list, in the order they first come, with their
    content keys, and the row of each. Touching 100,000 scattered objects is what costs
    (several passes of attribute reads, a Python __hash__ and __eq__ per subscriber), so
    each object is read once, for its hash and key (both computed when it was built); the
    list is deduplicated on the 64-bit hashes in C, and the keys of equal hashes are
    compared once to rule out a collision (the dictionary of objects is used when there is
    one). Everything ranking needs (components, strictness, popularity) is in the key."""

    def __init__(self, interests_list: Iterable[Interests]):
        items = interests_list if isinstance(interests_list, list) else list(interests_list)
        pairs = list(map(attrgetter("_hash", "_key"), items))
        hashes = np.fromiter(map(itemgetter(0), pairs), dtype=np.int64, count=len(items))
        keys = list(map(itemgetter(1), pairs))
        _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        self._by_hash: dict[int, int] | None = None
        self._by_interests: dict[Interests, int] | None = None
        if all(map(eq, keys, map(keys.__getitem__, first[inverse.ravel()].tolist()))):
            first.sort()
            self.keys = list(map(keys.__getitem__, first.tolist()))
            self._by_hash = dict(zip(hashes[first].tolist(), range(len(first))))
        else:
            unique = list(dict.fromkeys(items))
            self.keys = [i._key for i in unique]
            self._by_interests = dict(zip(unique, range(len(unique))))

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, interests: Interests) -> int | None:
        if self._by_hash is None:
            return self._by_interests.get(interests)
        r = self._by_hash.get(interests._hash)
        return r if r is not None and self.keys[r] == interests._key else None


def layout(size: int) -> tuple[int, int]:
    """(bits for the page position, rows per pass) for an index of `size` papers."""
    col_bits = max(1, int(max(1, size) - 1).bit_length())
    row_bits = min(MAX_ROW_BITS, 63 - SCORE_BITS - col_bits)
    if row_bits < 8:
        raise OverflowError(f"{size:,} papers are more than one ranking handles; split the period")
    return col_bits, 2**row_bits


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


def order_matrix(keys: list[tuple], index: PaperIndex, n_rows: int):
    """The order parts of rows (their keys' typed texts at position 5, categories at 6) as
    (rows x parts selection, parts x papers values in UNITs, divisor per row), or None when
    no row has any (or the index orders by neither). A category's column is weighted by
    the row's divisor (its count of texts, at least 1), so that one product and one floor
    division give the texts' floored mean plus the categories' values, as order_part():
    (a + n*c) // n == a // n + c for integers."""
    texts = list(map(itemgetter(5), keys)) if index.orders_by_closeness else [()] * n_rows
    cats = list(map(itemgetter(6), keys)) if index.orders_by_category else [()] * n_rows
    n_texts = np.fromiter(map(len, texts), dtype=np.int64, count=n_rows)
    n_cats = np.fromiter(map(len, cats), dtype=np.int64, count=n_rows)
    if not (n_texts.any() or n_cats.any()):
        return None
    divisor = np.maximum(n_texts, 1)
    lengths = n_texts + n_cats
    flat = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(zip(texts, cats))),
                       dtype=np.int64, count=int(lengths.sum()))
    is_text = np.repeat(np.tile([True, False], n_rows), np.column_stack([n_texts, n_cats]).ravel())
    weights = np.where(is_text, 1, np.repeat(divisor, lengths))
    used, local = np.unique(flat, return_inverse=True)
    used_ids = used.tolist()
    values = np.stack([index.text_values(c) if COMPONENTS[c][0] == "text" else index.category_order(c)
                       for c in used_ids])
    # Sums of integer values are exact in float32 below 2**24 (faster products), else float64.
    bound = int((weights * np.abs(values).max(axis=1)[local.ravel()]).max(initial=0)) * int(lengths.max())
    dtype = np.float32 if bound < 2**24 else np.float64
    select = sparse.csr_matrix((weights.astype(dtype), local.ravel(), np.concatenate([[0], np.cumsum(lengths)])),
                               shape=(n_rows, len(used)))
    return select, values.astype(dtype), divisor, lengths > 0


class Sensing:
    """The checked keywords (Interests.sensed) of a pass's rows: one entry per (row, term),
    with the term's row in the component matrix and its text's row in `closeness`; each
    row's keyword texts as a (rows x texts) selection of `closeness` (texts x papers, in
    thousandths: exact integers, summed exactly in float32 while under 2**24)."""

    def __init__(self, select, closeness, known, entry_row, entry_term, entry_own):
        # known: per text, whether the corpus knows it (PaperIndex.knows_text); n_known: per
        # row, how many of its texts it knows.
        self.select, self.closeness, self.known = select, closeness, known
        self.n_known = np.asarray(select @ known.astype(closeness.dtype)).astype(np.int64)
        self.entry_row, self.entry_term, self.entry_own = entry_row, entry_term, entry_own
        self.bounds = np.searchsorted(entry_row, np.arange(select.shape[0] + 1))

    def rows(self, lo: int, hi: int, component_matrix, weights):
        """The gated values of rows lo..hi's checked keywords as a (rows x papers) sparse
        matrix in UNITs, or None when those rows have none: each entry is the term's value
        times sense_gate() of the sums of the row's texts at the paper, as
        PaperIndex.sensed_vector() computes it for one subscriber."""
        a, b = int(self.bounds[lo]), int(self.bounds[hi])
        if a == b:
            return None
        rows, terms, owns = self.entry_row[a:b], self.entry_term[a:b], self.entry_own[a:b]
        starts = component_matrix.indptr[terms].astype(np.int64)
        lengths = component_matrix.indptr[terms + 1].astype(np.int64) - starts
        entry = np.repeat(np.arange(b - a), lengths)
        at = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        cols = component_matrix.indices[at]
        row = rows[entry]
        within = np.unique(rows)
        sums = np.asarray(self.select[within] @ self.closeness)  # one sum per row and paper
        total = sums[np.searchsorted(within, row), cols]
        own = self.closeness[owns[entry], cols]
        others = self.n_known[row] - self.known[owns[entry]]
        gate = sense_gate(total, own, others, weights)
        values = np.rint(component_matrix.data[at] * gate).astype(np.int64)
        return sparse.csr_matrix((values, (row - lo, cols)), shape=(hi - lo, component_matrix.shape[1]))


def sense_matrix(keys: list[tuple], index: PaperIndex, n_rows: int, lookup: np.ndarray) -> Sensing | None:
    """The Sensing of rows (their keys' checked keywords at position 7, keyword texts at 8),
    or None when no row has any or the index does not check keywords. `lookup` renumbers
    component ids to the component matrix's rows."""
    if not index.senses_keywords:
        return None
    sensed = list(map(itemgetter(7), keys))
    n_sensed = np.fromiter(map(len, sensed), dtype=np.int64, count=n_rows)
    if not n_sensed.any():
        return None
    texts = list(map(itemgetter(8), keys))
    n_texts = np.fromiter(map(len, texts), dtype=np.int64, count=n_rows)
    flat = np.fromiter(itertools.chain.from_iterable(texts), dtype=np.int64, count=int(n_texts.sum()))
    used, local = np.unique(flat, return_inverse=True)
    closeness = np.stack([index.text_milli(c) for c in used.tolist()])
    bound = int(np.abs(closeness).max(initial=0)) * int(n_texts.max())
    closeness = closeness.astype(np.float32 if bound < 2**24 else np.float64)
    select = sparse.csr_matrix((np.ones(len(flat), dtype=closeness.dtype), local.ravel(),
                                np.concatenate([[0], np.cumsum(n_texts)])), shape=(n_rows, len(used)))
    known = np.fromiter(map(index.knows_text, used.tolist()), dtype=bool, count=len(used))
    pairs = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(sensed)), dtype=np.int64,
                        count=2 * int(n_sensed.sum())).reshape(-1, 2)
    return Sensing(select, closeness, known, np.repeat(np.arange(n_rows, dtype=np.int64), n_sensed),
                   lookup[pairs[:, 0]], np.searchsorted(used, pairs[:, 1]))


def match_many(interests_list: Iterable[Interests], index: PaperIndex, top_k: int | None = None,
               workers: int = 2) -> Rankings:
    """Rank many interest sets at once. Each distinct set is matched once, as one row of a
    sparse product; then one sort of packed (row, score, position) keys orders every row.
    With top_k, each row keeps its k best papers (and the count of all)."""
    rows = Distinct(interests_list)
    keys = rows.keys  # (adds, blocks, topic names, strictness, popularity) of each row
    col_bits, per_pass = layout(index.size)
    # Rows are ranked grouped by their floor and popularity, so that a group compares with
    # one floor and adds one bonus vector: `order` lists the rows as ranked, `slots` says
    # where each row went.
    floor_of = {s: max(1, round(index.weights.floor(s) * UNIT)) for s in STRICTNESS}
    floors = np.fromiter(map(floor_of.__getitem__, map(itemgetter(3), keys)), dtype=np.int64, count=len(keys))
    popularity = np.fromiter(map(itemgetter(4), keys), dtype=np.float64, count=len(keys))
    popularity = np.rint(popularity * 100).astype(np.int64)
    order = np.lexsort((popularity, floors))
    slots = np.empty(len(keys), dtype=np.int64)
    slots[order] = np.arange(len(keys))
    ranked = list(map(keys.__getitem__, order.tolist()))
    parts = [_match_pass(ranked[start:start + per_pass], floors[order[start:start + per_pass]],
                         popularity[order[start:start + per_pass]], index, top_k, workers, col_bits)
             for start in range(0, len(keys), per_pass)]
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Rankings(rows, np.zeros(1, dtype=np.int64), empty, empty, col_bits)
    if len(parts) == 1:
        return Rankings(rows, *parts[0], col_bits, slots)
    offsets, packed, totals = [], [], []
    base = 0
    for indptr, keys, tot in parts:
        offsets.append(indptr[:-1] + base)
        base += len(keys)
        packed.append(keys)
        totals.append(tot)
    indptr = np.concatenate(offsets + [np.array([base])]).astype(np.int64)
    return Rankings(rows, indptr, np.concatenate(packed), np.concatenate(totals), col_bits, slots)


def _match_pass(keys: list[tuple], floors: np.ndarray, popularity: np.ndarray, index: PaperIndex,
                top_k: int | None, workers: int, col_bits: int):
    """Rank rows (the interests' keys) already grouped by (floor, popularity)."""
    n_rows = len(keys)
    adds, blocks = list(map(itemgetter(0), keys)), list(map(itemgetter(1), keys))
    # Checked keywords (Interests.sensed) are summed apart, gated; in an index that does not
    # check them they are summed as they are.
    checked = list(itertools.chain.from_iterable(map(itemgetter(7), keys)))
    if checked and not index.senses_keywords:
        adds = [a + tuple(c for c, _ in k[7]) if k[7] else a for a, k in zip(adds, keys)]
    n_adds = np.fromiter(map(len, adds), dtype=np.int64, count=n_rows)
    n_blocks = np.fromiter(map(len, blocks), dtype=np.int64, count=n_rows)
    lengths = n_adds + n_blocks
    flat = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(zip(adds, blocks))),
                       dtype=np.int64, count=int(lengths.sum()))
    # Component ids are small integers: a lookup table renumbers them 0..used-1.
    terms = np.fromiter((c for c, _ in checked), dtype=np.int64, count=len(checked))
    present = np.zeros(int(max(flat.max(initial=-1), terms.max(initial=-1))) + 1, dtype=bool)
    present[flat] = True
    present[terms] = True
    used = np.flatnonzero(present)
    lookup = np.zeros(len(present), dtype=np.int64)
    lookup[used] = np.arange(len(used))
    local = lookup[flat]
    used_ids = used.tolist()
    # The semantic components (liked papers, about texts and the topics they gate, learned
    # models, and the typed texts of the order) are a few large matrix products, mostly in
    # C with the GIL released: they run on a second thread while this one computes the
    # term, topic, author and category vectors, mostly in Python.
    # Each writes its own entries of the index's memos.
    texts = set(itertools.chain.from_iterable(map(itemgetter(5), keys))) if index.orders_by_closeness else set()
    if checked and index.senses_keywords:
        texts.update(itertools.chain.from_iterable(map(itemgetter(8), keys)))
    texts = sorted(texts)
    if workers > 1:
        with ThreadPoolExecutor(max_workers=1) as pool:
            semantic = pool.submit(prepare, used_ids, index, texts)
            for c in used_ids:
                if not is_semantic(COMPONENTS[c]):
                    index.vector(c)
            semantic.result()
    else:
        prepare(used_ids, index, texts)
    ordering = order_matrix(keys, index, n_rows)
    sensing = sense_matrix(keys, index, n_rows, lookup) if checked else None
    vectors = [index.vector(c) for c in used_ids]
    # An exclusion's papers get a huge negative relevance: whatever else adds up, the sum
    # stays negative, and it is dropped with everything under the floor.
    # 32-bit sums are faster; they cannot overflow while a row holds few blocking components.
    dtype = np.int32 if int(n_blocks.max(initial=0)) <= MAX_BLOCKS_32 else np.int64
    sizes = np.fromiter((len(v[0]) for v in vectors), dtype=np.int64, count=len(vectors))
    values = np.concatenate([v[1] for v in vectors]).astype(dtype) if vectors else np.zeros(0, dtype=dtype)
    blocking = np.fromiter((COMPONENTS[c][0] in BLOCKING for c in used_ids), dtype=bool, count=len(used_ids))
    values[np.repeat(blocking, sizes)] = _BLOCKED
    component_matrix = sparse.csr_matrix(
        (values, np.concatenate([v[0] for v in vectors]) if vectors else np.zeros(0, dtype=np.int32),
         np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)),
        shape=(len(used), index.size),
    )
    select = sparse.csr_matrix(
        (np.ones(len(flat), dtype=dtype), local, np.concatenate([[0], np.cumsum(lengths)])),
        shape=(n_rows, len(used)),
    )
    # The numeric work below runs in C with the GIL released: split the rows over threads,
    # each thread's rows into runs of one floor and one popularity, and each run into
    # blocks of rows whose arrays stay small (large temporary arrays cost more to allocate
    # than to fill).
    n_threads = max(1, min(workers, n_rows // MIN_ROWS_PER_THREAD))
    bounds = np.linspace(0, n_rows, n_threads + 1).astype(int)
    changes = (np.flatnonzero((np.diff(floors) != 0) | (np.diff(popularity) != 0)) + 1).tolist()
    jobs = []
    for a, b in zip(bounds.tolist(), bounds[1:].tolist()):
        cuts = sorted({a, b, *(c for c in changes if a < c < b), *range(a, b, BLOCK_ROWS)})
        jobs.append([(lo, hi, int(floors[lo]), int(popularity[lo])) for lo, hi in zip(cuts, cuts[1:])])

    def run(blocks_of_rows):
        pieces = [_rank_rows(select[lo:hi], lo, component_matrix, index, floor, pop, col_bits,
                             None if ordering is None else
                             (ordering[0][lo:hi], ordering[1], ordering[2][lo:hi], ordering[3][lo:hi]),
                             None if sensing is None else sensing.rows(lo, hi, component_matrix, index.weights))
                  for lo, hi, floor, pop in blocks_of_rows]
        return [p[0] for p in pieces], [p[1] for p in pieces]

    if n_threads > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            done = list(pool.map(run, jobs))
    else:
        done = [run(job) for job in jobs]
    keys = np.concatenate([k for ks, _ in done for k in ks])
    totals = np.concatenate([t for _, ts in done for t in ts]).astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(totals)]).astype(np.int64)
    if top_k is not None:
        take = np.minimum(totals, top_k)
        within = np.arange(len(keys)) - np.repeat(indptr[:-1], totals)
        keys = keys[within < np.repeat(take, totals)]
        indptr = np.concatenate([[0], np.cumsum(take)]).astype(np.int64)
    return indptr, keys, totals


def _rank_rows(select, first_row: int, component_matrix, index: PaperIndex, floor: int, popularity: int,
               col_bits: int, ordering=None, sensed=None) -> tuple[np.ndarray, np.ndarray]:
    """Relevance of some rows of one floor and one popularity, floored, scored, packed as
    (row, best score first, page position) into one integer each and sorted: one sort
    orders every row at once. Returns the keys and the count of papers per row."""
    relevance = select @ component_matrix  # rows x papers, in UNITs; blocked entries < 0
    if sensed is not None:
        relevance = (relevance + sensed).tocsr()  # a blocked sum stays negative
    kept = np.flatnonzero(relevance.data >= floor)
    # kept is sorted, so each row's count is the distance between its bounds in it.
    counts = np.diff(np.searchsorted(kept, relevance.indptr))
    cols = relevance.indices.take(kept)
    scores = relevance.data.take(kept).astype(np.int64)
    if ordering is not None and len(kept):
        scores += _order_at(ordering, counts, cols)
    if index.has_signal and popularity:
        bonus = index.bonus if popularity == 100 else (popularity * index.bonus) // 100
        scores = scores + bonus.take(cols)  # 64 bits from here: the bonus vector is int64
    if len(scores) and (int(scores.max()) > TOP_PACKED or int(scores.min()) < -SCORE_OFFSET):
        raise OverflowError("a score too large to rank; lower the weights")
    keys = np.repeat(np.arange(first_row, first_row + select.shape[0], dtype=np.int64), counts)
    keys <<= SCORE_BITS
    keys += TOP_PACKED
    keys -= scores
    keys <<= col_bits
    keys |= cols
    keys.sort()  # keys are distinct (row and position differ), so any sort is stable
    return keys, counts


def _order_at(ordering, counts: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """order_part() of each kept entry (rows in order, `counts` entries per row, papers
    `cols`): the row's weighted parts summed at the paper, floor-divided by the row's
    divisor (order_matrix). A few hundred rows at a time, the sums of every paper come from
    one sparse-dense product (sequential adds), then each entry takes its own: faster than
    gathering every (entry, part) pair from scattered memory."""
    select, values, divisor, has = ordering
    n_papers = values.shape[1]
    out = np.empty(len(cols), dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for lo in range(0, len(counts), CLOSENESS_ROWS):
        hi = min(len(counts), lo + CLOSENESS_ROWS)
        a, b = int(bounds[lo]), int(bounds[hi])
        sums = (select[lo:hi] @ values).ravel()  # exact: integers well inside the float's mantissa
        rows = np.repeat(np.arange(hi - lo, dtype=np.int64), counts[lo:hi])
        out[a:b] = np.rint(sums.take(rows * n_papers + cols[a:b]))
    out //= np.repeat(divisor, counts)
    out[~np.repeat(has, counts)] = 0
    return out


__all__ = ["Ranking", "Rankings", "match_many", "rank", "to_units"]
