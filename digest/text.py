"""Words and stems for matching: a light inflectional stemmer and a tokenizer.

The stemmer only folds inflections (plurals, -ed, -ing, a final -e, doubled consonants),
so "pruning", "prune", "pruned" and "prunes" meet, but "optimal", "optimizer" and
"optimization" stay apart: a derivational stemmer such as Porter's folds those together and
a subscriber who asked for optimizers would get every paper that says "optimal"."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters and digits; hyphens, slashes, apostrophes and punctuation separate words.
_WORD = re.compile(r"[^\W_]+")
# A hyphenated (or slashed) compound such as "fine-tuning" or "Text-to-Image".
_COMPOUND = re.compile(r"[^\W_]+(?:[-\u2010\u2011][^\W_]+)+")
_VOWELS = set("aeiouy")
_NO_UNDOUBLE = set("aeious")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Fold one lower-case word to its inflectional stem."""
    w = word
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("ied") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("ches", "shes", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    elif w.endswith("ing") and len(w) >= 6 and _VOWELS & set(w[:-3]):
        w = w[:-3]
    elif w.endswith("ed") and len(w) >= 5 and _VOWELS & set(w[:-2]):
        w = w[:-2]
    if len(w) >= 4 and w.endswith("e") and w[-2] not in _VOWELS:
        w = w[:-1]
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in _NO_UNDOUBLE:
        w = w[:-1]
    return w


def normalize(text: str) -> str:
    # NFKC folds ligatures and full-width forms; casefold handles the German sharp s.
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


def compounds(text: str) -> list[str]:
    """Stems of hyphenated compounds written solid: "fine-tuning" also gives "finetun", so
    that it meets a search for "finetuning"; "Text-to-Image" gives "texttoimag". (A term
    written with a hyphen or a space matches the solid form from the query side.)"""
    return _compounds(normalize(text))


def _compounds(norm: str) -> list[str]:
    if "-" not in norm and "\u2010" not in norm and "\u2011" not in norm:
        return []
    out = []
    # Only the white-space separated tokens holding a hyphen go through the regex.
    for token in norm.split():
        if "-" in token or "\u2010" in token or "\u2011" in token:
            out.extend(stem("".join(_WORD.findall(m))) for m in _COMPOUND.findall(token))
    return out


def analyse(text: str) -> tuple[list[str], list[str]]:
    """(stems in order, stems of hyphenated compounds), normalising the text once."""
    norm = normalize(text)
    return [stem(w) for w in _WORD.findall(norm)], _compounds(norm)



ELLIPSIS = "\u2026"


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut on a word boundary to about `limit` characters and ended with
    one "…" (the one ellipsis style of pages and emails); whole if it fits. A cut never
    leaves a comma or a full stop before the "…"."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    # A word boundary not too far back; else (one very long word) cut inside the word.
    return text[: cut if cut > limit * 0.6 else limit].rstrip(" ,.;:") + ELLIPSIS
