"""Ingest one input end to end: read or fetch the bytes, parse, store, and record the
outcome on the Source. Fetching and parsing are separate from storing, and each store is
one transaction."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from ..models import Source
from .fetch import FetchError, fetch
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
    base_url: str = "",
    status: int = 200,
    progress=None,
) -> StoreSummary:
    try:
        result = parse(data, fmt=fmt, today=timezone.localdate(), base_url=base_url, status=status)
    except ParseError as exc:
        raise IngestError(f"{label}: {exc}") from None
    summary = store(result, source=source, date=date, dry_run=dry_run, progress=progress)
    for message in summary.messages:
        log.warning("%s: %s", label, message)
    log.info("%s (%s): %s", label, result.format, summary.line())
    return summary


def read_capped(path: Path, limit: int) -> bytes:
    """A local file's bytes, at most `limit` of them: the same cap as an HTTP body, so that
    /dev/zero, a FIFO or a huge file cannot fill the memory."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise IngestError(f"{path}: refused: the file is larger than {limit // 1_000_000} MB (INGEST_MAX_BYTES)")
    return data


def ingest_path(path: str | Path, **kwargs) -> StoreSummary:
    path = Path(path)
    try:
        data = read_capped(path, settings.INGEST_MAX_BYTES)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return ingest_bytes(data, label=str(path), **kwargs)


def ingest_url(url: str, **kwargs) -> StoreSummary:
    try:
        fetched = fetch(url)
    except FetchError as exc:
        raise IngestError(f"{url}: {exc}") from None
    return ingest_bytes(fetched.body, label=url, base_url=fetched.url, status=fetched.status, **kwargs)


def ingest_source(source, *, date: dt.date | None = None, dry_run: bool = False, force: bool = False,
                  progress=None) -> StoreSummary:
    """Fetch a Source (conditionally, unless `force`) and store what it holds. The outcome,
    good or bad, is written to the Source; errors are raised as IngestError."""
    now = timezone.now()
    label = f"source {source.name}"
    try:
        fetched = fetch(source.url, "" if force else source.etag, "" if force else source.last_modified)
        if fetched.not_modified:
            summary = StoreSummary()
            summary.messages.append("not modified since the last fetch")
        else:
            summary = ingest_bytes(
                fetched.body, fmt=source.format, source=source, date=date, dry_run=dry_run, label=label,
                base_url=fetched.url, status=fetched.status, progress=progress,
            )
    except Exception as exc:
        # Whatever went wrong is written to the Source, so "Run now" in the admin and the beat
        # task report it there; an unexpected error also keeps its traceback in the log.
        if isinstance(exc, IngestError):
            message = str(exc)
        elif isinstance(exc, FetchError):
            message = f"{label}: {exc}"
        else:
            log.exception("%s: unexpected error", label)
            message = f"{label}: unexpected error: {type(exc).__name__}: {exc}"
        if not dry_run:
            Source.objects.filter(pk=source.pk).update(last_checked_at=now, last_error=message)
        log.error("%s", message)
        raise IngestError(message) from None
    if not dry_run:
        fields = {
            "last_checked_at": now,
            "last_success_at": now,
            "last_error": "\n".join(summary.messages)[:5000],
            "last_counts": summary.as_dict(),
        }
        if not fetched.not_modified:
            # Validators are kept only once the body is stored, so a failed store is retried.
            fields.update(etag=fetched.etag, last_modified=fetched.last_modified)
        Source.objects.filter(pk=source.pk).update(**fields)
        for name, value in fields.items():
            setattr(source, name, value)
    return summary
