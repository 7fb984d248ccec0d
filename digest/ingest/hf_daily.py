"""Hugging Face daily papers (huggingface.co/api/daily_papers): a JSON array of items, each
with a "paper" object. Dates come from paper.publishedAt and paper.submittedOnDailyAt: the
top-level publishedAt is 20:00 UTC on the evening before."""

from __future__ import annotations

import json

from .feedtools import arxiv_urls, iso_date, safe_url, split_id
from .links import code_and_project
from .records import PaperRecord, ParseError, ParseResult, clean_name, clean_text

FORMAT = "hf_daily"


# Counts are stored in PostgreSQL integer columns: anything larger is not a real count.
MAX_COUNT = 2_147_483_647


class BadItem(ValueError):
    """One item has a field of the wrong type; the message names the field."""


def _typed(obj: dict, name: str, kinds: tuple, what: str):
    """obj[name] if it is missing, null or of one of `kinds`; else BadItem naming the field."""
    value = obj.get(name)
    if value is None or (isinstance(value, kinds) and not isinstance(value, bool)):
        return value
    raise BadItem(f"{name}: expected {what}, got {_kind(value)}")


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _count(obj: dict, name: str) -> int | None:
    value = _typed(obj, name, (int,), "a whole number")
    if value is not None and not 0 <= value <= MAX_COUNT:
        raise BadItem(f"{name}: {value:.3g} is out of range")
    return value


def parse(data: bytes, today=None, base_url: str = "") -> ParseResult:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    except RecursionError:
        # One item nested too deeply for the decoder: decode the items one by one instead,
        # so only that item is lost.
        items = list(_items_one_by_one(text))
    if not isinstance(items, list):
        raise ParseError("expected a JSON array of daily-paper items")
    result = ParseResult(format=FORMAT, records=[])
    for number, item in enumerate(items, start=1):
        if isinstance(item, _Undecodable):
            record, error = None, item.reason
        else:
            try:
                record, error = _record(item)
            except BadItem as exc:
                record, error = None, f"{exc}; skipped"
        if error:
            result.errors.append(f"item {number}: {error}")
        else:
            result.records.append(record)
    dates = [r.announce_date for r in result.records if r.announce_date]
    result.date = max(dates) if dates else None
    return result


class _Undecodable:
    def __init__(self, reason: str):
        self.reason = reason


def _items_one_by_one(text: str):
    """The elements of a top-level JSON array, each decoded on its own; an element the decoder
    cannot take (nested too deeply) comes out as _Undecodable. The array is split by a scan
    that counts brackets outside strings, without recursion."""
    start = text.find("[")
    if start < 0 or text[:start].strip():
        raise ParseError("the JSON is nested too deeply to read")
    depth, in_string, escaped, item_start = 0, False, False, start + 1
    for i in range(start + 1, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}" and depth:
            depth -= 1
        elif ch in ",]" and depth == 0:
            chunk = text[item_start:i]
            if chunk.strip():
                yield _decode_one(chunk)
            item_start = i + 1
            if ch == "]":
                if text[i + 1:].strip():
                    raise ParseError("not valid JSON: extra data after the array")
                return
    raise ParseError("the JSON is nested too deeply to read")


def _decode_one(chunk: str):
    try:
        return json.loads(chunk)
    except RecursionError:
        return _Undecodable("nested too deeply; skipped")
    except json.JSONDecodeError as exc:
        return _Undecodable(f"not valid JSON ({exc.msg}); skipped")


def _record(item) -> tuple[PaperRecord | None, str]:
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        return None, "not a daily-paper item (no 'paper' object); skipped"
    paper = item["paper"]
    raw_id = _typed(paper, "id", (str,), "a string") or ""
    arxiv_id, version = split_id(raw_id)
    title = clean_text(_typed(paper, "title", (str,), "a string") or _typed(item, "title", (str,), "a string") or "")
    if not title:
        return None, f"no title; skipped {raw_id[:40]!r}"
    if not arxiv_id:
        return None, f"no valid arXiv id ({raw_id[:40]!r}); skipped {title[:60]!r}"
    record = PaperRecord(title=title, arxiv_id=arxiv_id, version=version)
    record.abstract = clean_text(
        _typed(paper, "summary", (str,), "a string") or _typed(item, "summary", (str,), "a string") or "")
    record.authors = []
    for author in _typed(paper, "authors", (list,), "a list") or []:
        name = author.get("name") if isinstance(author, dict) else author
        if name is not None and not isinstance(name, str):
            raise BadItem(f"authors: expected names as strings, got {_kind(name)}")
        if name and clean_name(name):
            record.authors.append(clean_name(name))
    record.upvotes = _count(paper, "upvotes")
    record.num_comments = _count(item, "numComments")
    record.stars = _count(paper, "githubStars")
    submitter = _typed(item, "submittedBy", (dict,), "an object") or {}
    daily_by = _typed(paper, "submittedOnDailyBy", (dict,), "an object") or {}
    names = [_typed(submitter, "name", (str,), "a string"), _typed(daily_by, "user", (str,), "a string"),
             _typed(daily_by, "name", (str,), "a string")]
    record.submitter = clean_text(next((n for n in names if n), ""))[:200]
    record.code_url = safe_url(_typed(paper, "githubRepo", (str,), "a string") or "")
    record.project_url = safe_url(_typed(paper, "projectPage", (str,), "a string") or "")
    thumbnail = safe_url(_typed(item, "thumbnail", (str,), "a string") or "")
    record.thumbnail = thumbnail if len(thumbnail) <= 500 else ""  # the column's width
    keywords = _typed(paper, "ai_keywords", (list,), "a list") or []
    record.ai_keywords = [clean_text(k) for k in keywords if isinstance(k, str) and k.strip()][:30]
    record.ai_summary = clean_text(_typed(paper, "ai_summary", (str,), "a string") or "")
    record.published = iso_date(_typed(paper, "publishedAt", (str,), "a string") or "")
    record.announce_date = iso_date(_typed(paper, "submittedOnDailyAt", (str,), "a string") or "") or record.published
    record.abs_url, record.pdf_url = arxiv_urls(arxiv_id)
    if not record.code_url or not record.project_url:
        code, project = code_and_project(record.abstract)
        record.code_url = record.code_url or code
        record.project_url = record.project_url or project
    return record, ""
