"""Hugging Face daily papers (huggingface.co/api/daily_papers): a JSON array of items, each
with a "paper" object. Dates come from paper.publishedAt and paper.submittedOnDailyAt: the
top-level publishedAt is 20:00 UTC on the evening before."""

from __future__ import annotations

import json

from .feedtools import arxiv_urls, iso_date, safe_url, split_id
from .links import code_and_project
from .records import PaperRecord, ParseError, ParseResult, clean_text

FORMAT = "hf_daily"


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    return None


def parse(data: bytes, today=None, base_url: str = "") -> ParseResult:
    try:
        items = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise ParseError("expected a JSON array of daily-paper items")
    result = ParseResult(format=FORMAT, records=[])
    for number, item in enumerate(items, start=1):
        record, error = _record(item)
        if error:
            result.errors.append(f"item {number}: {error}")
        else:
            result.records.append(record)
    dates = [r.announce_date for r in result.records if r.announce_date]
    result.date = max(dates) if dates else None
    return result


def _record(item) -> tuple[PaperRecord | None, str]:
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        return None, "not a daily-paper item (no 'paper' object); skipped"
    paper = item["paper"]
    arxiv_id, version = split_id(str(paper.get("id", "")))
    title = clean_text(str(paper.get("title") or item.get("title") or ""))
    if not title:
        return None, f"no title; skipped {paper.get('id', '')!r}"
    if not arxiv_id:
        return None, f"no valid arXiv id ({str(paper.get('id', ''))[:40]!r}); skipped {title[:60]!r}"
    record = PaperRecord(title=title, arxiv_id=arxiv_id, version=version)
    record.abstract = clean_text(str(paper.get("summary") or item.get("summary") or ""))
    record.authors = [
        clean_text(str(a.get("name", ""))) for a in paper.get("authors") or [] if isinstance(a, dict) and a.get("name")
    ]
    record.upvotes = _int(paper.get("upvotes"))
    record.num_comments = _int(item.get("numComments"))
    submitter = item.get("submittedBy") or {}
    daily_by = paper.get("submittedOnDailyBy") or {}
    record.submitter = clean_text(str(submitter.get("name") or daily_by.get("user") or daily_by.get("name") or ""))
    record.stars = _int(paper.get("githubStars"))
    record.code_url = safe_url(str(paper.get("githubRepo") or ""))
    record.project_url = safe_url(str(paper.get("projectPage") or ""))
    keywords = paper.get("ai_keywords") or []
    record.ai_keywords = [clean_text(str(k)) for k in keywords if isinstance(k, str) and k.strip()][:30]
    record.ai_summary = clean_text(str(paper.get("ai_summary") or ""))
    record.published = iso_date(str(paper.get("publishedAt") or ""))
    record.announce_date = iso_date(str(paper.get("submittedOnDailyAt") or "")) or record.published
    record.abs_url, record.pdf_url = arxiv_urls(arxiv_id)
    if not record.code_url or not record.project_url:
        code, project = code_and_project(record.abstract)
        record.code_url = record.code_url or code
        record.project_url = record.project_url or project
    return record, ""
