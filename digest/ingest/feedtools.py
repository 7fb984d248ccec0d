"""Helpers shared by the feed parsers (arXiv RSS 2.0, RSS 1.0 and API Atom).

feedparser is always given the bytes in a file object: given a str or bytes it would treat
them as a URL or a file name and open it. Sanitising and relative-URI resolution inside
content are off, because feedparser treats an RSS description as HTML and would turn arXiv's
raw LaTeX ("$\\frac{1}{3}<s<1$") into markup; we keep text as text and turn the feeds that
do carry HTML into text with nh3 ourselves."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3

from .records import ParseError, clean_name, clean_text

# Old ("hep-ex/0601001", "math.CO/0101001") and new ("2411.12345", "0704.0001") arXiv ids.
ARXIV_ID = r"(?:[a-z-]+(?:\.[A-Za-z-]+)?/\d{7}|\d{4}\.\d{4,5})"
_ID_VERSION = re.compile(rf"(?P<id>{ARXIV_ID})(?:v(?P<v>\d+))?$")
_ABS_LINK = re.compile(rf"arxiv\.org/(?:abs|pdf)/(?P<id>{ARXIV_ID})(?:v(?P<v>\d+))?", re.I)
_TAG = re.compile(r"<[^>]+>")


def parse_feed(data: bytes, base_url: str = ""):
    # With any header given, feedparser also wants a content type; application/xml makes it
    # take the encoding from the XML declaration, as for bytes read from a file.
    headers = {"content-location": base_url, "content-type": "application/xml"} if base_url else {}
    return feedparser.parse(
        io.BytesIO(data),
        sanitize_html=False,
        resolve_relative_uris=False,
        response_headers=headers,
    )


def split_id(value: str) -> tuple[str, int | None]:
    """"oai:arXiv.org:2411.12345v2" or "http://arxiv.org/abs/astro-ph/0601001v1" -> id, version."""
    value = (value or "").strip()
    m = _ABS_LINK.search(value)
    if m:
        return m.group("id"), int(m.group("v")) if m.group("v") else None
    tail = value.split(":")[-1] if value.lower().startswith("oai:arxiv.org:") else value
    m = _ID_VERSION.match(tail)
    if m:
        return m.group("id"), int(m.group("v")) if m.group("v") else None
    return "", None


def html_to_text(value: str) -> str:
    """Markup from a feed, as plain text: nh3 drops every tag (and the content of script
    and style elements), then entities are decoded once."""
    if "<" not in value and "&" not in value:
        return clean_text(value)
    return clean_text(html.unescape(nh3.clean(value, tags=set())))


def text_of(detail_value: str, detail_type: str) -> str:
    if detail_type in ("text/html", "application/xhtml+xml"):
        return html_to_text(detail_value)
    return clean_text(detail_value)


def safe_url(url: str, base: str = "") -> str:
    """Only absolute http(s) URLs survive; a relative one is resolved against `base`."""
    url = (url or "").strip()
    if not url:
        return ""
    if base and not urlsplit(url).scheme:
        url = urljoin(base, url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return url


def https_arxiv(url: str) -> str:
    return re.sub(r"^http://(export\.)?arxiv\.org/", "https://arxiv.org/", url)


def arxiv_urls(arxiv_id: str) -> tuple[str, str]:
    return f"https://arxiv.org/abs/{arxiv_id}", f"https://arxiv.org/pdf/{arxiv_id}"


def rfc822_date(value: str) -> dt.date | None:
    """The calendar date as the feed itself wrote it (arXiv dates are US Eastern)."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError):
        return None


def iso_date(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None


def split_authors(value: str) -> list[str]:
    """Split arXiv's one-string author list on commas, but not inside parentheses:
    "Tianliang Yan (University of Birmingham, School of Physics), Ann Lee" is two names."""
    value = value or ""
    names = value.split(",") if "(" not in value and "[" not in value else _split_outside_brackets(value)
    out: list[str] = []
    for name in names:
        name = clean_name(name)
        if name.lower().startswith("and "):
            name = name[4:]
        if not name:
            continue
        # bioRxiv writes "Surname, I., Surname, I. J.": join initials to their surname.
        if _INITIALS.match(name) and out and not _INITIALS.match(out[-1]) and " " not in out[-1]:
            out[-1] = f"{name} {out[-1]}"
            continue
        out.append(name)
    return out


def _split_outside_brackets(value: str) -> list[str]:
    names, depth, current = [], 0, []
    for ch in value:
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
        if ch == "," and depth == 0:
            names.append("".join(current))
            current = []
        else:
            current.append(ch)
    names.append("".join(current))
    return names


_INITIALS = re.compile(r"^(?:[A-Z][a-z]?\.\s*-?\s*)+$")


def bozo_warning(parsed) -> str:
    if not parsed.get("bozo"):
        return ""
    exc = parsed.get("bozo_exception")
    what = getattr(exc, "getMessage", lambda: str(exc))()
    line = getattr(exc, "getLineNumber", lambda: None)()
    where = f" (line {line})" if line else ""
    return f"the feed is not well-formed XML: {what}{where}; read it leniently"


def require_entries_or_channel(parsed, fmt: str) -> None:
    """A document that yielded nothing at all is an error; an empty channel is not."""
    if parsed.get("bozo") and not parsed.entries and not parsed.feed:
        raise ParseError(f"not a readable {fmt} document: {bozo_warning(parsed)}")
