"""arXiv RSS 1.0 / RDF (export.arxiv.org/rss/<cat> until January 2024), and other RSS 1.0
feeds such as bioRxiv's read the same way.

arXiv puts the version, the primary category and the kind of announcement in the title:
"Title. (arXiv:1805.06430v2 [nucl-th] UPDATED)". Descriptions and authors are escaped HTML:
"<p>abstract</p>" and "<a href=...>Name</a>, <a ...>Name</a> (STAR Collaboration)"."""

from __future__ import annotations

import re

from .feedtools import (
    arxiv_urls,
    bozo_warning,
    html_to_text,
    iso_date,
    parse_feed,
    require_entries_or_channel,
    safe_url,
    split_authors,
    split_id,
    text_of,
)
from .links import code_and_project
from .records import PaperRecord, ParseResult, clean_name, clean_text

FORMAT = "arxiv_rdf"
_TITLE = re.compile(
    r"^(?P<title>.*?)\.?\s*\(arXiv:(?P<id>\S+?)(?:v(?P<v>\d+))?\s*\[(?P<cat>[^\]]+)\]\s*(?P<flag>CROSS LISTED|UPDATED)?\)\s*$",
    re.S,
)
_ANCHOR = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S | re.I)
_FLAG_TYPE = {None: "new", "CROSS LISTED": "cross", "UPDATED": "replace"}


def parse(data: bytes, today=None, base_url: str = "") -> ParseResult:
    parsed = parse_feed(data, base_url)
    require_entries_or_channel(parsed, "RSS 1.0")
    feed = parsed.feed
    result = ParseResult(
        format=FORMAT,
        records=[],
        title=clean_text(feed.get("title", "")),
        date=iso_date(feed.get("updated", "") or feed.get("date", "")),
    )
    warning = bozo_warning(parsed)
    if warning:
        result.warnings.append(warning)
    for number, entry in enumerate(parsed.entries, start=1):
        record, error = _record(entry, base_url)
        if error:
            label = entry.get("id") or entry.get("link") or ""
            result.errors.append(f"item {number}{f' ({label})' if label else ''}: {error}")
        else:
            record.announce_date = record.announce_date or result.date
            result.records.append(record)
    return result


def _authors(value: str) -> list[str]:
    anchors = _ANCHOR.findall(value or "")
    if anchors:
        return [clean_name(_strip(a)) for a in anchors if _strip(a).strip()]
    return split_authors(html_to_text(value or ""))


def _strip(value: str) -> str:
    return re.sub(r"<[^>]+>", "", value)


def _record(entry, base_url: str) -> tuple[PaperRecord | None, str]:
    raw_title = clean_text(entry.get("title", ""))
    m = _TITLE.match(raw_title)
    if m:
        title = clean_text(m.group("title"))
        arxiv_id, version = split_id(m.group("id"))
        version = int(m.group("v")) if m.group("v") else version
        category = clean_text(m.group("cat"))
        announce_type = _FLAG_TYPE[m.group("flag")]
    else:
        title = text_of(raw_title, entry.get("title_detail", {}).get("type", "text/plain"))
        arxiv_id, version = split_id(entry.get("id", "") or entry.get("link", ""))
        category, announce_type = "", ""
    if not title:
        return None, "no title; skipped"
    record = PaperRecord(title=title, arxiv_id=arxiv_id, version=version)
    record.abstract = html_to_text(entry.get("summary", ""))
    record.authors = _authors(entry.get("author", ""))
    record.announce_type = announce_type
    if category:
        record.categories = [category]
        record.primary_category = category
    if arxiv_id:
        record.abs_url, record.pdf_url = arxiv_urls(arxiv_id)
    else:
        record.abs_url = safe_url(entry.get("link", ""), base_url)
    identifier = clean_text(entry.get("dc_identifier", "") or entry.get("prism_doi", ""))
    if identifier.lower().startswith("doi:"):
        record.doi = identifier[4:]
    elif identifier.startswith("10."):
        record.doi = identifier
    record.published = iso_date(entry.get("updated", "") or entry.get("date", ""))
    record.announce_date = record.published
    record.code_url, record.project_url = code_and_project(record.abstract)
    return record, ""
