"""Format detection and dispatch: bytes in, ParseResult out."""

from __future__ import annotations

import datetime as dt

from . import pagetext
from .records import ParseError, ParseResult

PARSERS = {
    pagetext.FORMAT: pagetext,
}


def detect(data: bytes) -> str:
    for name, module in PARSERS.items():
        if module.looks_like(data):
            return name
    head = data[:200].decode("utf-8", errors="replace").strip()
    raise ParseError(f"unrecognised input format (starts with {head[:60]!r})")


def parse(data: bytes, fmt: str = "auto", today: dt.date | None = None) -> ParseResult:
    if not data.strip():
        raise ParseError("the input is empty")
    name = detect(data) if fmt in ("", "auto") else fmt
    try:
        module = PARSERS[name]
    except KeyError:
        raise ParseError(f"unknown format {name!r}; known: {', '.join(PARSERS)}") from None
    return module.parse(data, today=today)
