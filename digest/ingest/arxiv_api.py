"""arXiv API Atom responses (export.arxiv.org/api/query), legacy (2016) and current (2026).

Entry ids carry the version ("http://arxiv.org/abs/astro-ph/0601001v1"); titles and
summaries are hard-wrapped; authors may carry arxiv:affiliation. A bad query answers HTTP
400 with a feed holding one entry titled "Error": that is an error, not a paper."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .feedtools import (
    arxiv_urls,
    bozo_warning,
    https_arxiv,
    iso_date,
    parse_feed,
    require_entries_or_channel,
    safe_url,
    split_id,
)
from .links import code_and_project
from .records import PaperRecord, ParseError, ParseResult, clean_name, clean_text

FORMAT = "arxiv_api"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"


def is_error_entry(entry) -> bool:
    return "/api/errors" in entry.get("id", "") or (
        entry.get("title", "").strip() == "Error" and "arxiv api" in entry.get("author", "").lower()
    )


def parse(data: bytes, today=None, base_url: str = "") -> ParseResult:
    parsed = parse_feed(data, base_url)
    require_entries_or_channel(parsed, "Atom")
    for entry in parsed.entries:
        if is_error_entry(entry):
            raise ParseError(f"arXiv API error: {clean_text(entry.get('summary', '')) or entry.get('id')}")
    result = ParseResult(format=FORMAT, records=[], title=clean_text(parsed.feed.get("title", "")))
    warning = bozo_warning(parsed)
    if warning:
        result.warnings.append(warning)
    affiliations = _affiliations(data) if b"affiliation" in data else {}
    for number, entry in enumerate(parsed.entries, start=1):
        record, error = _record(entry, affiliations, base_url)
        if error:
            result.errors.append(f"entry {number} ({entry.get('id', 'no id')}): {error}")
        else:
            result.records.append(record)
    return result


def _affiliations(data: bytes) -> dict[str, dict[str, list[str]]]:
    """entry id -> author -> affiliations. feedparser keeps only the last affiliation of an
    entry, so they are read here from the (already well-formed) document."""
    out: dict[str, dict[str, list[str]]] = {}
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return out
    for entry in root.iter(f"{ATOM}entry"):
        entry_id = (entry.findtext(f"{ATOM}id") or "").strip()
        for author in entry.findall(f"{ATOM}author"):
            name = clean_name(author.findtext(f"{ATOM}name") or "")
            affs = [clean_text(a.text or "") for a in author.findall(f"{ARXIV}affiliation") if (a.text or "").strip()]
            if name and affs:
                out.setdefault(entry_id, {})[name] = affs
    return out


def _record(entry, affiliations, base_url: str) -> tuple[PaperRecord | None, str]:
    title = clean_text(entry.get("title", ""))
    if not title:
        return None, "no title; skipped"
    arxiv_id, version = split_id(entry.get("id", ""))
    if not arxiv_id:
        return None, f"no arXiv id; skipped {title[:60]!r}"
    record = PaperRecord(title=title, arxiv_id=arxiv_id, version=version)
    record.abstract = clean_text(entry.get("summary", ""))
    record.authors = [clean_name(a.get("name", "")) for a in entry.get("authors", []) if a.get("name")]
    record.affiliations = affiliations.get(entry.get("id", "").strip(), {})
    record.categories = [t["term"] for t in entry.get("tags", []) if t.get("term")]
    primary = entry.get("arxiv_primary_category", {})
    record.primary_category = primary.get("term", "") if isinstance(primary, dict) else ""
    if not record.primary_category and record.categories:
        record.primary_category = record.categories[0]
    record.abs_url, record.pdf_url = arxiv_urls(arxiv_id)
    for link in entry.get("links", []):
        if link.get("title") == "pdf":
            record.pdf_url = https_arxiv(safe_url(link.get("href", ""))) or record.pdf_url
    record.doi = clean_text(entry.get("arxiv_doi", ""))
    record.journal_ref = clean_text(entry.get("arxiv_journal_ref", ""))
    record.comment = clean_text(entry.get("arxiv_comment", ""))
    record.published = iso_date(entry.get("published", ""))
    # The API has no announce date; the first version's date is the nearest thing.
    record.announce_date = record.published
    record.code_url, record.project_url = code_and_project(record.abstract + " " + record.comment)
    return record, ""
