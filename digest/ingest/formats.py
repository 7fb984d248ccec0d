"""Format detection and dispatch: bytes in, ParseResult out. The format is read from the
content (the root element, the JSON shape, a date line), never from a file name."""

from __future__ import annotations

import codecs
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
        prefix, name = (m.group(1) or b"").decode()[:20], m.group(2).decode()[:40]
        if name == "rss":
            return arxiv_rss.FORMAT
        if name == "RDF":
            return arxiv_rdf.FORMAT
        if name == "feed":
            return arxiv_api.FORMAT
        raise ParseError(f"unrecognised XML document <{prefix}{name}>: expected RSS, RDF or Atom")
    if pagetext.looks_like(data):
        return pagetext.FORMAT
    # Never quote the input here: ingest reads local paths, and an error must not print the
    # first line of whatever file it was given.
    raise ParseError(f"unrecognised input format ({len(data):,} bytes): expected RSS, RDF or Atom XML, "
                     "daily-papers JSON or a daily-papers page")


def _unwrap_recorded(data: bytes) -> tuple[bytes, int, str]:
    """A recorded HTTP exchange {"url", "status_code", "body"} (arxiv.py's fixtures)."""
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ParseError("the JSON is nested too deeply to read") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("body"), str):
        raise ParseError("a JSON object that is neither a daily-papers array nor a recorded response")
    status = obj.get("status_code", 200)
    return obj["body"].encode("utf-8"), int(status) if isinstance(status, int) else 200, str(obj.get("url", ""))


# (byte-order mark or the first bytes of "<" / "[" / "{" in that encoding, codec)
_WIDE = [
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
    *((c + b"\x00\x00\x00", "utf-32-le") for c in (b"<", b"[", b"{")),
    *((b"\x00\x00\x00" + c, "utf-32-be") for c in (b"<", b"[", b"{")),
    *((c + b"\x00", "utf-16-le") for c in (b"<", b"[", b"{")),
    *((b"\x00" + c, "utf-16-be") for c in (b"<", b"[", b"{")),
]
_XML_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")


def as_utf8(data: bytes) -> bytes:
    """UTF-16 and UTF-32 input (told by its byte-order mark, or by the zero bytes around the
    first "<", "[" or "{") re-encoded as UTF-8, with the XML declaration saying so. Every
    parser and the format detection then read one encoding."""
    codec = next((codec for start, codec in _WIDE if data.startswith(start)), None)
    if codec is None:
        return data
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise ParseError(f"not valid {codec.upper()} (byte {exc.start})") from None
    return _XML_ENCODING.sub(r"\1\2UTF-8\2", text.lstrip("\ufeff"), count=1).encode("utf-8")


def parse(
    data: bytes,
    fmt: str = "auto",
    today: dt.date | None = None,
    base_url: str = "",
    status: int = 200,
) -> ParseResult:
    data = as_utf8(data)
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
