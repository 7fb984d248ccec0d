"""Frames: the templates every email is filled from (templates/emails/), made fast.

A frame holds variables only, no tags (but {% autoescape off %}): it is rendered once per
process with a marker in place of every variable and split there, so that filling it per
recipient is one %-format (the speed is in benchmarks/README.md, delivery). <name>.mjml is
compiled to HTML by mjml-python first; HTML values are escaped unless they are SafeStrings,
.txt values never. A partial's file (_name) ends with a line break that is not part of it,
as in Jinja. bound() fills some variables once and leaves the others as fields (a digest's
pick: the paper's block bound once, each subscriber's links filled in). subscribers.emails
builds every message from these."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

from django.conf import settings
from django.template import engines
from django.utils.safestring import SafeString, mark_safe
from mjml import mjml2html

TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "emails"
# Lines over 998 bytes force quoted-printable (RFC 5322 line limit); breaking the compiled
# boilerplate after closing tags keeps every line short so bodies go out as plain 8bit.
_BREAK_AFTER = re.compile(r"(</(?:td|tr|table|tbody|div|p|style|head)>|<!\[endif\]-->|<br ?/?>)")
_VARIABLE = re.compile(r"{{(.*?)}}")
_ALLOWED_TAGS = ("{% autoescape off %}", "{% endautoescape %}")


def _wrap_lines(html: str) -> str:
    return _BREAK_AFTER.sub(lambda m: m.group(0) + "\n", html).replace("\n\n", "\n")


@lru_cache(maxsize=None)
def compiled_mjml(name: str):
    """The Django template made from emails/<name>.mjml; compiled once per process."""
    source = (TEMPLATE_DIR / f"{name}.mjml").read_text(encoding="utf-8")
    html = mjml2html(source, disable_comments=True)
    return engines["django"].from_string(_wrap_lines(html))


@lru_cache(maxsize=None)
def frame(filename: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """emails/<filename> as (static pieces, variable names between them). An .mjml file is
    compiled first; .html and .mjml values are escaped when filled, .txt values are not."""
    source = (TEMPLATE_DIR / filename).read_text(encoding="utf-8")
    names = []
    for inside in _VARIABLE.findall(source):
        if not re.fullmatch(r"\s*\w+\s*", inside):
            raise ValueError(f"emails/{filename}: {{{{{inside}}}}}: a frame holds plain variables only")
        names.append(inside.strip())
    tags = source
    for allowed in _ALLOWED_TAGS:
        tags = tags.replace(allowed, "")
    if "{%" in tags:
        raise ValueError(f"emails/{filename} must hold variables only, to be filled fast")
    marks = {n: mark_safe(f"\x00{n}\x00") for n in dict.fromkeys(names)}
    if filename.endswith(".mjml"):
        rendered = compiled_mjml(filename.removesuffix(".mjml")).render(marks)
    else:
        if filename.startswith("_") and source.endswith("\n"):
            source = source[:-1]  # a partial's last line break is the file's, not the partial's
        rendered = engines["django"].from_string(source).render(marks)
    pieces = re.split(r"\x00(\w+)\x00", rendered)
    return tuple(pieces[0::2]), tuple(pieces[1::2])


@lru_cache(maxsize=None)
def _format(filename: str) -> tuple[str, tuple[str, ...], bool]:
    """The frame as one %-format string (filling it is a single C-level operation), its
    variable names in order, and whether values are escaped (not in .txt)."""
    statics, names = frame(filename)
    return "%s".join(s.replace("%", "%%") for s in statics), names, not filename.endswith(".txt")


def fill(filename: str, context: dict) -> str:
    """Fill a frame; in HTML, values are escaped unless they are SafeStrings."""
    fmt, names, escaping = _format(filename)
    if escaping:
        # html.escape(str()) is exactly what django.utils.html.escape does, without its
        # lazy-string wrapper (a frame's values are never lazy).
        return fmt % tuple(value if isinstance(value := context.get(name, ""), SafeString) else html.escape(str(value))
                           for name in names)
    return fmt % tuple(context.get(name, "") for name in names)


class Bound:
    """A frame with some variables filled (bound()): its static pieces and the field names
    between them, as frame() gives them, filled by one join (fill_bound())."""

    __slots__ = ("statics", "names", "_parts", "_values")

    def __init__(self, statics: tuple[str, ...], names: tuple[str, ...]):
        self.statics, self.names = statics, names
        # The join's list with the static pieces in place and a hole before each but the
        # first, and the fields' values in order from a dict in one C call: filling is then
        # a copy, a slice assignment and the join, with no Python loop per field.
        self._parts: list = [None] * (2 * len(names) + 1)
        self._parts[0::2] = statics
        self._values = itemgetter(*names) if len(names) > 1 else (lambda values: tuple(values[n] for n in names))

    def fill(self, values: dict[str, str]) -> str:
        parts = self._parts.copy()
        parts[1::2] = self._values(values)
        return "".join(parts)


def bound(filename: str, fixed: dict, fields: dict[str, str] | None = None) -> Bound:
    """The frame with some variables filled once (`fixed`, escaped as fill() does) and the
    others left as fields (static pieces, field names between them, like frame()): a piece
    filled for many recipients around the same large part (the digest's pick: a paper's
    block, then each subscriber's links and why) is then a join (fill_bound()). `fields` maps
    markers inside fixed values (the paper's link slots) to further field names."""
    statics, names = frame(filename)
    escaping = not filename.endswith(".txt")
    markers = re.compile("(" + "|".join(map(re.escape, fields)) + ")") if fields else None
    pieces, between = [statics[0]], []
    for name, static in zip(names, statics[1:]):
        if name in fixed:
            value = fixed[name]
            if escaping and not isinstance(value, SafeString):
                value = html.escape(str(value))
            split = markers.split(str(value)) if markers else [str(value)]
            pieces[-1] += split[0]
            for marker, text in zip(split[1::2], split[2::2]):
                between.append(fields[marker])
                pieces.append(text)
        else:
            between.append(name)
            pieces.append("")
        pieces[-1] += static
    return Bound(tuple(pieces), tuple(between))


def fill_bound(piece: Bound, values: dict[str, str]) -> str:
    """Fill a bound() piece with strings already safe for it (as fill_safe() takes them):
    a join, where a %-format would read the paper's whole block again for every pick."""
    return piece.fill(values)


def fill_safe(filename: str, context: dict) -> str:
    """fill() for a context whose every value is already safe for the frame (SafeStrings
    in HTML): no check per value. A digest fills four such partials per paper."""
    fmt, names, _ = _format(filename)
    return fmt % tuple(map(context.__getitem__, names))
