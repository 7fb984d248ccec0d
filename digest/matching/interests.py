"""A subscriber's interests as plain data (Interests), the weights of the score (Weights)
and the strictness floors.

Interests are curated topics (a query of terms each), free keywords and phrases,
exclusions ("-survey"), arXiv categories ("cs.CL", "cs.*"), followed authors, an "about
me" text, liked and disliked papers ("more/fewer like this"), an optional learned model
(digest.matching.learned) and a strictness. Every part becomes one component: a sparse
vector of scores over an index's papers, computed once per index and shared by every
subscriber who has that part (see ranking.py)."""

from __future__ import annotations

import math
import re
import struct
from itertools import chain
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar

from .learned import LearnedModel
from .terms import Term, TopicQuery, normalize_name, parse_terms, split_list

STRICTNESS = ("strict", "balanced", "broad")
# Relevance is summed in integer ten-thousandths, so that the sum is exact in any order and
# the matrix path, the single path and the reference loop agree to the last digit (and the
# batch product runs on 32-bit integers).
UNIT = 10_000
ABOUT_MAX_CHARS = 1000


@dataclass(frozen=True)
class Weights:
    """The numbers of the score; docs/ranking.md explains each. Settings: MATCH_WEIGHTS."""

    # A term: BM25F term frequency (title and abstract counts weighted), saturated, in units
    # of one mention in the title (= 1 for a term as specific as IDF_FULL).
    title: float = 3.0
    abstract: float = 1.0
    k1: float = 2.0
    # IDF at or above which a term counts fully; commoner words count in proportion. (6 scored
    # higher on the devset, whose readers all typed narrow words, but left "LLM" typed alone
    # with nothing: no single mention of a word in 8% of the papers reached the floor.)
    idf_full: float = 5.0
    idf_min_share: float = 0.25
    keyword: float = 1.0
    # A keyword of a subscriber who also gave an "about me": the about-me backs its abstract
    # mentions (they pass the floor when it agrees), so the keyword alone asks more: the title
    # weighs TITLE_BACKED and the whole term KEYWORD_BACKED. Refitted on the devset's tuned
    # parts, where every keyword profile has an about-me (docs/ranking.md); keywords with
    # nothing to back them, and topics, keep the numbers above.
    title_backed: float = 6.0
    keyword_backed: float = 0.7
    topic: float = 1.0
    # A topic of a subscriber who also gave an about-me counts in proportion to how close the
    # paper is to that text (ramped from TOPIC_GATE_LOW to TOPIC_GATE_HIGH, standard scores):
    # the optimisers topic's "momentum" in a photonics paper, or the RL topic in a drone
    # paper for a reader whose about-me says "for language models", is the other sense.
    topic_gate_low: float = -0.5
    topic_gate_high: float = 1.0
    # A topic next to keywords or an about-me, and a keyword next to other keywords or an
    # about-me, weighs less the more of the day's papers it meets: 1 up to
    # TOPIC_NARROW_SHARE of the edition, down (log-linearly) to TOPIC_BROAD at
    # TOPIC_BROAD_SHARE or more. "Large language models" (or the keyword "LLM") next to
    # "chain-of-thought" is the field the narrower words sit in, not a wish for every LLM
    # paper: the LLM topic (8% of a day) then stays just under the balanced floor on its own
    # and adds to the narrower words' matches. Typed alone, a topic or a keyword keeps its
    # full weight.
    topic_broad: float = 0.5
    topic_narrow_share: float = 0.03
    topic_broad_share: float = 0.15
    # A topic next to an about-me or two or more keywords (what the reader wants within it)
    # adds at most TOPIC_SUPPORTED_MAX to a paper, under the balanced and strict floors: it
    # adds to what the narrower words find, and its papers that nothing else backs come only
    # with `broad` strictness. "Reinforcement learning" beside an about-me on world models,
    # or "AI for science" beside "weather forecasting, climate, ...", sent the whole field
    # (the ninth devset set: 26 RL papers, one about world models). One keyword beside a
    # topic is read as a second interest ("Machine unlearning" and "LoRA"): no cap.
    topic_supported_max: float = 0.5
    # A keyword's sense, checked against the subscriber's other keywords: for a subscriber
    # with no about-me and three or more keywords, each keyword's value is multiplied by
    # ramp(the paper's mean closeness to the *other* keywords, KEYWORD_SENSE_LOW,
    # KEYWORD_SENSE_HIGH), raised to at least KEYWORD_SENSE_KEEP. "cloud" next to "GPU
    # cluster scheduling, serverless, HPC" keeps cloud computing and drops point clouds and
    # cloud droplets; "fusion" next to "tokamak, magnetic reconnection" keeps fusion plasma.
    # (An about-me already backs keywords its own way: KEYWORD_BACKED.) 1 turns it off.
    keyword_sense_low: float = -0.5
    keyword_sense_high: float = 1.0
    keyword_sense_keep: float = 0.0
    # A category next to other interests is supporting evidence, more of it the narrower the
    # category: CATEGORY for one holding CATEGORY_BROAD_SHARE of the stored papers or more
    # (cs.LG next to keywords is a filter, not a wish), rising (log-linearly) to
    # CATEGORY_NARROW for one holding CATEGORY_NARROW_SHARE or less (hep-ph next to an
    # about-me: the reader wants most of that listing).
    category: float = 0.3
    category_narrow: float = 0.7
    category_broad_share: float = 0.15
    category_narrow_share: float = 0.03
    category_alone: float = 1.0  # categories (and authors) are all the subscriber typed
    author: float = 1.5
    # A typed text's closeness (an about-me, the topics it gates, keywords read as texts) is
    # the mean of two standard scores, the latent cosine (shared meaning) and the TF-IDF
    # cosine (the words themselves), less CLOSENESS_DISAGREEMENT times their difference:
    # standard scores always put some papers of the day at the top, and a paper near the text
    # by only one of the two (the same words in another field, or a vaguely similar field in
    # none of the words: "Simplicial sets in topology" for a transportation researcher's
    # "how people move around cities") is not the paper the text describes. 0 turns it off.
    closeness_disagreement: float = 0.1
    # "About me" and liked papers: closeness in the semantic layer (standard scores of the
    # cosine over the edition's papers) mapped from [low, high] to [0, 1].
    about: float = 1.0
    about_alone: float = 1.5  # the "about me" (with liked papers) is all the subscriber gave
    about_low: float = 2.5
    about_high: float = 5.0
    like: float = 0.4
    like_alone: float = 2.5  # liked papers are all the subscriber gave: their neighbours pass
    like_low: float = 2.5
    like_high: float = 4.5
    # "Fewer like this" drops the paper and papers this close to it: near-duplicates, not its
    # whole field (at 3.0 one off-target paper in the reader's own field blocked relevant ones).
    dislike: float = 5.0
    learned: float = 0.8
    # The learned model: the standard score of its margin over the edition, ramped.
    learned_low: float = 3.0
    learned_high: float = 5.0
    # The floors a paper's relevance must reach, by strictness.
    floor_strict: float = 1.1
    floor_balanced: float = 0.7
    floor_broad: float = 0.35
    # The order among papers that cleared the floor: each standard score of the paper's
    # closeness to what the subscriber typed (the mean over their keywords, starter topics'
    # names and about-me, each text's closeness on its own) adds ORDER_CLOSENESS. Two papers
    # matching "fusion" equally come in the order of their closeness to "tokamak, magnetic
    # reconnection" too; what clears the floor does not change. 0 turns it off.
    order_closeness: float = 0.2
    # ... and each of the subscriber's categories that the paper is in adds ORDER_CATEGORY x
    # the category's value (above) once more: of two papers that cleared the floor on the
    # same words, the one in the listing the reader follows comes first.
    order_category: float = 1.0
    # With the dense encoder (MATCH_EMBEDDING_MODEL), whose closeness tells a word's sense
    # and a paper's subject better than the LSA layer's, three numbers change: a checked
    # keyword asks more of the paper's closeness to the reader's other keywords (0 to 1.5,
    # not -0.5 to 1: "manifold" next to "equivariant, geometric deep learning" in a topology
    # paper), and that closeness weighs three times as much in the order. Fitted on the
    # sixteen tuning sets of the relevance devset (precision@5 0.867 -> 0.888, F1 0.534 ->
    # 0.526); with LSA it bought less and cost as much (docs/ranking.md). A field set to anything
    # but its default above (MATCH_WEIGHTS) keeps that value.
    ENCODER: ClassVar[dict[str, float]] = {"keyword_sense_low": 0.0, "keyword_sense_high": 1.5,
                                           "order_closeness": 0.6}
    # Community signal: added after the floor, at most signal + featured.
    signal: float = 0.1
    upvote_scale: float = 100.0
    featured: float = 0.1
    # "Similar papers" on a paper's page.
    similarity_min: float = 0.15

    @classmethod
    def from_settings(cls) -> Weights:
        # The engine is pure; only this helper, for the callers, reads Django's settings.
        from django.conf import settings

        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in getattr(settings, "MATCH_WEIGHTS", {}).items() if k in known})

    def for_encoder(self) -> Weights:
        """These weights as the dense encoder uses them: ENCODER's values for the fields
        still at their defaults."""
        defaults = {f.name: f.default for f in fields(self)}
        return replace(self, **{k: v for k, v in self.ENCODER.items() if getattr(self, k) == defaults[k]})

    def keyword_weight(self, backed: bool) -> float:
        return self.keyword_backed if backed else self.keyword

    def category_weight(self, share: float) -> float:
        """A category's value next to other interests, from its share of the stored papers."""
        t = 1.0 - log_position(share, self.category_narrow_share, self.category_broad_share)
        return round(self.category + (self.category_narrow - self.category) * t, 4)

    def topic_weight(self, share: float) -> float:
        """The factor of a topic next to keywords or an about-me, from its share of the edition
        (1 when the shares are set the wrong way round)."""
        if self.topic_broad_share <= self.topic_narrow_share:
            return 1.0
        t = log_position(share, self.topic_narrow_share, self.topic_broad_share)
        return round(1.0 - (1.0 - self.topic_broad) * t, 4)

    def title_weight(self, backed: bool) -> float:
        return self.title_backed if backed else self.title

    def floor(self, strictness: str) -> float:
        return {"strict": self.floor_strict, "broad": self.floor_broad}.get(strictness, self.floor_balanced)


def log_position(share: float, narrow: float, broad: float) -> float:
    """Where `share` stands between `narrow` (0) and `broad` (1) on a log scale, clipped; a
    share at or above `broad` is broad (1), as is everything when broad <= narrow."""
    if share >= broad or broad <= narrow:
        return 1.0
    if share <= narrow:
        return 0.0
    return (math.log(share) - math.log(narrow)) / (math.log(broad) - math.log(narrow))


# Every distinct component (a term, a topic, a category, an author, a liked or disliked
# paper, an about text, a learned model) gets a small integer id once, when interests are
# built, so that matching many subscribers hashes integers rather than nested tuples.
_COMPONENT_IDS: dict[tuple, int] = {}
COMPONENTS: list[tuple] = []
BLOCKING = ("not", "dislike")


def component_id(key: tuple) -> int:
    found = _COMPONENT_IDS.get(key)
    if found is None:
        found = _COMPONENT_IDS[key] = len(COMPONENTS)
        COMPONENTS.append(key)
    return found


def is_gated_topic(key: tuple) -> bool:
    """A topic component that its subscriber's about-me gates (its key holds the text)."""
    return key[0] == "topic" and bool(key[2])


def normalize_about(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").strip())[:ABOUT_MAX_CHARS]


# Whether a part is "alone" follows what the person declared (topics, keywords, categories,
# authors, an "about me", listed papers), never what feedback added: a learned model must not
# demote the categories or the "about me" that were all the person asked for (a math.CO reader
# who marks two papers "more like this" still gets math.CO).


def categories_alone(topics, keywords, about) -> bool:
    """Categories (with authors, liked papers) are all the subscriber declared: a category
    match is a full match; liked papers only put their neighbours first."""
    return not (topics or about or any(not t.exclude for t in keywords))


def topic_refined(keywords, about) -> bool:
    """An about-me, or two or more keywords, say what the subscriber wants within their
    topics: a topic alone then stays under the balanced floor (Weights.topic_supported_max)."""
    return bool(about) or sum(1 for t in keywords if not t.exclude) > 1


def topic_supported(keywords, about) -> bool:
    """Keywords or an about-me say more than the subscriber's topics: a broad topic is then
    the field around them (Weights.topic_weight)."""
    return bool(about) or any(not t.exclude for t in keywords)


def keyword_supported(keywords, about) -> bool:
    """Other keywords or an about-me say more than one keyword: a broad one is then the field
    around the rest (Weights.topic_weight). Topics and categories do not count: next to
    "cs.*" the keyword "diffusion" is still the whole wish."""
    return bool(about) or sum(1 for t in keywords if not t.exclude) > 1


def about_alone(topics, keywords, categories, authors) -> bool:
    """The "about me" text, with liked papers or not, is all the subscriber gave: its clear
    matches clear the floor on their own."""
    return not (topics or categories or authors or any(not t.exclude for t in keywords))


def liked_alone(topics, keywords, categories, authors, about) -> bool:
    """Liked papers are all the subscriber gave: their close neighbours clear the floor."""
    return not (topics or about or categories or authors or any(not t.exclude for t in keywords))


SENSE_MIN_KEYWORDS = 3  # each keyword then has at least two others to be checked against


def text_id(text: str) -> int:
    """The ("text", ...) component of a typed text: one closeness per distinct text, shared
    by every subscriber who typed it."""
    return component_id(("text", normalize_about(text).casefold()))


def sensed_keywords(keywords, about) -> bool:
    """Whether each keyword's sense is checked against the others (Weights.keyword_sense_low):
    no about-me (it backs keywords its own way) and three or more keywords."""
    return not about and len({text_id(t.text) for t in keywords if not t.exclude and t.text.strip()}) >= SENSE_MIN_KEYWORDS


def typed_texts(topics, keywords, about) -> tuple[int, ...]:
    """The ("text", ...) components of what a subscriber typed, one per wanted keyword,
    starter topic name and about-me: the order among the papers that cleared the floor
    follows their mean closeness (Weights.order_closeness). One closeness per text, shared
    by every subscriber who typed it, rather than one per subscriber's whole profile: the
    batch then computes a few thousand texts' closeness, not one per subscriber."""
    said = [t.text for t in keywords if not t.exclude] + [t.name for t in topics] + ([about] if about else [])
    return tuple(sorted({text_id(x) for x in said if x.strip()}))


KEY_HEADER = 7  # int64s before a content key's lists


def content_key(strictness: str, popularity: float, summed, blocks, sensed, texts, order_categories,
                sense_texts) -> bytes:
    """The content key of an interest set: everything ranking reads, as one flat record of
    int64s. Equal keys rank alike, so subscribers with equal keys are matched once
    (ranking.Distinct), and match_many reads its distinct rows from their keys joined into
    one array (ranking._row_arrays), with no Python object per number. The topics' names
    need not be in it: each topic's component holds its query and name.

    Header (KEY_HEADER): strictness (its place in STRICTNESS), popularity in hundredths, and
    the lengths of the five lists that follow: the components summed as they are (adds but
    the sensed keywords, then blocks), the sensed keywords as (term, text) pairs (their
    count), the typed texts, the followed categories (the order), the sensed keywords'
    texts."""
    # This runs for every subscriber built, so it is kept to a few tenths of a microsecond:
    # one struct per record length, kept, and one call with the lists spread into it.
    length = KEY_HEADER + len(summed) + len(blocks) + 2 * len(sensed) + len(texts) + len(order_categories) \
        + len(sense_texts)
    packer = _PACKERS.get(length)
    if packer is None:
        packer = _PACKERS[length] = struct.Struct(f"{length}q")
    pairs = chain.from_iterable(sensed) if sensed else ()
    return packer.pack(_STRICTNESS_CODE[strictness], round(popularity * 100), len(summed) + len(blocks),
                       len(sensed), len(texts), len(order_categories), len(sense_texts),
                       *summed, *blocks, *pairs, *texts, *order_categories, *sense_texts)


_STRICTNESS_CODE = {s: i for i, s in enumerate(STRICTNESS)}
_PACKERS: dict[int, struct.Struct] = {}


@dataclass(frozen=True, eq=False, slots=True)
class Interests:
    """Hashable and compared by content, so that subscribers with equal interests are
    matched once. Build it with Interests.build()."""

    topics: tuple[TopicQuery, ...] = ()
    keywords: tuple[Term, ...] = ()
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    liked: tuple[int, ...] = ()  # paper ids marked "more like this" or listed as liked
    disliked: tuple[int, ...] = ()  # paper ids marked "fewer like this" / "not interested"
    about: str = ""
    strictness: str = "balanced"
    learned: LearnedModel | None = None
    popularity: float = 1.0  # 0 ignores upvotes and curator picks, 1 is the default
    adds: tuple[int, ...] = field(default=(), repr=False)  # component ids summed into relevance
    blocks: tuple[int, ...] = field(default=(), repr=False)  # component ids that drop papers
    texts: tuple[int, ...] = field(default=(), repr=False)  # ("text", ...) ids: the order among selected
    order_categories: tuple[int, ...] = field(default=(), repr=False)  # category ids (in adds): the order too
    # Keywords checked against the others (sensed_keywords): (term component, its text)
    # pairs, their terms in adds too (explain reads adds in order) but not in the key's sum,
    # and the texts of every keyword of the subscriber.
    sensed: tuple[tuple[int, int], ...] = field(default=(), repr=False)
    sense_texts: tuple[int, ...] = field(default=(), repr=False)
    summed: tuple[int, ...] = field(default=(), repr=False)  # adds but the sensed terms, sorted
    _key: bytes = field(default=b"", repr=False)  # content_key()
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
        about: str = "",
        strictness: str = "balanced",
        learned: LearnedModel | None = None,
        popularity: float = 1.0,
    ) -> Interests:
        """topics: (name, query) pairs; keywords: a query string (commas, quotes, -exclusions)
        or a list of terms; categories and authors: comma-separated or lists; liked and
        disliked: paper ids (PaperIndex.add_external supplies papers outside the edition);
        about: free text; strictness: strict | balanced | broad; learned: a LearnedModel
        (ignored when it was trained on too few labels); popularity: the weight, from 0 to
        1, of upvotes and curator picks among papers that already cleared the floor."""
        if strictness not in STRICTNESS:
            raise ValueError(f"strictness must be one of {', '.join(STRICTNESS)}, not {strictness!r}")
        kw_query = keywords if isinstance(keywords, str) else ", ".join(keywords)
        topic_set = tuple(sorted({TopicQuery(n, parse_terms(q)) for n, q in topics}, key=lambda t: t.name))
        kws = tuple(sorted(parse_terms(kw_query), key=lambda t: (t.text.casefold(), t.exclude)))
        cats = tuple(sorted(split_list(categories)))
        names = tuple(sorted({normalize_name(a) for a in split_list(authors)} - {""}))
        model = learned if learned is not None and learned.usable else None
        return cls._from_parts(topic_set, kws, cats, names, tuple(sorted(set(liked))), tuple(sorted(set(disliked))),
                               normalize_about(about), strictness, model, round(min(1.0, max(0.0, popularity)), 2))

    @classmethod
    def _from_parts(cls, topics, keywords, categories, authors, liked, disliked, about="", strictness="balanced",
                    learned=None, popularity=1.0) -> Interests:
        # A topic is gated by the about-me when there is one (Weights.topic_gate_low), and
        # weighs by its breadth when keywords or an about-me say more (Weights.topic_broad).
        supported, refined = topic_supported(keywords, about), topic_refined(keywords, about)
        adds = [component_id(("topic", t, about, supported, refined)) for t in topics]
        # An exclusion is its own component ("not"), distinct from the same term wanted, so
        # that one subscriber's "-benchmark" never blocks another's "benchmark".
        blocks = [component_id(("not", t.alternatives)) for t in keywords if t.exclude]
        # A keyword is "backed" when the subscriber gave an about-me (Weights.keyword_backed),
        # and weighs by its breadth when the subscriber declared more than it (topic_weight).
        others = keyword_supported(keywords, about)
        wanted = [t for t in keywords if not t.exclude]
        terms = [component_id(("term", t.alternatives, bool(about), others)) for t in wanted]
        adds += terms
        sensed, sense_texts = (), ()
        if sensed_keywords(keywords, about):
            sensed = tuple(sorted({(c, text_id(t.text)) for c, t in zip(terms, wanted) if t.text.strip()}))
            sense_texts = tuple(sorted({own for _, own in sensed}))
        # Categories alone are the whole request (send me math.CO); next to anything else
        # they support the other evidence.
        alone = categories_alone(topics, keywords, about)
        category_ids = [component_id(("category", c, alone)) for c in categories]
        order_categories = tuple(sorted(set(category_ids)))
        adds += category_ids
        adds += [component_id(("author", a)) for a in authors]
        like_alone = liked_alone(topics, keywords, categories, authors, about)
        adds += [component_id(("like", p, like_alone)) for p in liked]
        if about:
            adds.append(component_id(("about", about, about_alone(topics, keywords, categories, authors))))
        if learned is not None:
            adds.append(component_id(("learned", learned)))
        blocks += [component_id(("dislike", p)) for p in disliked]
        texts = typed_texts(topics, keywords, about)
        checked = {c for c, _ in sensed}
        summed = tuple(sorted(c for c in adds if c not in checked))
        key = content_key(strictness, popularity, summed, tuple(sorted(set(blocks))), sensed, texts,
                          order_categories, sense_texts)
        return cls(topics, keywords, categories, authors, liked, disliked, about, strictness, learned, popularity,
                   tuple(adds), tuple(blocks), texts, order_categories, sensed, sense_texts, summed, key, hash(key))

    def __reduce__(self):
        # Component ids belong to this process: another process rebuilds them from content.
        return (Interests._from_parts, (self.topics, self.keywords, self.categories, self.authors, self.liked,
                                        self.disliked, self.about, self.strictness, self.learned, self.popularity))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, Interests) and self._hash == other._hash and self._key == other._key

    @property
    def categories_alone(self) -> bool:
        return categories_alone(self.topics, self.keywords, self.about)

    @property
    def about_alone(self) -> bool:
        return about_alone(self.topics, self.keywords, self.categories, self.authors)

    @property
    def liked_alone(self) -> bool:
        return liked_alone(self.topics, self.keywords, self.categories, self.authors, self.about)

    @property
    def is_empty(self) -> bool:
        positive_kw = [t for t in self.keywords if not t.exclude]
        return not (self.topics or positive_kw or self.categories or self.authors or self.liked or self.about
                    or self.learned)
