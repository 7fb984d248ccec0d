"""Why a paper is in a subscriber's selection: one Reason per interest that contributed,
strongest first, with what the subscriber can check in the paper: the word as written
there, in the title or the abstract, a core match or a passing mention, a snippet when the
word stands beyond the part of the abstract an email shows, and for liked or learned
picks the title of the liked paper."""

from __future__ import annotations

from dataclasses import dataclass

from .index import UNIT, PaperIndex
from .interests import Interests, component_id
from .ranking import Ranking, rank
from .terms import normalize_name


@dataclass(frozen=True)
class Reason:
    kind: str  # "topic", "keyword", "category", "author", "like", "about", "learned"
    label: str  # the topic name, the keyword, the category, the author, the liked title
    terms: tuple[str, ...] = ()  # a topic's terms that matched, as typed
    word: str = ""  # the matched words as written in the paper
    field: str = ""  # "title" or "abstract"
    strength: str = ""  # "core" (title, or repeated) or "passing" (one mention in the abstract)
    snippet: str = ""  # words around the hit when it is beyond SNIPPET_AFTER characters

    def explain(self) -> str:
        """One short line, e.g. 'Graph learning: "GNNs" in title' or '"benchmark" in
        abstract, passing mention'."""
        where = f" in {self.field}" if self.field else ""
        passing = ", passing mention" if self.strength == "passing" else ""
        if self.kind == "topic":
            return f'{self.label}: "{self.word}"{where}{passing}' if self.word else self.label
        if self.kind == "keyword":
            shown = self.word or self.label
            typed = f" ({self.label})" if self.word and self.word.casefold() != self.label.casefold() else ""
            return f'"{shown}"{typed}{where}{passing}'
        if self.kind == "category":
            return f"category {self.label}"
        if self.kind == "author":
            return f"by {self.label}"
        if self.kind in ("like", "learned"):
            return f"because you liked “{self.label}”" if self.label else "learned from your feedback"
        if self.kind == "about":
            return "close to your “about me”" + (" (loosely)" if self.strength == "passing" else "")
        return self.label

    def as_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "terms": list(self.terms), "word": self.word,
                "field": self.field, "strength": self.strength, "snippet": self.snippet}


@dataclass(frozen=True)
class Match:
    paper_id: int
    score: float
    order: int
    reasons: tuple[Reason, ...]

    def explain(self) -> str:
        return "; ".join(r.explain() for r in self.reasons)


def _term_reason(kind: str, label: str, index: PaperIndex, position: int, term, terms=()) -> Reason | None:
    hit = index.hit(position, term)
    if hit is None:
        return None
    (t_count, _), (a_count, _) = max((index.field_counts(position, alt) for alt in term.alternatives),
                                     key=lambda c: (c[0][0] > 0, c[0][0] + c[1][0]))
    strength = "core" if t_count > 0 or a_count >= 2 else "passing"
    return Reason(kind, label, terms, hit.word, hit.field, strength, hit.snippet)


# A topic's or a keyword's reason in one paper is the same for every subscriber who has it,
# and finding the words as written (tokens, spans, snippets) is most of what explaining
# costs: each is worked out once per edition's index and worker, then reused. Bounded, so
# that a worker's memory does not grow with its subscribers' distinct keywords.
REASONS_KEPT = 50_000
_MISSING = object()


def _remembered(index: PaperIndex, key, make):
    cache = index.explained
    found = cache.get(key, _MISSING)
    if found is _MISSING:
        if len(cache) >= REASONS_KEPT:
            cache.clear()
        found = cache[key] = make()
    return found


def _value(index: PaperIndex, component: int, position: int) -> float:
    # A component's values as a dict, made once per index (with the reasons, below): a search
    # in its sparse vector per paper and subscriber was a third of explaining.
    values = _remembered(index, component, lambda: _unit_values(index, component))
    return values.get(position, 0.0)


def _unit_values(index: PaperIndex, component: int) -> dict[int, float]:
    positions, values = index.vector(component)
    return {p: v / UNIT for p, v in zip(positions.tolist(), values.tolist())}


def _topic_reason(index: PaperIndex, topic, position: int) -> Reason:
    matched = [(index.term_values(t).get(position, 0.0), t) for t in topic.terms if not t.exclude]
    matched = [(v, t) for v, t in matched if v > 0]
    best = max(matched, key=lambda vt: vt[0])[1]
    reason = _term_reason("topic", topic.name, index, position, best, tuple(t.text for _, t in matched))
    return reason or Reason("topic", topic.name)


def explain(interests: Interests, index: PaperIndex, position: int) -> tuple[Reason, ...]:
    """Why the paper at `position` is in this subscriber's selection, strongest first."""
    scored: list[tuple[float, int, Reason]] = []
    paper = index.papers[position]
    # Topics come first in interests.adds, in the same order, then the wanted keywords: their
    # component ids (small integers) key the remembered reasons, where hashing the topics and
    # terms themselves (nested dataclasses) cost as much as the rest of a known reason.
    for topic, component in zip(interests.topics, interests.adds):
        value = _value(index, component, position)
        if value > 0:
            reason = _remembered(index, (component, position), lambda: _topic_reason(index, topic, position))
            scored.append((value, len(scored), reason))
    wanted = [term for term in interests.keywords if not term.exclude]
    checked = dict(interests.sensed) if index.senses_keywords else {}
    for term, component in zip(wanted, interests.adds[len(interests.topics):]):
        value = _value(index, component, position)
        if value > 0 and component in checked:  # as ranked: gated by the other keywords
            value *= float(index.sense_gate_at(checked[component], interests.sense_texts, [position])[0])
        if value > 0:
            # The component stands for the term's stems; its text (the label) is keyed too.
            reason = _remembered(index, (component, position, term.text),
                                 lambda: _term_reason("keyword", term.text, index, position, term))
            if reason:
                scored.append((value, len(scored), reason))
    for pattern in interests.categories:
        value = _value(index, component_id(("category", pattern, interests.categories_alone)), position)
        if value > 0:
            scored.append((value, len(scored), Reason("category", pattern)))
    for name in interests.authors:
        shown = [a for a in paper.authors if normalize_name(a) == name]
        if shown:
            scored.append((index.weights.author, len(scored), Reason("author", shown[0])))
    likes = [(_value(index, component_id(("like", p, interests.liked_alone)), position), p) for p in interests.liked]
    likes = [(v, p) for v, p in likes if v > 0]
    if likes:
        value, liked = max(likes)
        scored.append((value, len(scored), Reason("like", index.title_of(liked))))
    if interests.about:
        alone = interests.about_alone
        value = _value(index, component_id(("about", interests.about, alone)), position)
        if value > 0:
            weight = index.weights.about_alone if alone else index.weights.about
            strength = "core" if value >= 0.5 * weight else "passing"
            scored.append((value, len(scored), Reason("about", "about me", strength=strength)))
    if interests.learned is not None:
        value = _value(index, component_id(("learned", interests.learned)), position)
        if value > 0:
            scored.append((value, len(scored), Reason("learned", _nearest_liked(index, interests, position))))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return tuple(r for _, _, r in scored)


def _nearest_liked(index: PaperIndex, interests: Interests, position: int) -> str:
    """The title of the liked paper most like this one, among those the index knows."""
    ids = [p for p in dict.fromkeys(interests.liked + interests.learned.positive_ids)
           if p in index.position or p in index._external]
    if not ids:
        return ""
    best = max(ids, key=lambda p: index.similarities(p)[position])
    return index.title_of(best)


def match(interests: Interests, index: PaperIndex, limit: int | None = None) -> list[Match]:
    """The papers `interests` select, best first, each with why (the first `limit`)."""
    return matches_from(rank(interests, index), interests, index, limit)


def matches_from(ranking: Ranking, interests: Interests, index: PaperIndex, limit: int | None = None) -> list[Match]:
    pairs = ranking.pairs() if limit is None else ranking.pairs()[:limit]
    return [
        Match(paper_id=index.papers[p].id, score=s, order=index.papers[p].order, reasons=explain(interests, index, p))
        for p, s in pairs
    ]
