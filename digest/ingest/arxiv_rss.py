"""arXiv RSS 2.0 (rss.arxiv.org since 2024), and other RSS 2.0 feeds read the same way.

Each arXiv item carries its id and version in the guid ("oai:arXiv.org:2411.12345v2"), the
announce type in arxiv:announce_type, and a description of exactly
"arXiv:<id>v<N> Announce Type: <type> \\nAbstract: <text>" (some copies fold the newline).
Titles and abstracts are plain text with raw LaTeX; they are never read as HTML."""

from __future__ import annotations

import re

from .feedtools import (
    arxiv_urls,
    bozo_warning,
    html_to_text,
    parse_feed,
    require_entries_or_channel,
    rfc822_date,
    safe_url,
    split_authors,
    split_id,
    text_of,
)
from .links import code_and_project
from .records import PaperRecord, ParseError, ParseResult, clean_text

FORMAT = "arxiv_rss"
_PREFIX = re.compile(r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>\S+)\s*(?:Abstract:\s*)?", re.S)


def _is_arxiv(parsed) -> bool:
    feed = parsed.feed
    return (
        "arxiv" in (feed.get("title", "") + feed.get("publisher", "") + feed.get("link", "")).lower()
        or any(str(e.get("id", "")).lower().startswith("oai:arxiv.org:") for e in parsed.entries[:5])
    )


def parse(data: bytes, today=None, base_url: str = "") -> ParseResult:
    parsed = parse_feed(data, base_url)
    require_entries_or_channel(parsed, "RSS")
    feed = parsed.feed
    title = clean_text(feed.get("title", ""))
    if title.lower().startswith("feed error for query"):
        # arXiv answers a bad category with a well-formed feed that says so.
        raise ParseError(f"arXiv: {title}: {clean_text(feed.get('description', '')) or 'no details'}")
    result = ParseResult(format=FORMAT, records=[], title=title, date=rfc822_date(feed.get("published", "")))
    warning = bozo_warning(parsed)
    if warning:
        result.warnings.append(warning)
    arxiv = _is_arxiv(parsed)
    for number, entry in enumerate(parsed.entries, start=1):
        record, error = _record(entry, arxiv, base_url)
        if error:
            label = entry.get("id") or entry.get("link") or ""
            result.errors.append(f"item {number}{f' ({label})' if label else ''}: {error}")
        else:
            result.records.append(record)
    return result


def _record(entry, arxiv: bool, base_url: str) -> tuple[PaperRecord | None, str]:
    raw_title = entry.get("title", "")
    if arxiv:
        title = clean_text(raw_title)
    else:
        title = text_of(raw_title, entry.get("title_detail", {}).get("type", "text/plain"))
    if not title:
        return None, "no title; skipped"
    arxiv_id, version = split_id(entry.get("id", ""))
    if not arxiv_id:
        arxiv_id, version = split_id(entry.get("link", ""))
    if arxiv and not arxiv_id:
        return None, f"no arXiv id in guid or link; skipped {title[:60]!r}"

    description = entry.get("summary", "")
    announce_type = clean_text(entry.get("arxiv_announce_type", ""))
    m = _PREFIX.match(description) if arxiv else None
    if m:
        abstract = clean_text(description[m.end():])
        announce_type = announce_type or m.group("type")
        if not version:
            version = split_id(m.group("id"))[1]
    elif arxiv:
        abstract = clean_text(description)
    else:
        abstract = text_of(description, entry.get("summary_detail", {}).get("type", "text/html"))

    record = PaperRecord(title=title, abstract=abstract, arxiv_id=arxiv_id, version=version)
    record.announce_type = announce_type.lower()
    record.announce_date = rfc822_date(entry.get("published", ""))
    record.categories = [clean_text(t.get("term", "")) for t in entry.get("tags", []) if t.get("term")]
    record.primary_category = record.categories[0] if record.categories else ""
    author = entry.get("author", "")
    record.authors = split_authors(author if arxiv else html_to_text(author))
    record.doi = clean_text(entry.get("arxiv_doi", ""))
    record.journal_ref = clean_text(entry.get("arxiv_journal_reference", ""))
    record.rights = clean_text(entry.get("rights", ""))
    if arxiv_id:
        record.abs_url, record.pdf_url = arxiv_urls(arxiv_id)
    else:
        record.abs_url = safe_url(entry.get("link", ""), base_url)
    record.code_url, record.project_url = code_and_project(abstract)
    return record, ""
