"""The specification of ranking, as a plain loop: for every paper, test every term of
every interest and add up the rules of ranking.py. Slow; the fast paths (rank and
match_many) are tested against it, and benchmarks/matching.py checks them on a sample."""

from __future__ import annotations

import numpy as np

from .closeness import order_units, ramp
from .index import UNIT, PaperIndex, to_units, units
from .interests import COMPONENTS, Interests, keyword_supported, text_id, topic_refined, topic_supported
from .ranking import floor_units
from .terms import category_matches, normalize_name


def reference_match(interests: Interests, index: PaperIndex) -> list[tuple[int, float]]:
    """(position, score) of every selected paper, best first."""
    w = index.weights
    alone = interests.categories_alone
    dense = [index.component_values(("like", p, interests.liked_alone)) for p in interests.liked]
    if interests.about:
        dense.append(index.component_values(("about", interests.about, interests.about_alone)))
    if interests.learned is not None:
        dense.append(index.component_values(("learned", interests.learned)))
    disliked = [index.component_values(("dislike", p)) for p in interests.disliked]
    # A topic next to an about-me counts as far as the text is close to the paper.
    gate = ramp(index.about_closeness(interests.about), w.topic_gate_low, w.topic_gate_high) if interests.about else None
    supported = topic_supported(interests.keywords, interests.about)
    refined = topic_refined(interests.keywords, interests.about)
    others = keyword_supported(interests.keywords, interests.about)
    factors = {t: index.keyword_factor(t) if others else 1.0 for t in interests.keywords if not t.exclude}
    # A keyword checked against the others keeps sense_gate() of its value at each paper.
    gates = {}
    if interests.sensed and index.senses_keywords:
        everywhere = np.arange(index.size)
        gates = {t: index.sense_gate_at(text_id(t.text), interests.sense_texts, everywhere)
                 for t in interests.keywords if not t.exclude and t.text.strip()}
    # The order among selected papers: each typed text's closeness on its own.
    texts = [order_units(index.about_closeness(COMPONENTS[c][1]), w.order_closeness) for c in interests.texts]
    floor = floor_units(interests.strictness, index)
    popularity = round(interests.popularity * 100)
    results = []
    for i, paper in enumerate(index.papers):
        if any(index.value_in(i, t) > 0 for t in interests.keywords if t.exclude):
            continue
        if any(blocked[i] > 0 for blocked in disliked):
            continue
        relevance = 0
        for topic in interests.topics:
            factor = index.topic_factor(topic) if supported else 1.0
            if any(index.value_in(i, t) > 0 for t in topic.terms if t.exclude):
                continue
            missing, scale = 1.0, index.topic_scale(topic)
            for t in topic.terms:
                if not t.exclude:
                    value = index.value_in(i, t)
                    if value > 0:
                        missing *= 1.0 - min(1.0, round(value * scale, 6))
            if missing < 1.0:
                value = w.topic * round(1.0 - missing, 6) * factor
                value = value if gate is None else value * float(gate[i])
                relevance += units(min(value, w.topic_supported_max) if refined else value)
        backed = bool(interests.about)
        keyword = w.keyword_weight(backed)
        for t in interests.keywords:
            if not t.exclude:
                value = units(keyword * index.value_in(i, t, backed) * factors[t])
                relevance += int(np.rint(value * gates[t][i])) if t in gates else value
        order = 0
        for pattern in interests.categories:
            if any(category_matches(pattern, c) for c in paper.categories):
                relevance += units(index.category_value(pattern, alone))
                order += index.category_order_units(pattern, alone) if index.orders_by_category else 0
        names = {normalize_name(a) for a in paper.authors}
        relevance += units(w.author) * sum(1 for a in interests.authors if a in names)
        relevance += sum(int(to_units(np.array([values[i]]))[0]) for values in dense)
        if relevance >= floor:
            if texts and index.orders_by_closeness:
                relevance += sum(int(values[i]) for values in texts) // len(texts)
            relevance += order
            score = relevance + (popularity * int(index.bonus[i])) // 100 if index.has_signal else relevance
            results.append((i, score / UNIT))
    results.sort(key=lambda r: (-r[1], r[0]))
    return results
