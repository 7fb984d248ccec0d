"""One edition's papers, analysed for matching: stems in order per field, postings, and
every component vector (term, topic, category, author, liked paper, about text, learned
model) computed once and memoised, with corpus statistics (IDF, acronyms, the semantic
layer) from CorpusStats.

A term's score in a paper is BM25F-like:
    tf      = TITLE x (count in the title) + ABSTRACT x (count in the abstract)
              (a multi-word term counts 1 per contiguous match, WINDOW_CREDIT per match
              within the window in another order)
    value   = specificity x [tf / (K1 + tf)] / [TITLE / (K1 + TITLE)]
              (1 for one mention in the title of a specific term)
    specificity = clip(IDF / IDF_FULL, IDF_MIN_SHARE, 1), IDF from the stored corpus
so a word repeated or in the title saturates towards its specificity, and a common word
("benchmark") is worth a fraction of a rare one ("GRPO")."""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..text import _WORD, analyse, stem
from .analysis import CASED, credit, expansions_of, positions_in, slots, writes_acronym
from .closeness import Closeness, ramp
from .corpus import CorpusStats
from .interests import COMPONENTS, UNIT, Weights
from .semantic import MIN_DOCS
from .terms import Term, category_matches, normalize_name

SCORE_DECIMALS = 6
SNIPPET_AFTER = 300  # characters of the abstract an email shows; a hit beyond gets a snippet
_VEC = tuple[np.ndarray, np.ndarray]  # (positions int32, values in UNITs int64)


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
class Hit:
    """Where a term stands in one paper: for explanations."""

    field: str  # "title" or "abstract"
    word: str  # as written in the paper
    value: float
    snippet: str = ""


def units(value: float) -> int:
    return round(value * UNIT)


def to_units(values: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=np.float64) * UNIT).astype(np.int64)


class PaperIndex(Closeness):
    def __init__(self, papers: Sequence[PaperDoc], weights: Weights | None = None, external: Sequence[PaperDoc] = (),
                 stats: CorpusStats | None = None):
        self.weights = weights or Weights()
        # Position in the index is the page order, so ties are broken by position.
        self.papers = sorted(papers, key=lambda p: p.order)
        self.size = len(self.papers)
        self.position = {p.id: i for i, p in enumerate(self.papers)}
        self.fields: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
        postings: dict[str, list[int]] = defaultdict(list)
        self._categories: dict[str, list[int]] = defaultdict(list)
        for i, paper in enumerate(self.papers):
            title_seq, title_compounds = analyse(paper.title)
            abs_seq, abs_compounds = analyse(paper.abstract)
            self.fields.append((tuple(title_seq), tuple(title_compounds), tuple(abs_seq), tuple(abs_compounds)))
            for s in set(title_seq).union(title_compounds, abs_seq, abs_compounds):
                postings[s].append(i)
            for c in paper.categories:
                self._categories[c].append(i)
        self._postings = dict(postings)
        self.stats = stats if stats is not None else CorpusStats.fit(self.papers, semantic=self.size >= MIN_DOCS)
        if self.stats.dense is not None:
            self.weights = self.weights.for_encoder()
        self._authors_index: dict[str, list[int]] | None = None
        self._firsts: dict[int, tuple[dict, dict]] = {}
        self._writes: dict[tuple[int, str], bool] = {}
        # Reasons already worked out for a topic or keyword in a paper (explain.py fills it).
        self.explained: dict = {}
        w = self.weights
        upvotes = np.array([max(0, p.upvotes or 0) for p in self.papers], dtype=np.float64)
        popularity = np.minimum(1.0, np.log1p(upvotes) / np.log1p(max(1.0, w.upvote_scale)))
        featured = np.array([1.0 if p.featured else 0.0 for p in self.papers])
        # Added after the floor, scaled by each subscriber's popularity weight (0..1).
        self.bonus = to_units(w.signal * popularity + w.featured * featured)
        self.has_signal = bool(self.bonus.any())
        self._vectors: dict[int, _VEC] = {}
        self._members: dict[int, frozenset[int]] = {}
        self._category_shares: dict[str, float] = {}
        self._topic_values: dict = {}
        self._topic_arrays: dict = {}
        self._term_values: dict[tuple, dict[int, float]] = {}
        self._slots: dict[tuple, tuple] = {}
        self._specificity: dict[tuple, float] = {}
        self._expansions: dict | None = None
        self._similar: dict[int, np.ndarray] = {}
        self._similar_z: dict[int, np.ndarray] = {}
        self._pairs = None
        self._features = None
        self._damped = None
        self._embeddings = None
        self._about_closeness: dict[str, np.ndarray] = {}
        self._text_values: dict[int, np.ndarray] = {}
        self._text_milli: dict[int, np.ndarray] = {}
        self._text_known: dict[int, bool] = {}
        self._category_order: dict[int, np.ndarray] = {}
        self._external: dict[int, PaperDoc] = {}
        self.add_external(external)

    def __len__(self) -> int:
        return self.size

    # -- terms --------------------------------------------------------------------------------

    def slots_of(self, alternative: tuple[str, ...]) -> tuple:
        found = self._slots.get(alternative)
        if found is None:
            if self._expansions is None:
                self._expansions = expansions_of(self.stats.acronyms)
            found = self._slots[alternative] = slots(alternative, self.stats.acronyms, self._expansions)
        return found

    def _form_idf(self, form: tuple[str, ...]) -> float:
        idfs = sorted((self.stats.idf(s.lstrip(CASED)) for s in form), reverse=True)
        return idfs[0] + 0.5 * sum(idfs[1:])

    def specificity(self, alternative: tuple[str, ...]) -> float:
        """How much a full match of this term alternative is worth, from its IDF: a slot
        is as common as its commonest form; a phrase is its rarest slot plus half the rest."""
        found = self._specificity.get(alternative)
        if found is None:
            found = self._specificity[alternative] = self._compute_specificity(alternative)
        return found

    def _compute_specificity(self, alternative: tuple[str, ...]) -> float:
        if self.stats.n_docs < MIN_DOCS:
            return 1.0  # too few papers to tell common words from rare ones
        slot_idfs = sorted((min(self._form_idf(f) for f in slot) for slot in self.slots_of(alternative)), reverse=True)
        if not slot_idfs:
            return 0.0
        idf = slot_idfs[0] + 0.5 * sum(slot_idfs[1:])
        w = self.weights
        # A small corpus cannot show a word rarer than "in two papers": such a word counts
        # fully whatever IDF_FULL says.
        full = min(w.idf_full, self.stats.idf_of_df(2))
        return float(min(1.0, max(w.idf_min_share, idf / full)))

    def _first(self, i: int) -> tuple:
        found = self._firsts.get(i)
        if found is None:
            title_seq, _, abs_seq, _ = self.fields[i]
            count_title, count_abs = Counter(title_seq), Counter(abs_seq)
            written = partial(self.writes_acronym, i)
            found = self._firsts[i] = (positions_in(title_seq, count_title, written),
                                       positions_in(abs_seq, count_abs, written), count_title, count_abs)
        return found

    def writes_acronym(self, i: int, short: str) -> bool:
        """Whether paper i writes the acronym `short` in capitals, in the sense the corpus gives it."""
        key = (i, short)
        found = self._writes.get(key)
        if found is None:
            paper = self.papers[i]
            found = self._writes[key] = writes_acronym(f"{paper.title}. {paper.abstract}", short, self.stats.acronyms)
        return found

    def field_counts(self, i: int, alternative: tuple[str, ...],
                     where: bool = True) -> tuple[tuple[float, tuple], tuple[float, tuple]]:
        """((count, first match's token span) in the title, (the same) in the abstract);
        without `where`, single-word spans may be left out (-1, -1)."""
        term_slots = self.slots_of(alternative)
        title_seq, title_compounds, abs_seq, abs_compounds = self.fields[i]
        first_title, first_abs, count_title, count_abs = self._first(i)
        out = []
        for seq, compounds, first, counts in ((title_seq, title_compounds, first_title, count_title),
                                              (abs_seq, abs_compounds, first_abs, count_abs)):
            count, at = credit(seq, first, term_slots, None if where else counts)
            if len(term_slots) == 1 and compounds:
                extra = sum(1 for c in compounds if (c,) in term_slots[0])
                if extra:
                    count = count + extra  # a solid compound: no token span to show
            out.append((count, at))
        return out[0], out[1]

    def value_in(self, i: int, term: Term, backed: bool = False) -> float:
        """The term's score in paper i (0 if absent): the best of its alternatives. `backed`:
        a keyword of a subscriber with an about-me, whose title weighs TITLE_BACKED."""
        w = self.weights
        title = w.title_weight(backed)
        best = 0.0
        for alt in term.alternatives:
            (t_count, _), (a_count, _) = self.field_counts(i, alt, where=False)
            tf = title * t_count + w.abstract * a_count
            if tf > 0:
                # In units of one mention in the title: that is a core match of the term.
                once_in_title = title / (w.k1 + title)
                saturation = tf / (w.k1 + tf) / once_in_title
                best = max(best, round(self.specificity(alt) * saturation, SCORE_DECIMALS))
        return best

    def candidates(self, alternative: tuple[str, ...]) -> set[int]:
        """Papers holding some form of every slot (the phrase check comes after)."""
        found: set[int] | None = None
        for slot in self.slots_of(alternative):
            union: set[int] = set()
            for form in slot:
                lists = [self._postings.get(s.lstrip(CASED)) for s in form]
                if all(lists):
                    union.update(set(lists[0]).intersection(*lists[1:]) if len(lists) > 1 else lists[0])
            found = union if found is None else found & union
            if not found:
                return set()
        return found or set()

    def term_values(self, term: Term, backed: bool = False) -> dict[int, float]:
        """Paper position -> the term's score there; memoised by the term's stems."""
        key = (term.alternatives, backed)
        hits = self._term_values.get(key)
        if hits is None:
            hits = {}
            for i in sorted(set().union(*(self.candidates(alt) for alt in term.alternatives))):
                value = self.value_in(i, term, backed)
                if value > 0:
                    hits[i] = value
            self._term_values[key] = hits
        return hits

    def hit(self, i: int, term: Term) -> Hit | None:
        """The term's first appearance in paper i, title first, as written there."""
        paper = self.papers[i]
        best = None
        for alt in term.alternatives:
            (t_count, t_at), (a_count, a_at) = self.field_counts(i, alt)
            if t_count > 0:
                best = ("title", paper.title, t_at)
                break
            if a_count > 0 and best is None:
                best = ("abstract", paper.abstract, a_at)
        if best is None:
            return None
        field, text, (lo, hi) = best
        word, start = _words_at(text, lo, hi) if lo >= 0 else (term.text, 0)
        snippet = ""
        if field == "abstract" and start > SNIPPET_AFTER:
            snippet = _snippet(text, start, len(word))
        return Hit(field, word, self.value_in(i, term), snippet)

    # -- component vectors -------------------------------------------------------------------------

    def vector(self, component: int) -> _VEC:
        found = self._vectors.get(component)
        if found is None:
            key = COMPONENTS[component]
            if key[0] in ("author", "category"):  # one value for every paper it holds
                hits = self.author_hits(key[1]) if key[0] == "author" else self.category_hits(key[1])
                value = self.weights.author if key[0] == "author" else self.category_value(key[1], key[2])
                positions = np.array(hits, dtype=np.int32)
                found = (positions, np.full(len(positions), units(value), dtype=np.int64))
            else:
                found = self._sparse(self.component_values(key))
            self._vectors[component] = found
        return found

    def unmemoised(self, components: Sequence[int], texts: Sequence[int] = ()) -> tuple[list[int], list[int]]:
        """The components and typed texts whose vectors this index has not computed yet."""
        return ([c for c in components if c not in self._vectors],
                [t for t in texts if t not in self._text_milli])

    def members(self, component: int) -> frozenset[int]:
        found = self._members.get(component)
        if found is None:
            found = self._members[component] = frozenset(self.vector(component)[0].tolist())
        return found

    @staticmethod
    def _sparse(values: dict[int, float] | np.ndarray) -> _VEC:
        if isinstance(values, np.ndarray):
            quantised = to_units(values)
            positions = np.flatnonzero(quantised).astype(np.int32)
            return positions, quantised[positions]
        positions = np.fromiter(sorted(values), dtype=np.int32, count=len(values))
        vals = to_units(np.array([values[i] for i in positions.tolist()], dtype=np.float64))
        keep = vals != 0
        return positions[keep], vals[keep]

    def component_values(self, key: tuple) -> dict[int, float] | np.ndarray:
        """The component's score per paper (a dict or a dense array over positions)."""
        w = self.weights
        kind = key[0]
        if kind == "term":
            _, alternatives, backed, supported = key
            weight = w.keyword_weight(backed=backed)
            values = self.term_values(Term("", alternatives), backed=backed)
            factor = self.breadth_factor(len(values)) if supported else 1.0
            return {i: weight * v * factor for i, v in values.items()}
        if kind == "not":
            return dict.fromkeys(self.term_values(Term("", key[1])), 1.0)
        if kind == "topic":
            _, topic, about, supported, refined = key
            if about:
                return self.gated_topic(key, self.about_closeness(about))
            factor = self.topic_factor(topic) if supported else 1.0
            cap = w.topic_supported_max if refined else float("inf")
            return {i: min(w.topic * v * factor, cap) for i, v in self.topic_values(topic).items()}
        if kind == "category":
            _, pattern, alone = key
            return dict.fromkeys(self.category_hits(pattern), self.category_value(pattern, alone))
        if kind == "author":
            return dict.fromkeys(self.author_hits(key[1]), w.author)
        if kind == "like":
            weight = w.like_alone if key[2] else w.like
            return np.round(weight * ramp(self.closeness(key[1]), w.like_low, w.like_high), 4)
        if kind == "dislike":
            blocked = (self.closeness(key[1]) >= w.dislike).astype(np.float64)
            if key[1] in self.position:
                blocked[self.position[key[1]]] = 1.0
            return blocked
        if kind == "about":
            return self.about_values([key[1:]])[:, 0]
        if kind == "learned":
            return self.learned_values([key[1]])[:, 0]
        raise ValueError(f"unknown component {kind!r}")

    def topic_values(self, topic) -> dict[int, float]:
        """A topic's score: its terms combined as a soft OR, 1 - prod(1 - value), so a
        paper that meets three of a topic's synonyms scores more than one meeting one, but
        never more than 1. Memoised per topic (read it, never change it)."""
        found = self._topic_values.get(topic)
        if found is None:
            found = self._topic_values[topic] = self._topic_values_of(topic)
        return found

    def _topic_values_of(self, topic) -> dict[int, float]:
        missing: dict[int, float] = defaultdict(lambda: 1.0)
        scale = self.topic_scale(topic)
        for term in topic.terms:
            if not term.exclude:
                for i, v in self.term_values(term).items():
                    missing[i] *= 1.0 - min(1.0, round(v * scale, SCORE_DECIMALS))
        for term in topic.terms:
            if term.exclude:
                for i in self.term_values(term):
                    missing.pop(i, None)
        return {i: round(1.0 - m, SCORE_DECIMALS) for i, m in missing.items()}

    def gated_topic(self, key: tuple, closeness: np.ndarray) -> np.ndarray:
        """A topic component's values (over all papers) for a subscriber with an about-me
        (`closeness`: the text's, per paper): each scaled by that closeness, ramped from
        TOPIC_GATE_LOW to TOPIC_GATE_HIGH (0 to 1). The same products, in the same order, as
        reference_match."""
        w = self.weights
        _, topic, _, supported, refined = key
        factor = self.topic_factor(topic) if supported else 1.0
        positions, values = self.topic_arrays(topic)
        out = np.zeros(self.size)
        out[positions] = w.topic * values * factor * ramp(closeness[positions], w.topic_gate_low, w.topic_gate_high)
        return np.minimum(out, w.topic_supported_max) if refined else out

    def topic_arrays(self, topic) -> tuple[np.ndarray, np.ndarray]:
        found = self._topic_arrays.get(topic)
        if found is None:
            values = self.topic_values(topic)
            positions = np.fromiter(sorted(values), dtype=np.int64, count=len(values))
            found = self._topic_arrays[topic] = (positions, np.array([values[i] for i in positions.tolist()]))
        return found

    def topic_factor(self, topic) -> float:
        """A topic's weight next to keywords or an about-me: less the more of the edition's
        papers it meets (Weights.topic_weight)."""
        return self.breadth_factor(len(self.topic_values(topic)))

    def keyword_factor(self, term: Term) -> float:
        """A keyword's weight next to other declared interests (Weights.topic_weight)."""
        return self.breadth_factor(len(self.term_values(term)))

    def breadth_factor(self, hits: int) -> float:
        # An edition of a few papers says nothing about how broad a term is.
        if self.size < MIN_DOCS:
            return 1.0
        return self.weights.topic_weight(hits / self.size)

    def category_value(self, pattern: str, alone: bool) -> float:
        if alone:
            return self.weights.category_alone
        return self.weights.category_weight(self.category_share(pattern))

    def category_order_units(self, pattern: str, alone: bool) -> int:
        """What a category the paper is in adds to the order of a selected paper, in UNITs
        (ORDER_CATEGORY x its value; ranking.order_part)."""
        return round(self.weights.order_category * units(self.category_value(pattern, alone)))

    def category_order(self, component: int) -> np.ndarray:
        """category_order_units() over the papers (dense, int64: 0 where the paper is not in it)."""
        found = self._category_order.get(component)
        if found is None:
            _, pattern, alone = COMPONENTS[component]
            found = np.zeros(self.size, dtype=np.int64)
            found[self.vector(component)[0]] = self.category_order_units(pattern, alone)
            self._category_order[component] = found
        return found

    def category_share(self, pattern: str) -> float:
        """The share of the stored papers (the corpus window) that hold a category matching
        `pattern`; a pattern spanning several categories counts each (at most 1)."""
        found = self._category_shares.get(pattern)
        if found is None:
            found = self._category_shares[pattern] = self.stats.category_share(pattern)
        return found

    def topic_scale(self, topic) -> float:
        """A topic is a curated set of synonyms: IDF weighs its terms against each other,
        and its most specific term counts fully (a topic made of common words, "large
        language model", is still the subscriber's whole request)."""
        best = max((self.specificity(alt) for t in topic.terms if not t.exclude for alt in t.alternatives), default=1.0)
        return 1.0 / best if best > 0 else 1.0

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
        found: set[int] = set()
        for cat, ids in self._categories.items():
            if category_matches(pattern, cat):
                found.update(ids)
        return sorted(found)


def _words_at(text: str, lo: int, hi: int) -> tuple[str, int]:
    """The words of `text` from token `lo` to token `hi` (excluded), as written, and the
    character where they start."""
    norm = unicodedata.normalize("NFKC", text)
    spans = [m.span() for m in _WORD.finditer(norm)]
    if not spans:
        return "", 0
    lo = min(max(0, lo), len(spans) - 1)
    hi = min(max(lo + 1, hi), len(spans))
    return norm[spans[lo][0]:spans[hi - 1][1]], spans[lo][0]


def _snippet(text: str, start: int, length: int, around: int = 60) -> str:
    norm = unicodedata.normalize("NFKC", text)
    lo, hi = max(0, start - around), min(len(norm), start + length + around)
    lo = norm.rfind(" ", 0, lo) + 1 if lo > 0 else 0
    cut = norm.find(" ", hi)
    hi = cut if cut != -1 else len(norm)
    return ("…" if lo > 0 else "") + norm[lo:hi].strip() + ("…" if hi < len(norm) else "")


__all__ = ["UNIT", "Hit", "PaperDoc", "PaperIndex", "stem", "units"]
