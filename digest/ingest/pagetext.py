"""The plain text of a "Daily Papers" page: a short header (the subscribe box), a date line
such as "Mar 19", then for each paper a title line and an abstract line, blank lines between.
No ids, no authors: papers are keyed by normalised title until a richer source names them."""

from __future__ import annotations

import datetime as dt
import re

from .links import code_and_project
from .records import PaperRecord, ParseError, ParseResult, clean_text

FORMAT = "page_text"

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_DATE_LINE = re.compile(
    r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:,?\s+(\d{4}))?$",
    re.IGNORECASE,
)
MAX_TITLE_CHARS = 400
MIN_ABSTRACT_CHARS = 40


def parse_date_line(line: str, today: dt.date) -> dt.date | None:
    """"Mar 19" -> the latest 19 March not after `today`; "Mar 19, 2024" -> that day."""
    m = _DATE_LINE.match(line.strip())
    if not m:
        return None
    month = _MONTHS[m.group(1)[:3].lower()]
    day = int(m.group(2))
    try:
        if m.group(3):
            return dt.date(int(m.group(3)), month, day)
        for year in (today.year, today.year - 1, today.year - 2, today.year - 3, today.year - 4):
            # 29 Feb exists only in leap years: look back until one has it.
            try:
                candidate = dt.date(year, month, day)
            except ValueError:
                continue
            if candidate <= today:
                return candidate
    except ValueError:
        return None
    return None


def looks_like(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    if head[:1] in (b"<", b"{", b"["):
        return False
    try:
        text = head.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    return any(_DATE_LINE.match(line.strip()) for line in text.splitlines()[:40])


def parse(data: bytes, today: dt.date | None = None, base_url: str = "") -> ParseResult:
    today = today or dt.date.today()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"the page text is not UTF-8 (byte {exc.start})") from None
    lines = [(n, clean_text(raw)) for n, raw in enumerate(text.splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line]

    result = ParseResult(format=FORMAT, records=[])
    current: dt.date | None = None
    i = 0
    # Everything before the first date line is the page header.
    while i < len(lines) and parse_date_line(lines[i][1], today) is None:
        i += 1
    if i == len(lines):
        raise ParseError('no date line (such as "Mar 19") found: is this a daily-papers page?')
    while i < len(lines):
        lineno, line = lines[i]
        day = parse_date_line(line, today)
        if day is not None:
            current = day
            result.date = result.date or day
            i += 1
            continue
        title = line
        if i + 1 >= len(lines):
            result.errors.append(f"line {lineno}: title {title[:60]!r} has no abstract after it")
            break
        abstract_lineno, abstract = lines[i + 1]
        if parse_date_line(abstract, today) is not None or len(title) > MAX_TITLE_CHARS or len(abstract) < MIN_ABSTRACT_CHARS:
            result.errors.append(
                f"line {lineno}: expected a title line followed by an abstract line; skipped {title[:60]!r}"
            )
            i += 1
            continue
        code, project = code_and_project(abstract)
        result.records.append(
            PaperRecord(
                title=title,
                abstract=abstract,
                code_url=code,
                project_url=project,
                announce_date=current,
            )
        )
        i += 2
    return result
