"""The batch's inner loop, compiled (numba): every row's relevance, sense check, floor,
order, bonus and sort in one pass over the row's component postings, as rank() computes
them for one subscriber with numpy.

Why compiled: a subscriber's work is a few hundred additions, a few dozen kept papers and
one short sort. Done with numpy and scipy for 100,000 rows at once, most of the time went
to building and converting large temporary arrays (a sparse product, a second product for
the checked keywords, their sum, then packing and one sort of every kept entry); a loop
that keeps one row's sums in a scratch array touches each posting once. The arithmetic is
rank()'s, in the same order and the same types (int64 sums, the sense gate in float64 with
the same roundings), so the results are the same to the last digit: tests/test_ranking_engine.py
and benchmarks/matching.py check it on every path.

Each call ranks rows lo..hi with the GIL released; match_many runs one call per thread.
Compiled on first use and cached beside this file (numba's cache=True; compiled() says
where else), so a process loads it in a fraction of a second; ranking imports this module
only when it ranks many subscribers at once, so other processes do not load numba at all.

The sense gate below is closeness.sense_gate() (numpy, for rank() and the explanations)
written again for one paper at a time: a change to either must be made to both, and the
every-path tests fail when they differ."""

from __future__ import annotations

import logging

import numpy as np
from numba import njit

logger = logging.getLogger(__name__)


def compiled(**options):
    """numba's njit, cached on disk (beside this file, or in NUMBA_CACHE_DIR) when there is a
    folder it may write; else compiled in memory by each process (a couple of seconds once),
    with a warning, rather than failing to import: an installation whose code is read-only
    and whose user has no home still ranks."""
    def wrap(function):
        try:
            return njit(cache=True, **options)(function)
        except RuntimeError as error:  # numba found no writable folder for its cache
            logger.warning("%s; compiled in memory instead (set NUMBA_CACHE_DIR to a writable folder)", error)
            return njit(**options)(function)
    return wrap


@compiled()
def _round4(x):
    # numpy's round(x, 4): multiply, round half to even, divide.
    return np.rint(x * 10000.0) / 10000.0


@compiled()
def _sort(keys, m, counts, spare):
    """Sort keys[:m] (distinct keys: any sort is stable). Most rows keep a few dozen papers:
    an insertion sort is quickest there. A longer row is first spread into m / 2 buckets by
    value (one counting pass; the buckets are in key order), which leaves the insertion sort
    little to move: 0.08 s -> 0.04 s for the benchmark's 3.9 M kept papers, where numpy's
    quicksort mispredicted a branch at every other comparison. counts and spare: scratch,
    at least m + 1 and m long."""
    if m > 32:
        low, high = keys[0], keys[0]
        for i in range(1, m):
            low, high = min(low, keys[i]), max(high, keys[i])
        n_buckets = m // 2
        # Bucket of a key: (key - low) scaled to 0 .. n_buckets - 1 in floating point, a
        # monotonic map (so the buckets keep the keys' order; the insertion sort below makes
        # the result exact whatever the rounding).
        scale = n_buckets / (float(high - low) + 1.0)
        counts[:n_buckets + 1] = 0
        for i in range(m):
            counts[min(int((keys[i] - low) * scale), n_buckets - 1) + 1] += 1
        for b in range(n_buckets):
            counts[b + 1] += counts[b]
        for i in range(m):
            b = min(int((keys[i] - low) * scale), n_buckets - 1)
            spare[counts[b]] = keys[i]
            counts[b] += 1
        # A crowded bucket (keys clustered beside a far outlier) is sorted on its own, so
        # the insertion pass never meets a long run: at worst m log m, not m squared.
        start = 0
        for b in range(n_buckets):
            if counts[b] - start > 32:
                spare[start:counts[b]].sort()
            start = counts[b]
        keys[:m] = spare[:m]
    for i in range(1, m):
        x = keys[i]
        j = i - 1
        while j >= 0 and keys[j] > x:
            keys[j + 1] = keys[j]
            j -= 1
        keys[j + 1] = x


@compiled(nogil=True)
def rank_rows(lo, hi, row_ptr, row_comps, comp_ptr, comp_pos, comp_val,
              sense_ptr, sense_term, sense_own, stext_ptr, stext_ids, milli, known,
              keep, low, high,
              otext_ptr, otext_ids, text_values, ocat_ptr, ocat_ids, cat_values,
              floors, popularity, bonus, has_signal, n_papers, col_bits, top_packed, lowest):
    """Rank rows lo..hi. Per row: the sum of its components' values (adds and blocks in
    row_comps; a block's values are far below any floor), plus each checked keyword's
    values times its sense gate at the paper; the papers at or above the row's floor,
    scored with the order parts and the popularity bonus, packed as (top_packed - score)
    << col_bits | position and sorted (best first, ties in page order).
    Returns (positions, scores in UNITs as int32, counts per row, overflow: a score outside
    lowest..top_packed or int32), the rows' papers one after another."""
    n_rows = hi - lo
    # The most papers a row can keep: its components' postings, at most every paper.
    bound = 0
    for r in range(lo, hi):
        total = 0
        for j in range(row_ptr[r], row_ptr[r + 1]):
            c = row_comps[j]
            total += comp_ptr[c + 1] - comp_ptr[c]
        for j in range(sense_ptr[r], sense_ptr[r + 1]):
            c = sense_term[j]
            total += comp_ptr[c + 1] - comp_ptr[c]
        bound += min(total, n_papers)
    positions = np.empty(bound, dtype=np.int32)
    scores = np.empty(bound, dtype=np.int32)
    counts = np.zeros(n_rows, dtype=np.int64)
    relevance = np.zeros(n_papers, dtype=np.int64)
    stamp = np.full(n_papers, -1, dtype=np.int64)  # the last row that touched each paper
    touched = np.empty(n_papers + 1, dtype=np.int64)  # this row's papers (one slot spare, below)
    keys = np.empty(n_papers, dtype=np.int64)
    sort_counts = np.empty(n_papers + 1, dtype=np.int64)
    sort_spare = np.empty(n_papers, dtype=np.int64)
    mask = (1 << col_bits) - 1
    spread = max(1e-9, high - low)
    gate_low, gate_high = _round4(keep + (1.0 - keep) * 0.0), _round4(keep + (1.0 - keep) * 1.0)
    overflow = False
    out = 0
    for r in range(lo, hi):
        n_touched = 0
        for j in range(row_ptr[r], row_ptr[r + 1]):
            c = row_comps[j]
            for k in range(comp_ptr[c], comp_ptr[c + 1]):
                p = comp_pos[k]
                # Without a branch (a paper is new to the row or not at random, so a branch
                # would be mispredicted often): the paper is written to the next slot, which
                # only a new paper keeps. relevance is zero outside a row (reset below).
                touched[n_touched] = p
                n_touched += stamp[p] != r
                stamp[p] = r
                relevance[p] += comp_val[k]
        a, b = stext_ptr[r], stext_ptr[r + 1]
        n_known = 0
        for j in range(a, b):
            n_known += known[stext_ids[j]]
        for j in range(sense_ptr[r], sense_ptr[r + 1]):
            c, own = sense_term[j], sense_own[j]
            n = float(n_known - known[own])
            scale = max(n, 1.0) * 1000.0
            for k in range(comp_ptr[c], comp_ptr[c + 1]):
                p = comp_pos[k]
                value = comp_val[k]
                if n > 0:
                    total = 0
                    for t in range(a, b):
                        total += milli[p, stext_ids[t]]
                    # sense_gate(): ramp() of the others' mean closeness, clipped, rounded.
                    y = ((float(total) - float(milli[p, own])) / scale - low) / spread
                    if y <= 0.0:
                        gate = gate_low
                    elif y >= 1.0:
                        gate = gate_high
                    else:
                        gate = _round4(keep + (1.0 - keep) * _round4(y))
                    if gate != 1.0:
                        value = np.int64(np.rint(value * gate))
                touched[n_touched] = p
                n_touched += stamp[p] != r
                stamp[p] = r
                relevance[p] += value
        floor = floors[r]
        pop = popularity[r]
        ta, tb = otext_ptr[r], otext_ptr[r + 1]
        ca, cb = ocat_ptr[r], ocat_ptr[r + 1]
        m = 0
        for i in range(n_touched):
            p = touched[i]
            score = relevance[p]
            relevance[p] = 0
            if score < floor:
                continue
            if tb > ta:
                part = 0
                for t in range(ta, tb):
                    part += text_values[p, otext_ids[t]]
                score += part // (tb - ta)
            for t in range(ca, cb):
                score += cat_values[p, ocat_ids[t]]
            if has_signal:
                score += (pop * bonus[p]) // 100
            if score > top_packed or score < lowest or score > 2147483647:
                overflow = True
            keys[m] = ((top_packed - score) << col_bits) | p
            m += 1
        _sort(keys, m, sort_counts, sort_spare)
        for i in range(m):
            positions[out + i] = keys[i] & mask
            scores[out + i] = top_packed - (keys[i] >> col_bits)
        out += m
        counts[r - lo] = m
    # Copies: a view would keep the whole bound-sized buffers alive with the result.
    return positions[:out].copy(), scores[:out].copy(), counts, overflow
