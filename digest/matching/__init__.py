"""Which papers each subscriber gets, in which order, and why. Pure functions over plain
data: no database, so it can be tested and benchmarked on its own (digest.corpus is the
database side: it fits and stores the corpus statistics).

    stats = CorpusStats.fit(recent_docs)            # IDF, acronyms, semantic layer
    index = PaperIndex(edition_docs, weights, stats=stats, external=liked_docs)
    interests = Interests.build(topics=[(name, query)], keywords="LLM agents, -survey",
                                categories="cs.CL", authors="...", about="I work on ...",
                                liked=[paper_id, ...], disliked=[...],
                                strictness="balanced", learned=LearnedModel.from_dict(...))
    match(interests, index, limit=10)                # [Match(paper_id, score, reasons)]
    match_many([interests, ...], index)              # many subscribers at once

Modules, one concern each:
- terms: query parsing (terms, phrases, exclusions, topics, author names, categories)
- analysis: acronyms (curated and learned from the corpus) and window matching of phrases
- semantic: the TF-IDF + truncated SVD latent layer
- dense: the pre-trained sentence encoder that stands in for it (MATCH_EMBEDDING_MODEL)
- corpus: CorpusStats, the rolling window's statistics, storable as bytes
- index: PaperDoc, PaperIndex, BM25F term scores and every component vector
- closeness: the semantic side of the index (cosines, closeness, liked papers, about texts)
- interests: Interests, Weights, strictness floors
- learned: per-subscriber linear models (train, LearnedModel)
- ranking: rank, match_many (the batch path), Ranking(s)
- kernel: match_many's compiled loop (numba), one pass per distinct interest set
- explain: Reason, Match, explain, match, matches_from
- reference: reference_match, the plain-loop specification the fast paths are tested on
docs/ranking.md gives the formula and the numbers."""

from .corpus import CorpusStats
from .explain import Match, Reason, explain, match, matches_from
from .index import UNIT, PaperDoc, PaperIndex, units
from .interests import STRICTNESS, Interests, Weights, component_id
from .learned import LearnedModel, train
from .ranking import Ranking, Rankings, match_many, rank
from .reference import reference_match
from .terms import Term, TopicQuery, normalize_name, parse_terms

__all__ = [
    "STRICTNESS",
    "UNIT",
    "CorpusStats",
    "Interests",
    "LearnedModel",
    "Match",
    "PaperDoc",
    "PaperIndex",
    "Ranking",
    "Rankings",
    "Reason",
    "Term",
    "TopicQuery",
    "Weights",
    "component_id",
    "explain",
    "match",
    "match_many",
    "matches_from",
    "normalize_name",
    "parse_terms",
    "rank",
    "reference_match",
    "train",
    "units",
]
