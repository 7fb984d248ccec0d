"""The "Why:" line of a picked paper, from the engine's explanation data (digest.matching
Reason): the word as the paper writes it, in the title or the abstract, a core match or a
passing mention, a snippet when the word stands outside the part of the abstract shown, and
"because you liked <title>" for picks learned from feedback. One short line: the two
strongest reasons. Markup in templates/emails/_why.html and _why.txt (the web pages use the
HTML one too, through {% why %}); each distinct line is rendered once per process."""

from __future__ import annotations

from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from digest.matching import Reason

SHOWN_REASONS = 2
TITLE_CHARS = 80


def _short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ,.;:") + "…"


def context(reasons: tuple[Reason, ...], snippet: bool) -> dict:
    """Plain data for the templates: what each shown reason says."""
    items = []
    for reason in reasons[:SHOWN_REASONS]:
        typed = ""
        if reason.kind == "keyword" and reason.word and reason.word.casefold() != reason.label.casefold():
            typed = reason.label
        label = _short(reason.label, TITLE_CHARS) if reason.kind in ("like", "learned") else reason.label
        items.append({"kind": reason.kind, "label": label, "word": reason.word or reason.label, "typed": typed,
                      "field": reason.field, "passing": reason.strength == "passing"})
    return {"reasons": items, "snippet": reasons[0].snippet if snippet and reasons else ""}


def needs_snippet(reasons: tuple[Reason, ...], shown: str) -> bool:
    """The first reason's word stands outside what the reader sees of the abstract (`shown`,
    folded): then its snippet goes on the line."""
    if not reasons or not reasons[0].snippet:
        return False
    return not shown or reasons[0].word.casefold() not in shown


# Rendered lines, by what they show: the two strongest reasons' kind, label, word, field and
# strength, and the snippet if it is shown. Not the matched terms, nor the weaker reasons,
# nor the paper: "LLM: “large language models” in abstract (core)" is one line for every
# paper and subscriber it fits. Bounded, so that a worker's memory stays flat.
LINES_KEPT = 50_000
_lines: dict[tuple, str] = {}


def _render(reasons: tuple[Reason, ...], snippet: bool, kind: str) -> str:
    shown = reasons[:SHOWN_REASONS]
    key = (kind, shown[0].snippet if snippet and shown else "",
           *((r.kind, r.label, r.word, r.field, r.strength) for r in shown))
    found = _lines.get(key)
    if found is None:
        rendered = get_template(f"emails/_why.{kind}").render(context(shown, snippet))
        if len(_lines) >= LINES_KEPT:
            _lines.clear()
        found = _lines[key] = " ".join(rendered.split())
    return found


def why_html(reasons: tuple[Reason, ...], shown: str = "") -> SafeString:
    return mark_safe(_render(tuple(reasons), needs_snippet(reasons, shown), "html"))


def why_text(reasons: tuple[Reason, ...], shown: str = "") -> str:
    return _render(tuple(reasons), needs_snippet(reasons, shown), "txt")
