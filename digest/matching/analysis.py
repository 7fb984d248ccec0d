"""How a term meets a paper's words: acronyms and their expansions, and multi-word terms
that match within a small window in any order.

A term is turned into slots, one per content word; a slot is satisfied by any of its
forms. "LLM agents" becomes [{llm, large language model}, {agent}], so it meets "LLM agents",
"agents built on large language models" and "large language models acting as agents" (the
last two within the window, in another order: they count WINDOW_CREDIT, a contiguous match
in order counts 1).

Acronyms come from a short curated list plus the ones the stored corpus defines itself:
abstracts write "graph neural networks (GNNs)", and CorpusStats keeps each acronym whose
definitions agree (see learn_acronyms). A term also meets the acronyms of the longer names
it ends ("language model" meets LLM and VLM, "neural network" meets GNN): a large language
model is a language model, so "-language model" drops a paper that only says "LLM". An
acronym found for a term counts only where the paper writes it in capitals ("IS" may be
importance sampling; "is" never is); what the subscriber typed counts however written."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache

from ..text import stem, stems
from .terms import STOPWORDS

CURATED = {
    "LLM": "large language model", "LM": "language model", "MLLM": "multimodal large language model",
    "VLM": "vision language model", "LVLM": "large vision language model", "MoE": "mixture of experts",
    "GNN": "graph neural network", "RL": "reinforcement learning",
    "RLHF": "reinforcement learning from human feedback", "DPO": "direct preference optimization",
    "GRPO": "group relative policy optimization", "PPO": "proximal policy optimization",
    "KV": "key value", "LoRA": "low rank adaptation", "PEFT": "parameter efficient fine tuning",
    "NAS": "neural architecture search", "RAG": "retrieval augmented generation", "CoT": "chain of thought",
    "ASR": "automatic speech recognition", "TTS": "text to speech", "NeRF": "neural radiance field",
    "ViT": "vision transformer", "QEC": "quantum error correction", "OOD": "out of distribution",
    "SSM": "state space model", "VQA": "visual question answering", "GAN": "generative adversarial network",
    "CNN": "convolutional neural network", "NLP": "natural language processing",
    "AGN": "active galactic nucleus", "MRI": "magnetic resonance imaging", "T2I": "text to image",
}
# A slot form is a tuple of stems; a slot is the set of forms that satisfy one word.
Form = tuple[str, ...]
Acronyms = Mapping[str, tuple[Form, ...]]  # acronym stem -> expansions (stems)
# An acronym form marked with CASED counts only where the paper writes it with at least two
# capitals ("LLMs", "MoE", "IV"); stems never hold this character.
CASED = "^"
WINDOW_EXTRA = 4  # words a window match may hold besides the term's own
WINDOW_CREDIT = 0.6


def _curated() -> dict[str, tuple[Form, ...]]:
    return {stem(short.lower()): (tuple(stems(long)),) for short, long in CURATED.items()}


CURATED_STEMS = _curated()

_DEFINITION = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9\-]{1,11})\s*\)")
_WORDS_BEFORE = re.compile(r"[^\W_]+(?:[-\u2010\u2011][^\W_]+)*")


def _long_form(short: str, before: str) -> str | None:
    """Schwartz & Hearst's rule: the acronym's letters found, right to left, in the words
    before it, the first letter starting a word; None if they are not there."""
    letters = [c.lower() for c in short if c.isalnum()]
    text = before.lower()
    s, i = len(letters) - 1, len(text) - 1
    while s >= 0:
        c = letters[s]
        while i >= 0 and (text[i] != c or (s == 0 and i > 0 and text[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    return before[i + 1:]


def definitions(text: str, only: Collection[str] | None = None) -> Iterable[tuple[str, Form]]:
    """(acronym stem, expansion stems) for each "long form (ACRONYM)" in `text` (only for
    the acronym stems in `only`, if given)."""
    for m in _DEFINITION.finditer(text):
        short = m.group(1)
        core = short[:-1] if short.endswith("s") and short[:-1].isupper() else short
        if sum(1 for c in core if c.isupper()) < 2 or not core[0].isalpha():
            continue
        if only is not None and stem(core.lower()) not in only:
            continue
        words = _WORDS_BEFORE.findall(text[max(0, m.start() - 120):m.start()])
        words = words[-min(len(core) + 5, len(core) * 2):]
        long = _long_form(core, " ".join(words))
        if not long:
            continue
        form = tuple(stems(long))
        if 2 <= len(form) <= len(core) + 3:
            yield stem(core.lower()), form


# Roman numerals number things everywhere ("Phase III", "BCI Competition IV"): never an
# acronym of the corpus, whatever one abstract defines.
_ROMAN = re.compile(r"x{0,3}(?:ix|iv|v?i{0,3})")


def learn_acronyms(texts: Iterable[str]) -> dict[str, tuple[Form, ...]]:
    """Acronyms the corpus defines, each with its most frequent expansion, kept when at
    least two thirds of its definitions agree (so "SR" that is super-resolution in one
    abstract and symbolic regression in another is left alone). A two-letter acronym
    names many things, so it needs two agreeing definitions; Roman numerals are never
    learned. The curated list wins."""
    seen: dict[str, Counter] = defaultdict(Counter)
    for text in texts:
        for short, form in definitions(text):
            seen[short][form] += 1
    learned = {}
    for short, forms in seen.items():
        form, count = forms.most_common(1)[0]
        if short in CURATED_STEMS or _ROMAN.fullmatch(short) or (len(short) <= 2 and count < 2):
            continue
        if count * 3 >= 2 * sum(forms.values()):
            learned[short] = (form,)
    return {**learned, **CURATED_STEMS}


Expansions = dict[Form, tuple[str, ...]]


def expansions_of(acronyms: Acronyms) -> Expansions:
    """Each expansion, and each ending of two or more words of one that starts with a
    content word, mapped to the acronyms it names: ("languag", "model") -> (lm, llm,
    mllm, vlm, ...), since a large language model is a language model."""
    found: dict[Form, set[str]] = defaultdict(set)
    for short, forms in acronyms.items():
        for form in forms:
            for start in range(len(form) - 1):
                if start == 0 or form[start] not in STOPWORDS:
                    found[tuple(form[start:])].add(short)
    return {form: tuple(sorted(shorts)) for form, shorts in found.items()}


def slots(alternative: Form, acronyms: Acronyms, expansions: Expansions | None = None) -> tuple[tuple[Form, ...], ...]:
    """The slots of one term alternative: its content words, with an acronym's expansion
    (or the acronyms of an expansion or of a longer name it ends) as other forms of the
    same slot."""
    if expansions is None:
        expansions = expansions_of(acronyms)
    out: list[tuple[Form, ...]] = []
    i = 0
    words = alternative
    while i < len(words):
        for form, shorts in _longest_expansion_at(words, i, expansions):
            out.append((form, *((CASED + short,) for short in shorts)))
            i += len(form)
            break
        else:
            word = words[i]
            i += 1
            if word in STOPWORDS and len(words) > 1:
                continue
            out.append(((word,), *acronyms.get(word, ())))
    return tuple(out)


def _longest_expansion_at(words: Form, i: int, expansions: Expansions):
    for n in range(min(6, len(words) - i), 1, -1):
        form = tuple(words[i:i + n])
        if form in expansions:
            yield form, expansions[form]
            return


def occurrences(seq: tuple[str, ...], first, slot: tuple[Form, ...]) -> list[tuple[int, int]]:
    """(start, end) of every place in `seq` where a form of `slot` stands. `first(stem)`
    gives the positions of a stem in `seq`."""
    found = []
    for form in slot:
        for start in first(form[0]):
            if len(form) == 1 or seq[start:start + len(form)] == form:
                found.append((start, start + len(form)))
    return found


def credit(seq: tuple[str, ...], first, term_slots: tuple[tuple[Form, ...], ...],
           counts: Mapping[str, int] | None = None) -> tuple[float, tuple[int, int]]:
    """(term frequency in this text, (start, end) tokens of the first match or (-1, -1)). A single slot counts each
    occurrence 1. Several slots: each occurrence of the rarest slot with all the others
    near it counts 1 if they stand in order next to each other (stop words between are
    allowed), WINDOW_CREDIT if they are within the window in another order or farther."""
    if len(term_slots) == 1 and all(len(form) == 1 for form in term_slots[0]):
        # The common case, one word (or an acronym and one-word forms): a count.
        if counts is not None:
            return float(sum(len(first(form[0])) if form[0][:1] == CASED else counts.get(form[0], 0)
                             for form in term_slots[0])), (-1, -1)
        places = [first(form[0]) for form in term_slots[0]]
        count = sum(len(p) for p in places)
        if not count:
            return 0.0, (-1, -1)
        at = min(p[0] for p in places if p)
        return float(count), (at, at + 1)
    places = [occurrences(seq, first, slot) for slot in term_slots]
    if not all(places):
        return 0.0, (-1, -1)
    if len(places) == 1:
        return float(len(places[0])), min(places[0])
    size = sum(min(len(f) for f in slot) for slot in term_slots)
    window = size + WINDOW_EXTRA
    anchor_index = min(range(len(places)), key=lambda k: len(places[k]))
    total, first_at = 0.0, (-1, -1)
    for a_start, a_end in places[anchor_index]:
        best = 0.0
        chosen = []
        for k, spans in enumerate(places):
            if k == anchor_index:
                chosen.append((a_start, a_end))
                continue
            near = [sp for sp in spans if abs(sp[0] - a_start) <= window]
            if not near:
                break
            chosen.append(min(near, key=lambda sp: abs(sp[0] - a_start)))
        else:
            lo, hi = min(s for s, _ in chosen), max(e for _, e in chosen)
            if hi - lo <= window:
                in_order = all(chosen[k][1] <= chosen[k + 1][0] for k in range(len(chosen) - 1))
                gaps = all(all(w in STOPWORDS for w in seq[chosen[k][1]:chosen[k + 1][0]])
                           for k in range(len(chosen) - 1)) if in_order else False
                best = 1.0 if gaps else WINDOW_CREDIT
                if first_at[0] < 0 or lo < first_at[0]:
                    first_at = (lo, hi)
        total += best
    return total, first_at


def positions_in(seq: tuple[str, ...], counts: Mapping[str, int], written=None):
    """A function giving the positions of a stem in `seq` (`counts`: how often each stem
    stands there), memoised. A CASED stem is found only where `written(stem)` says the
    text writes it as an acronym."""
    memo: dict[str, list[int]] = {}

    def positions(stem: str) -> list[int]:
        found = memo.get(stem)
        if found is None:
            plain = stem[1:] if stem[:1] == CASED else stem
            n = counts.get(plain, 0)
            if n and plain is not stem and (written is None or not written(plain)):
                n = 0
            found = memo[stem] = ([] if not n else [seq.index(plain)] if n == 1 else
                                  [i for i, s in enumerate(seq) if s == plain])
        return found

    return positions


def writes_acronym(text: str, short: str, acronyms: Acronyms) -> bool:
    """Whether `text` writes the acronym `short` (a stem) with two capitals or more
    ("LLMs", "MoE", "IV") and does not define it as something else: a paper that writes
    "attack success rate (ASR)" does not mean speech recognition by ASR."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    for m in _written_as(short).finditer(text):
        word = m.group()
        if sum(1 for c in word if c.isupper()) >= 2 and stem(word.casefold()) == short:
            break
    else:
        return False
    return "(" not in text or all(form in acronyms.get(short, (form,)) for _, form in definitions(text, (short,)))


@lru_cache(maxsize=4096)
def _written_as(short: str) -> re.Pattern:
    return re.compile(r"(?i)\b" + re.escape(short) + r"[^\W_]*")
