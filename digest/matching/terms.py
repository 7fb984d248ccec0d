"""What a subscriber typed, parsed: terms (keywords and phrases, with -exclusions), topic
queries, category patterns and author names. No corpus needed: the same text always gives
the same terms, so equal interests compare equal everywhere."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ..text import stem, words

_TERM = re.compile(r'\s*(-?)\s*(?:"([^"]*)"?|([^,;\n]+))')

# Words a multi-word term may skip or have in between ("evaluation of language models"
# meets "language model evaluation"): they carry no topic.
STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "can", "for", "from", "has", "have", "in", "into", "is", "it", "its", "of", "on", "or", "our", "over", "that", "the", "their", "these", "this", "to", "using", "we", "which", "with", "while", "via", "both", "also", "than", "such", "been", "more", "most", "not", "only", "use", "used"]
)


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


@dataclass(frozen=True)
class TopicQuery:
    name: str
    terms: tuple[Term, ...]


def split_list(value: str | Iterable[str]) -> tuple[str, ...]:
    items = re.split(r"[,;\n]", value) if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(i.strip() for i in items if i and i.strip()))


def normalize_name(name: str) -> str:
    """Author names compared without accents, case or punctuation."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", plain.casefold()))


def category_matches(pattern: str, category: str) -> bool:
    return category.startswith(pattern[:-1]) if pattern.endswith("*") else category == pattern
