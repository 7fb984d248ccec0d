"""Which papers of a batch each subscriber gets, and why. Pure functions over plain data.

A subscriber's interests are curated topics (each a query of terms), free keywords and
phrases, arXiv categories and followed authors. A term matches a paper when the title or
abstract holds its words, in order, as whole words after light stemming (digest.text).
Relevance of a paper = sum over its matched terms of TITLE_WEIGHT (term in the title) plus
ABSTRACT_WEIGHT (term in the abstract), plus CATEGORY_WEIGHT per matched category and
AUTHOR_WEIGHT per followed author. Papers are ordered by relevance, then page order.

PaperIndex is built once per batch; term look-ups are memoised in it, so that matching
many subscribers costs a few set operations each, and equal interests are matched once.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .text import compounds, stem, stems, words

TITLE_WEIGHT = 3.0
ABSTRACT_WEIGHT = 1.0
CATEGORY_WEIGHT = 1.0
AUTHOR_WEIGHT = 4.0

_TERM = re.compile(r'\s*(-?)\s*(?:"([^"]*)"?|([^,;\n]+))')


@dataclass(frozen=True)
class Term:
    text: str
    # Each alternative is a sequence of stems; the term matches if any alternative does.
    alternatives: tuple[tuple[str, ...], ...]
    exclude: bool = False


def parse_terms(query: str) -> tuple[Term, ...]:
    """Split a query into terms: commas, semicolons or new lines separate them, double
    quotes may wrap a phrase, a leading - makes an exclusion. Empty terms are dropped."""
    terms: list[Term] = []
    seen: set[tuple] = set()
    for match in _TERM.finditer(query or ""):
        negative, quoted, bare = match.groups()
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
    """Author names compared without accents, case or punctuation: "Jürgen Schmidhuber",
    "jurgen schmidhuber" and "Schmidhuber, Jürgen" do not all meet, but the first two do."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", plain.casefold()))


@dataclass(frozen=True)
class TopicQuery:
    name: str
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Interests:
    """Hashable, so that subscribers with equal interests are matched once."""

    topics: tuple[TopicQuery, ...] = ()
    keywords: tuple[Term, ...] = ()
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        topics: Iterable[tuple[str, str]] = (),
        keywords: str | Iterable[str] = "",
        categories: str | Iterable[str] = "",
        authors: str | Iterable[str] = "",
    ) -> Interests:
        kw_query = keywords if isinstance(keywords, str) else ", ".join(keywords)
        return cls(
            topics=tuple(sorted({TopicQuery(n, parse_terms(q)) for n, q in topics}, key=lambda t: t.name)),
            keywords=tuple(sorted(parse_terms(kw_query), key=lambda t: (t.text.casefold(), t.exclude))),
            categories=tuple(sorted(c for c in _split_list(categories))),
            authors=tuple(sorted({normalize_name(a) for a in _split_list(authors)} - {""})),
        )

    @property
    def is_empty(self) -> bool:
        positive_kw = [t for t in self.keywords if not t.exclude]
        return not (self.topics or positive_kw or self.categories or self.authors)


@dataclass(frozen=True)
class PaperDoc:
    """What matching needs to know of one paper."""

    id: int
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    order: int = 0


@dataclass(frozen=True)
class Reason:
    kind: str  # "topic", "keyword", "category", "author"
    label: str  # the topic name, the keyword, the category or the author
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
class _Field:
    seq: tuple[str, ...]
    bag: frozenset[str]


class PaperIndex:
    """Stems and postings of one set of papers, with memoised term look-ups."""

    def __init__(self, papers: Sequence[PaperDoc]):
        self.papers = list(papers)
        self._title: list[_Field] = []
        self._abstract: list[_Field] = []
        self._postings: dict[str, set[int]] = defaultdict(set)
        self._categories: dict[str, set[int]] = defaultdict(set)
        self._authors: dict[str, set[int]] = defaultdict(set)
        for i, paper in enumerate(self.papers):
            for store, text in ((self._title, paper.title), (self._abstract, paper.abstract)):
                seq = tuple(stems(text))
                bag = frozenset(seq) | frozenset(compounds(text))
                store.append(_Field(seq, bag))
                for s in bag:
                    self._postings[s].add(i)
            for c in paper.categories:
                self._categories[c].add(i)
            for a in paper.authors:
                self._authors[normalize_name(a)].add(i)
        self._term_cache: dict[tuple[tuple[str, ...], ...], dict[int, float]] = {}
        self._category_cache: dict[str, frozenset[int]] = {}

    def __len__(self) -> int:
        return len(self.papers)

    @staticmethod
    def _contains(field: _Field, alt: tuple[str, ...]) -> bool:
        if len(alt) == 1:
            return alt[0] in field.bag
        if not all(s in field.bag for s in alt):
            return False
        seq, n = field.seq, len(alt)
        first = alt[0]
        for start in range(len(seq) - n + 1):
            if seq[start] == first and seq[start : start + n] == alt:
                return True
        return False

    def term_hits(self, term: Term) -> dict[int, float]:
        """Paper index -> weight of this term in that paper (title and/or abstract)."""
        key = term.alternatives
        hits = self._term_cache.get(key)
        if hits is not None:
            return hits
        hits = {}
        for alt in term.alternatives:
            candidates = set.intersection(*(self._postings.get(s, set()) for s in alt))
            for i in candidates:
                weight = 0.0
                if self._contains(self._title[i], alt):
                    weight += TITLE_WEIGHT
                if self._contains(self._abstract[i], alt):
                    weight += ABSTRACT_WEIGHT
                if weight > hits.get(i, 0.0):
                    hits[i] = weight
        self._term_cache[key] = hits
        return hits

    def category_hits(self, pattern: str) -> frozenset[int]:
        hits = self._category_cache.get(pattern)
        if hits is None:
            if pattern.endswith("*"):
                prefix = pattern[:-1]
                found: set[int] = set()
                for cat, ids in self._categories.items():
                    if cat.startswith(prefix):
                        found |= ids
                hits = frozenset(found)
            else:
                hits = frozenset(self._categories.get(pattern, ()))
            self._category_cache[pattern] = hits
        return hits

    def author_hits(self, normalized_name: str) -> frozenset[int]:
        return frozenset(self._authors.get(normalized_name, ()))


def match(interests: Interests, index: PaperIndex) -> list[Match]:
    """The papers of `index` that `interests` select, most relevant first."""
    scores: dict[int, float] = defaultdict(float)
    reasons: dict[int, list[Reason]] = defaultdict(list)

    for topic in interests.topics:
        excluded: set[int] = set()
        for term in topic.terms:
            if term.exclude:
                excluded.update(index.term_hits(term))
        per_paper: dict[int, list[str]] = defaultdict(list)
        for term in topic.terms:
            if term.exclude:
                continue
            for i, weight in index.term_hits(term).items():
                if i in excluded:
                    continue
                scores[i] += weight
                per_paper[i].append(term.text)
        for i, terms in per_paper.items():
            reasons[i].append(Reason("topic", topic.name, tuple(terms)))

    for term in interests.keywords:
        if term.exclude:
            continue
        for i, weight in index.term_hits(term).items():
            scores[i] += weight
            reasons[i].append(Reason("keyword", term.text))

    for pattern in interests.categories:
        for i in index.category_hits(pattern):
            scores[i] += CATEGORY_WEIGHT
            reasons[i].append(Reason("category", pattern))

    for name in interests.authors:
        for i in index.author_hits(name):
            scores[i] += AUTHOR_WEIGHT
            paper_names = [a for a in index.papers[i].authors if normalize_name(a) == name]
            reasons[i].append(Reason("author", paper_names[0] if paper_names else name))

    blocked: set[int] = set()
    for term in interests.keywords:
        if term.exclude:
            blocked.update(index.term_hits(term))

    results = [
        Match(
            paper_id=index.papers[i].id,
            score=round(score, 3),
            order=index.papers[i].order,
            reasons=tuple(reasons[i]),
        )
        for i, score in scores.items()
        if i not in blocked
    ]
    results.sort(key=lambda m: (-m.score, m.order))
    return results


def match_many(interests_list: Iterable[Interests], index: PaperIndex) -> dict[Interests, list[Match]]:
    """Match each distinct interest set once."""
    out: dict[Interests, list[Match]] = {}
    for interests in interests_list:
        if interests not in out:
            out[interests] = match(interests, index)
    return out
