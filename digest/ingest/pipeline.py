"""Ingest one input end to end: read or fetch the bytes, parse, store, record on the Source."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from django.utils import timezone

from .formats import parse
from .records import ParseError
from .store import StoreSummary, store

log = logging.getLogger(__name__)


class IngestError(Exception):
    """The input as a whole could not be ingested; the message says why, on one line."""


def ingest_bytes(
    data: bytes,
    *,
    fmt: str = "auto",
    source=None,
    date: dt.date | None = None,
    dry_run: bool = False,
    label: str = "input",
) -> StoreSummary:
    try:
        result = parse(data, fmt=fmt, today=timezone.localdate())
    except ParseError as exc:
        raise IngestError(f"{label}: {exc}") from None
    summary = store(result, source=source, date=date, dry_run=dry_run)
    for message in summary.messages:
        log.warning("%s: %s", label, message)
    log.info("%s (%s): %s", label, result.format, summary.line())
    return summary


def ingest_path(path: str | Path, **kwargs) -> StoreSummary:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror}") from None
    return ingest_bytes(data, label=str(path), **kwargs)
