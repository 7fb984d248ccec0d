"""Which papers each subscriber gets, in which order, and why. Pure functions over plain
data: no database, so it can be tested and benchmarked on its own.

Interests are curated topics (a query of terms each), free keywords and phrases,
exclusions ("-survey"), arXiv categories ("cs.CL", "cs.*"), followed authors, and papers
marked "more like this" / "fewer like this".

A term matches a paper when its title or abstract holds the term's words, in order, as
whole words after light stemming (digest.text): "pruning" meets "pruned"; "LoRA" never
meets "exploration"; "fine-tuning", "Fine-Tuning" and "finetuning" meet each other.

Score (see Weights for the numbers and their settings):
    relevance = sum over matched terms of (TITLE if in the title) + (ABSTRACT if in the abstract)
              + CATEGORY per matched category + AUTHOR per followed author
              + LIKE * similarity for each "more like this" paper at least SIMILARITY_MIN alike
    score     = relevance * (1 + SIGNAL * log(1 + upvotes) / log(1 + UPVOTE_SCALE))
              + FEATURED if a curator featured the paper
Papers with an excluded term, or at least SIMILARITY_MIN alike a "fewer like this" paper,
are dropped. Ties keep the page order.

Speed: every term, topic, category, author and liked paper becomes one sparse vector over
the papers, computed once per PaperIndex. A subscriber is a sum of those vectors, so many
subscribers are one sparse matrix product (match_many), and equal interests are matched
once. reference_match() is the same rules written as a plain loop over papers: the
specification that the fast path is tested and benchmarked against.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import sparse

from .text import analyse, stem, stems, words

_TERM = re.compile(r'\s*(-?)\s*(?:"([^"]*)"?|([^,;\n]+))')
SCORE_DECIMALS = 6
# Relevance is summed in integer millionths, so that the sum is exact in any order and the
# matrix path, the single path and the reference loop agree to the last digit.
UNIT = 1_000_000


@dataclass(frozen=True)
class Weights:
    title: float = 3.0
    abstract: float = 1.0
    category: float = 1.0
    author: float = 4.0
    like: float = 6.0
    similarity_min: float = 0.15
    signal: float = 0.5
    upvote_scale: float = 100.0
    featured: float = 2.0

    @classmethod
    def from_settings(cls) -> Weights:
        from django.conf import settings

        return cls(**getattr(settings, "MATCH_WEIGHTS", {}))


# --- Interests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    text: str
    # Each alternative is a sequence of stems; the term matches if any alternative does.
    alternatives: tuple[tuple[str, ...], ...]
    exclude: bool = False


@lru_cache(maxsize=20_000)
def parse_terms(query: str) -> tuple[Term, ...]:
    """Split a query into terms: commas, semicolons or new lines separate them, double
    quotes may wrap a phrase, a leading - makes an exclusion. Empty terms are dropped."""
    terms: list[Term] = []
    seen: set[tuple] = set()
    for m in _TERM.finditer(query or ""):
        negative, quoted, bare = m.groups()
        text = (quoted if quoted is not None else bare or "").strip().strip('"').strip()
        tokens = words(text)
        if not tokens:
            continue
        alternatives = [tuple(stem(t) for t in tokens)]
        if len(tokens) > 1:
            # "fine-tuning" and "fine tuning" also match the solid "finetuning".
            alternatives.append((stem("".join(tokens)),))
        key = (tuple(alternatives), bool(negative))
        if key in seen:
            continue
        seen.add(key)
        terms.append(Term(text=text, alternatives=tuple(alternatives), exclude=bool(negative)))
    return tuple(terms)


def _split_list(value: str | Iterable[str]) -> tuple[str, ...]:
    items = re.split(r"[,;\n]", value) if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(i.strip() for i in items if i and i.strip()))


def normalize_name(name: str) -> str:
    """Author names compared without accents, case or punctuation."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", plain.casefold()))


# Every distinct component (a term, a topic, a category, an author, a liked or disliked
# paper) gets a small integer id once, when interests are built, so that matching many
# subscribers hashes integers rather than nested tuples.
_COMPONENT_IDS: dict[tuple, int] = {}
_COMPONENTS: list[tuple] = []


def component_id(key: tuple) -> int:
    found = _COMPONENT_IDS.get(key)
    if found is None:
        found = _COMPONENT_IDS[key] = len(_COMPONENTS)
        _COMPONENTS.append(key)
    return found


@dataclass(frozen=True)
class TopicQuery:
    name: str
    terms: tuple[Term, ...]


@dataclass(frozen=True, eq=False)
class Interests:
    """Hashable and compared by content, so that subscribers with equal interests are
    matched once. Build it with Interests.build()."""

    topics: tuple[TopicQuery, ...] = ()
    keywords: tuple[Term, ...] = ()
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    liked: tuple[int, ...] = ()  # paper ids marked "more like this"
    disliked: tuple[int, ...] = ()  # paper ids marked "fewer like this"
    adds: tuple[int, ...] = field(default=(), repr=False)  # component ids summed into relevance
    blocks: tuple[int, ...] = field(default=(), repr=False)  # component ids that drop papers
    _key: tuple = field(default=(), repr=False)
    _hash: int = field(default=0, repr=False)

    @classmethod
    def build(
        cls,
        topics: Iterable[tuple[str, str]] = (),
        keywords: str | Iterable[str] = "",
        categories: str | Iterable[str] = "",
        authors: str | Iterable[str] = "",
        liked: Iterable[int] = (),
        disliked: Iterable[int] = (),
    ) -> Interests:
        kw_query = keywords if isinstance(keywords, str) else ", ".join(keywords)
        topic_set = tuple(sorted({TopicQuery(n, parse_terms(q)) for n, q in topics}, key=lambda t: t.name))
        kws = tuple(sorted(parse_terms(kw_query), key=lambda t: (t.text.casefold(), t.exclude)))
        cats = tuple(sorted(_split_list(categories)))
        names = tuple(sorted({normalize_name(a) for a in _split_list(authors)} - {""}))
        liked_t = tuple(sorted(set(liked)))
        disliked_t = tuple(sorted(set(disliked)))
        return cls._from_parts(topic_set, kws, cats, names, liked_t, disliked_t)

    @classmethod
    def _from_parts(cls, topics, keywords, categories, authors, liked, disliked) -> Interests:
        adds = [component_id(("topic", t)) for t in topics]
        # An exclusion is its own component ("not"), distinct from the same term wanted, so
        # that one subscriber's "-benchmark" never blocks another's "benchmark".
        blocks = [component_id(("not", t.alternatives)) for t in keywords if t.exclude]
        adds += [component_id(("term", t.alternatives)) for t in keywords if not t.exclude]
        adds += [component_id(("category", c)) for c in categories]
        adds += [component_id(("author", a)) for a in authors]
        adds += [component_id(("like", p)) for p in liked]
        blocks += [component_id(("dislike", p)) for p in disliked]
        key = (tuple(sorted(adds)), tuple(sorted(set(blocks))), tuple(t.name for t in topics))
        return cls(topics, keywords, categories, authors, liked, disliked, tuple(adds), tuple(blocks), key, hash(key))

    def __reduce__(self):
        # Component ids belong to this process: another process rebuilds them from content.
        return (Interests._from_parts, (self.topics, self.keywords, self.categories, self.authors,
                                        self.liked, self.disliked))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, Interests) and self._hash == other._hash and self._key == other._key

    @property
    def is_empty(self) -> bool:
        positive_kw = [t for t in self.keywords if not t.exclude]
        return not (self.topics or positive_kw or self.categories or self.authors or self.liked)


# --- Papers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperDoc:
    """What matching needs to know of one paper."""

    id: int
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    order: int = 0
    upvotes: int = 0
    featured: bool = False


@dataclass(frozen=True)
class Reason:
    kind: str  # "topic", "keyword", "category", "author", "like"
    label: str  # the topic name, the keyword, the category, the author, the liked title
    terms: tuple[str, ...] = ()

    def explain(self) -> str:
        if self.kind == "topic":
            return f"{self.label} ({', '.join(self.terms)})" if self.terms else self.label
        if self.kind == "keyword":
            return f'"{self.label}"'
        if self.kind == "category":
            return f"category {self.label}"
        if self.kind == "author":
            return f"by {self.label}"
        if self.kind == "like":
            return f"like “{self.label}”"
        return self.label

    def as_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "terms": list(self.terms)}


@dataclass(frozen=True)
class Match:
    paper_id: int
    score: float
    order: int
    reasons: tuple[Reason, ...]

    def explain(self) -> str:
        return "; ".join(r.explain() for r in self.reasons)


@dataclass
class Ranking:
    """The outcome for one interest set: paper positions in the index, best first."""

    positions: np.ndarray  # int32 indices into PaperIndex.papers, ranked
    scores: np.ndarray  # float64 scores, same order
    total: int  # all matches (positions may hold only the top k)

    def pairs(self) -> list[tuple[int, float]]:
        return list(zip(self.positions.tolist(), self.scores.tolist()))


_STOP = frozenset(
    "a an and are as at be by can for from has have in into is it its of on or our over that the their "
    "these this to using we which with while via both also show than such been more most not only use "
    "used new propos method result paper approach model task".split()
)
_VEC = tuple[np.ndarray, np.ndarray]  # (positions int32, relevance in UNITs int64)


class PaperIndex:
    """Stems, postings and TF-IDF vectors of one set of papers, with every component
    vector (term, topic, category, author, similar papers) memoised."""

    def __init__(self, papers: Sequence[PaperDoc], weights: Weights | None = None, external: Sequence[PaperDoc] = ()):
        self.weights = weights or Weights()
        # Position in the index is the page order, so ties are broken by position.
        self.papers = sorted(papers, key=lambda p: p.order)
        self.size = len(self.papers)
        self.position = {p.id: i for i, p in enumerate(self.papers)}
        self._seq: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        self._bags: list[tuple[frozenset, frozenset]] = []
        postings: dict[str, list[int]] = defaultdict(list)
        self._categories: dict[str, list[int]] = defaultdict(list)
        for i, paper in enumerate(self.papers):
            title_seq, title_compounds = analyse(paper.title)
            abs_seq, abs_compounds = analyse(paper.abstract)
            title_bag = frozenset(title_seq).union(title_compounds)
            abs_bag = frozenset(abs_seq).union(abs_compounds)
            self._seq.append((tuple(title_seq), tuple(abs_seq)))
            self._bags.append((title_bag, abs_bag))
            for s in title_bag | abs_bag:
                postings[s].append(i)
            for c in paper.categories:
                self._categories[c].append(i)
        self._postings = dict(postings)
        self._authors_index: dict[str, list[int]] | None = None  # built on first use
        w = self.weights
        upvotes = np.array([max(0, p.upvotes or 0) for p in self.papers], dtype=np.float64)
        self.boost = 1.0 + w.signal * np.log1p(upvotes) / math.log1p(w.upvote_scale)
        self.bonus = np.array([w.featured if p.featured else 0.0 for p in self.papers], dtype=np.float64)
        # Papers whose score differs from their relevance (upvotes or featured).
        self.signal_mask = (self.boost != 1.0) | (self.bonus != 0.0)
        self.has_signal = bool(self.signal_mask.any())
        self._vectors: dict[int, _VEC] = {}
        self._members: dict[int, frozenset[int]] = {}
        self._similar: dict[int, dict[int, float]] = {}
        self._term_hits: dict[tuple, dict[int, float]] = {}
        self._tfidf = None
        self._external: dict[int, PaperDoc] = {}
        self.add_external(external)

    def __len__(self) -> int:
        return self.size

    # -- terms --------------------------------------------------------------------------------

    @staticmethod
    def _contains(seq: tuple[str, ...], bag: frozenset, alt: tuple[str, ...]) -> bool:
        if len(alt) == 1:
            return alt[0] in bag
        if not all(s in bag for s in alt):
            return False
        n, first = len(alt), alt[0]
        for start in range(len(seq) - n + 1):
            if seq[start] == first and seq[start : start + n] == alt:
                return True
        return False

    def term_hits(self, term: Term) -> dict[int, float]:
        """Paper position -> weight of this term there (title and/or abstract); memoised."""
        key = term.alternatives
        hits = self._term_hits.get(key)
        if hits is None:
            hits = self._term_hits[key] = self.find_term(term)
        return hits

    def find_term(self, term: Term) -> dict[int, float]:
        """term_hits() without the memo: postings, then the phrase check on candidates."""
        w = self.weights
        hits = {}
        for alt in term.alternatives:
            lists = [self._postings.get(s) for s in alt]
            if not all(lists):
                continue
            candidates = set(lists[0]).intersection(*lists[1:]) if len(lists) > 1 else lists[0]
            for i in candidates:
                (title_seq, abs_seq), (title_bag, abs_bag) = self._seq[i], self._bags[i]
                weight = (w.title if self._contains(title_seq, title_bag, alt) else 0.0) + (
                    w.abstract if self._contains(abs_seq, abs_bag, alt) else 0.0
                )
                if weight > hits.get(i, 0.0):
                    hits[i] = weight
        return hits

    # -- component vectors ---------------------------------------------------------------------

    def vector(self, component: int) -> _VEC:
        found = self._vectors.get(component)
        if found is None:
            found = self._vectors[component] = self._build(_COMPONENTS[component])
        return found

    def members(self, component: int) -> frozenset[int]:
        found = self._members.get(component)
        if found is None:
            found = self._members[component] = frozenset(self.vector(component)[0].tolist())
        return found

    def _build(self, key: tuple) -> _VEC:
        kind, what = key
        if kind in ("term", "not"):
            hits = self.term_hits(Term("", what))
        elif kind == "topic":
            hits = defaultdict(float)
            for term in what.terms:
                if not term.exclude:
                    for i, weight in self.term_hits(term).items():
                        hits[i] += weight
            for term in what.terms:
                if term.exclude:
                    for i in self.term_hits(term):
                        hits.pop(i, None)
        elif kind == "category":
            hits = {i: self.weights.category for i in self.category_hits(what)}
        elif kind == "author":
            hits = {i: self.weights.author for i in self.author_hits(what)}
        elif kind == "like":
            hits = {i: self.weights.like * s for i, s in self.similar(what).items()}
        elif kind == "dislike":
            hits = {i: 1.0 for i in self.similar(what)}
            if what in self.position:
                hits[self.position[what]] = 1.0
        else:
            raise ValueError(f"unknown component {kind!r}")
        positions = np.fromiter(hits.keys(), dtype=np.int32, count=len(hits))
        values = np.fromiter((units(v) for v in hits.values()), dtype=np.int64, count=len(hits))
        order = np.argsort(positions, kind="stable")
        return positions[order], values[order]

    def author_hits(self, normalized: str) -> list[int]:
        if self._authors_index is None:
            index: dict[str, list[int]] = defaultdict(list)
            for i, paper in enumerate(self.papers):
                # Two co-authors may share a name: count the paper once.
                for a in dict.fromkeys(normalize_name(a) for a in paper.authors):
                    index[a].append(i)
            self._authors_index = dict(index)
        return self._authors_index.get(normalized, [])

    def category_hits(self, pattern: str) -> list[int]:
        if pattern.endswith("*"):
            prefix = pattern[:-1]
            found: set[int] = set()
            for cat, ids in self._categories.items():
                if cat.startswith(prefix):
                    found.update(ids)
            return sorted(found)
        return self._categories.get(pattern, [])

    # -- "more like this" -------------------------------------------------------------------------

    def add_external(self, docs: Iterable[PaperDoc]) -> None:
        """Papers outside this index that subscribers liked or disliked (earlier days)."""
        for doc in docs:
            if doc.id not in self.position:
                self._external[doc.id] = doc

    def _tfidf_matrix(self):
        if self._tfidf is None:
            vocab: dict[str, int] = {}
            rows, cols, vals = [], [], []
            df: dict[int, int] = defaultdict(int)
            for i, (title_seq, abs_seq) in enumerate(self._seq):
                counts = _term_counts(title_seq + abs_seq)
                for s, c in counts.items():
                    j = vocab.setdefault(s, len(vocab))
                    rows.append(i)
                    cols.append(j)
                    vals.append(1.0 + math.log(c))
                    df[j] += 1
            n = max(1, self.size)
            idf = np.ones(len(vocab))
            for j, d in df.items():
                idf[j] = math.log((1 + n) / (1 + d)) + 1.0
            matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(self.size, len(vocab)))
            matrix = _l2_rows(matrix.multiply(idf).tocsr())
            self._tfidf = (vocab, idf, matrix)
        return self._tfidf

    def similar(self, paper_id: int) -> dict[int, float]:
        """Positions of papers at least SIMILARITY_MIN alike `paper_id` (cosine of TF-IDF
        over title and abstract), the paper itself excluded."""
        found = self._similar.get(paper_id)
        if found is None:
            self.prepare_similar([paper_id])
            found = self._similar[paper_id]
        return found

    def prepare_similar(self, paper_ids: Iterable[int]) -> None:
        """Compute (and memoise) the similarities of many papers with one sparse product."""
        todo = [p for p in dict.fromkeys(paper_ids) if p not in self._similar]
        if todo:
            self._similar.update(self.compute_similar(todo))

    def compute_similar(self, todo: list[int]) -> dict[int, dict[int, float]]:
        vocab, idf, matrix = self._tfidf_matrix()
        rows, own = [], []
        for paper_id in todo:
            if paper_id in self.position:
                rows.append(matrix[self.position[paper_id]])
                own.append(self.position[paper_id])
                continue
            doc = self._external.get(paper_id)
            counts = _term_counts(tuple(stems(doc.title)) + tuple(stems(doc.abstract))) if doc else {}
            known = [t for t in counts if t in vocab]
            vals = [(1.0 + math.log(counts[t])) * idf[vocab[t]] for t in known]
            rows.append(_l2_rows(sparse.csr_matrix((vals, ([0] * len(known), [vocab[t] for t in known])),
                                                   shape=(1, len(vocab)))))
            own.append(-1)
        queries = sparse.vstack(rows).tocsr() if rows else None
        sims = (matrix @ queries.T).toarray()  # papers x queries
        threshold = self.weights.similarity_min
        out = {}
        for k, paper_id in enumerate(todo):
            column = sims[:, k]
            keep = np.flatnonzero(column >= threshold)
            out[paper_id] = {int(j): round(float(column[j]), SCORE_DECIMALS) for j in keep if j != own[k]}
        return out

    def title_of(self, paper_id: int) -> str:
        if paper_id in self.position:
            return self.papers[self.position[paper_id]].title
        doc = self._external.get(paper_id)
        return doc.title if doc else f"paper {paper_id}"


def units(value: float) -> int:
    return int(round(value * UNIT))


def _term_counts(seq: tuple[str, ...]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for s in seq:
        if len(s) > 2 and s not in _STOP and not s.isdigit():
            counts[s] += 1
    return counts


def _l2_rows(matrix):
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ matrix


def _final(relevance_units: np.ndarray, positions: np.ndarray, index: PaperIndex) -> np.ndarray:
    scores = relevance_units / UNIT
    if index.has_signal:
        touched = index.signal_mask[positions]
        if touched.any():
            p = positions[touched]
            scores[touched] = np.round(scores[touched] * index.boost[p] + index.bonus[p], SCORE_DECIMALS)
    return scores


def rank(interests: Interests, index: PaperIndex) -> Ranking:
    """All papers `interests` select, best first."""
    relevance = np.zeros(index.size, dtype=np.int64)
    for component in interests.adds:
        positions, values = index.vector(component)
        relevance[positions] += values  # positions are unique within one vector
    for component in interests.blocks:
        relevance[index.vector(component)[0]] = 0
    positions = np.flatnonzero(relevance > 0).astype(np.int32)
    scores = _final(relevance[positions], positions, index)
    order = np.lexsort((positions, -scores))
    return Ranking(positions[order], scores[order], len(positions))


class Rankings:
    """The outcome of match_many: every distinct interest set's ranked papers, kept in three
    flat arrays (positions, scores, row offsets); a Ranking is cut out when asked for."""

    def __init__(self, rows: dict[Interests, int], indptr: np.ndarray, packed: np.ndarray, totals: np.ndarray):
        # packed: per ranked paper, row | (max score - score) | position, bit-packed (UNITs).
        self._rows, self._indptr, self._packed, self._totals = rows, indptr, packed, totals

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, interests: Interests) -> bool:
        return interests in self._rows

    def __getitem__(self, interests: Interests) -> Ranking:
        r = self._rows[interests]
        packed = self._packed[self._indptr[r] : self._indptr[r + 1]]
        positions = (packed & (2**_COL_BITS - 1)).astype(np.int32)
        scores = ((2**_SCORE_BITS - 1) - ((packed >> _COL_BITS) & (2**_SCORE_BITS - 1))) / UNIT
        return Ranking(positions, scores, int(self._totals[r]))

    @property
    def nbytes(self) -> int:
        return self._indptr.nbytes + self._packed.nbytes + self._totals.nbytes


_BLOCKED = -(2**52)  # far below any relevance: a blocked paper's sum stays negative
_ROW_BITS, _COL_BITS = 17, 11
_SCORE_BITS = 63 - _ROW_BITS - _COL_BITS
ROWS_PER_PASS = 2**_ROW_BITS


MIN_ROWS_PER_THREAD = 5_000


def match_many(interests_list: Iterable[Interests], index: PaperIndex, top_k: int | None = None,
               workers: int = 2) -> Rankings:
    """Rank many interest sets at once. Each distinct set is matched once, as one row of a
    sparse product (rows: interest sets, columns: components) x (components: papers);
    then one sort of packed (row, score, position) keys orders every row. With top_k, each
    row keeps its k best papers (and the count of all)."""
    rows: dict[Interests, int] = {}
    for interests in interests_list:
        if interests not in rows:
            rows[interests] = len(rows)
    unique = list(rows)
    index.prepare_similar(
        _COMPONENTS[c][1] for i in unique for c in i.adds + i.blocks if _COMPONENTS[c][0] in ("like", "dislike")
    )
    parts = [_match_pass(unique[start : start + ROWS_PER_PASS], index, top_k, workers)
             for start in range(0, len(unique), ROWS_PER_PASS)]
    if not parts:
        return Rankings(rows, np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if len(parts) == 1:
        return Rankings(rows, *parts[0])
    offsets, packed, totals = [], [], []
    base = 0
    for indptr, keys, tot in parts:
        offsets.append(indptr[:-1] + base)
        base += len(keys)
        packed.append(keys)
        totals.append(tot)
    indptr = np.concatenate(offsets + [np.array([base])]).astype(np.int64)
    return Rankings(rows, indptr, np.concatenate(packed), np.concatenate(totals))


def _match_pass(unique: list[Interests], index: PaperIndex, top_k: int | None, workers: int):
    n_rows = len(unique)
    lengths = np.fromiter((len(i.adds) + len(i.blocks) for i in unique), dtype=np.int64, count=n_rows)
    flat = np.fromiter(itertools.chain.from_iterable(i.adds + i.blocks for i in unique), dtype=np.int64,
                       count=int(lengths.sum()))
    used, local = np.unique(flat, return_inverse=True)
    vectors = [index.vector(int(c)) for c in used]
    # An exclusion's papers get a huge negative relevance: whatever else adds up, the sum
    # stays negative, and negative entries are dropped below.
    values = [np.full(len(v[0]), _BLOCKED, dtype=np.int64) if _COMPONENTS[c][0] in ("not", "dislike") else v[1]
              for c, v in zip(used.tolist(), vectors)]
    component_matrix = sparse.csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0, dtype=np.int64),
            np.concatenate([v[0] for v in vectors]) if vectors else np.zeros(0, dtype=np.int32),
            np.concatenate([[0], np.cumsum([len(v[0]) for v in vectors])]).astype(np.int64),
        ),
        shape=(len(used), index.size),
    )
    select = sparse.csr_matrix(
        (np.ones(len(flat), dtype=np.int64), local, np.concatenate([[0], np.cumsum(lengths)])),
        shape=(n_rows, len(used)),
    )
    if index.size > 2**_COL_BITS:
        raise OverflowError("more papers than one ranking pass handles")
    # The numeric work below runs in C with the GIL released: split the rows over threads.
    n_threads = max(1, min(workers, n_rows // MIN_ROWS_PER_THREAD))
    bounds = np.linspace(0, n_rows, n_threads + 1).astype(int)
    jobs = [(select[a:b], int(a), component_matrix, index) for a, b in zip(bounds, bounds[1:])]
    if n_threads > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            pieces = list(pool.map(lambda job: _rank_rows(*job), jobs))
    else:
        pieces = [_rank_rows(*job) for job in jobs]
    keys = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    totals = np.bincount(keys >> (_SCORE_BITS + _COL_BITS), minlength=n_rows).astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(totals)]).astype(np.int64)
    if top_k is not None:
        take = np.minimum(totals, top_k)
        within = np.arange(len(keys)) - np.repeat(indptr[:-1], totals)
        keys = keys[within < np.repeat(take, totals)]
        indptr = np.concatenate([[0], np.cumsum(take)]).astype(np.int64)
    return indptr, keys, totals


def _rank_rows(select, first_row: int, component_matrix, index: PaperIndex) -> np.ndarray:
    """Relevance of some rows, scored, packed as (row, best score first, page position)
    into one integer each and sorted: one sort orders every row at once (rows arrive in
    order, which the stable sort exploits)."""
    relevance = select @ component_matrix  # rows x papers, in UNITs; blocked entries < 0
    quantised, cols = relevance.data, relevance.indices
    if index.has_signal:
        touched = index.signal_mask[cols] & (quantised > 0)
        if touched.any():
            quantised[touched] = np.rint(_final(quantised[touched], cols[touched], index) * UNIT).astype(np.int64)
    if len(quantised) and int(quantised.max()) >= 2**_SCORE_BITS:
        raise OverflowError("a score too large to rank; lower the weights")
    rows = np.arange(first_row, first_row + select.shape[0], dtype=np.int64)
    row_base = (rows << (_SCORE_BITS + _COL_BITS)) + ((2**_SCORE_BITS - 1) << _COL_BITS)
    keys = np.repeat(row_base, np.diff(relevance.indptr))
    keys -= quantised << _COL_BITS
    keys |= cols
    blocked = quantised <= 0
    if blocked.any():
        keys = keys[~blocked]
    keys.sort(kind="stable")
    return keys


def explain(interests: Interests, index: PaperIndex, position: int) -> tuple[Reason, ...]:
    """Why the paper at `position` is in this subscriber's selection."""
    reasons: list[Reason] = []
    paper = index.papers[position]
    # Topics come first in interests.adds, in the same order: no need to hash them again.
    for topic, component in zip(interests.topics, interests.adds):
        if position in index.members(component):
            matched = tuple(t.text for t in topic.terms if not t.exclude and position in index.term_hits(t))
            reasons.append(Reason("topic", topic.name, matched))
    for term in interests.keywords:
        if not term.exclude and position in index.term_hits(term):
            reasons.append(Reason("keyword", term.text))
    for pattern in interests.categories:
        if position in index.members(component_id(("category", pattern))):
            reasons.append(Reason("category", pattern))
    for name in interests.authors:
        shown = [a for a in paper.authors if normalize_name(a) == name]
        if shown:
            reasons.append(Reason("author", shown[0]))
    for liked in interests.liked:
        if position in index.similar(liked):
            reasons.append(Reason("like", index.title_of(liked)))
    return tuple(reasons)


def match(interests: Interests, index: PaperIndex, limit: int | None = None) -> list[Match]:
    """The papers `interests` select, best first, each with why (the first `limit`)."""
    ranking = rank(interests, index)
    return matches_from(ranking, interests, index, limit)


def matches_from(ranking: Ranking, interests: Interests, index: PaperIndex, limit: int | None = None) -> list[Match]:
    pairs = ranking.pairs() if limit is None else ranking.pairs()[:limit]
    return [
        Match(paper_id=index.papers[p].id, score=s, order=index.papers[p].order, reasons=explain(interests, index, p))
        for p, s in pairs
    ]


# --- The specification, as a plain loop --------------------------------------------------------


def reference_match(interests: Interests, index: PaperIndex) -> list[tuple[int, float]]:
    """The same rules as rank(), written the straightforward way: for every paper, test
    every term of every interest. Slow; used to check the fast path and as the baseline
    of benchmarks/matching.py. Returns (position, score) best first."""
    w = index.weights
    results = []
    like_sims = {p: index.similar(p) for p in interests.liked}
    dislike_sims = {p: index.similar(p) for p in interests.disliked}
    for i, paper in enumerate(index.papers):
        (title_seq, abs_seq), (title_bag, abs_bag) = index._seq[i], index._bags[i]

        def weight_of(term: Term) -> float:
            best = 0.0
            for alt in term.alternatives:
                weight = (w.title if PaperIndex._contains(title_seq, title_bag, alt) else 0.0) + (
                    w.abstract if PaperIndex._contains(abs_seq, abs_bag, alt) else 0.0
                )
                best = max(best, weight)
            return best

        if any(weight_of(t) > 0 for t in interests.keywords if t.exclude):
            continue
        if any(i in sims or index.papers[i].id == p for p, sims in dislike_sims.items()):
            continue
        relevance = 0
        for topic in interests.topics:
            if any(weight_of(t) > 0 for t in topic.terms if t.exclude):
                continue
            relevance += units(sum(weight_of(t) for t in topic.terms if not t.exclude))
        relevance += sum(units(weight_of(t)) for t in interests.keywords if not t.exclude)
        for pattern in interests.categories:
            if any(c.startswith(pattern[:-1]) if pattern.endswith("*") else c == pattern for c in paper.categories):
                relevance += units(w.category)
        names = {normalize_name(a) for a in paper.authors}
        relevance += units(w.author) * sum(1 for a in interests.authors if a in names)
        relevance += sum(units(w.like * sims[i]) for sims in like_sims.values() if i in sims)
        if relevance > 0:
            score = float(_final(np.array([relevance]), np.array([i]), index)[0])
            results.append((i, score))
    results.sort(key=lambda r: (-r[1], r[0]))
    return results
