"""Format detection and dispatch: bytes in, ParseResult out. The format is read from the
content (the root element, the JSON shape, a date line), never from a file name."""

from __future__ import annotations

import datetime as dt
import json
import re

from . import arxiv_api, arxiv_rdf, arxiv_rss, hf_daily, pagetext
from .records import ParseError, ParseResult

PARSERS = {
    arxiv_rss.FORMAT: arxiv_rss,
    arxiv_rdf.FORMAT: arxiv_rdf,
    arxiv_api.FORMAT: arxiv_api,
    hf_daily.FORMAT: hf_daily,
    pagetext.FORMAT: pagetext,
}
RECORDED = "recorded_http"
# The first element after any XML declaration, comments, processing instructions, DOCTYPE.
_ROOT = re.compile(rb"<(?![?!])([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_BOM = b"\xef\xbb\xbf"


def _strip_prolog(head: bytes) -> bytes:
    head = re.sub(rb"<!--.*?-->", b"", head, flags=re.S)
    head = re.sub(rb"<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", b"", head, flags=re.S | re.I)
    return head


def detect(data: bytes) -> str:
    head = data[:65536].lstrip(_BOM).lstrip()
    if head[:1] in (b"{", b"["):
        return RECORDED if head[:1] == b"{" else hf_daily.FORMAT
    if head[:1] == b"<":
        m = _ROOT.search(_strip_prolog(head))
        if not m:
            raise ParseError("an XML document with no root element (empty document?)")
        prefix, name = (m.group(1) or b"").decode(), m.group(2).decode()
        if name == "rss":
            return arxiv_rss.FORMAT
        if name == "RDF":
            return arxiv_rdf.FORMAT
        if name == "feed":
            return arxiv_api.FORMAT
        raise ParseError(f"unrecognised XML document <{prefix}{name}>: expected RSS, RDF or Atom")
    if pagetext.looks_like(data):
        return pagetext.FORMAT
    preview = data[:60].decode("utf-8", errors="replace")
    raise ParseError(f"unrecognised input format (starts with {preview!r})")


def _unwrap_recorded(data: bytes) -> tuple[bytes, int, str]:
    """A recorded HTTP exchange {"url", "status_code", "body"} (arxiv.py's fixtures)."""
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("body"), str):
        raise ParseError("a JSON object that is neither a daily-papers array nor a recorded response")
    status = obj.get("status_code", 200)
    return obj["body"].encode("utf-8"), int(status) if isinstance(status, int) else 200, str(obj.get("url", ""))


def parse(
    data: bytes,
    fmt: str = "auto",
    today: dt.date | None = None,
    base_url: str = "",
    status: int = 200,
) -> ParseResult:
    if not data.strip():
        raise ParseError("the input is empty")
    name = detect(data) if fmt in ("", "auto") else fmt
    if name == RECORDED:
        data, status, url = _unwrap_recorded(data)
        return parse(data, "auto", today=today, base_url=base_url or url, status=status)
    try:
        module = PARSERS[name]
    except KeyError:
        raise ParseError(f"unknown format {name!r}; known: {', '.join(PARSERS)}") from None
    if status >= 400:
        # An error body may still say why (arXiv's API answers 400 with an Atom "Error").
        try:
            module.parse(data, today=today, base_url=base_url)
        except ParseError:
            raise
        except Exception:
            pass
        raise ParseError(f"HTTP {status}")
    return module.parse(data, today=today, base_url=base_url)
