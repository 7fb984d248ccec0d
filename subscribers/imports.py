"""Many operator-confirmed subscribers at once (manage.py import_subscribers).

The rules are add_subscriber's (subscribers.services): each row is checked by the same
functions, suppressed addresses are errors, people who left come back only with
--resubscribe and a consent record, and a later row for an address updates the earlier one.
What differs is the cost. The rows are checked first, outside any transaction. Then one
transaction reads the stored subscribers and suppressions (a thousand addresses a query),
applies the rows in file order to plain records in memory, and writes the outcome with
bulk statements. So an import is all or nothing: stopped halfway (Ctrl-C, kill -9, a full
disk) it leaves the list as it was, and running it again finishes it. 100,000 rows take
seconds, not the quarter of an hour of a commit per row (benchmarks/imports.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from digest.models import Topic
from paperpost.bulk import delete_in, insert_ignore, insert_rows, select_in, update_rows

from .models import Subscriber, Suppression, email_hash
from .services import (CleanInput, Refused, SubscriberInput, add_likes, check_not_suppressed, clean_input,
                       confirmed_changes)

WRITE_CHUNK = 5000
through = Subscriber.topics.through


@dataclass
class Row:
    line: int
    data: SubscriberInput


@dataclass
class ImportResult:
    rows: int = 0
    added: int = 0
    updated: int = 0
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_rows(rows: list[Row], errors: list[tuple[int, str]],
               progress: Callable[[str, int], None]) -> list[tuple[Row, CleanInput]]:
    """Every row through add_subscriber's checks, with the topics read once. Bad rows go to
    `errors` with their line number."""
    topics = {t.slug: t for t in Topic.objects.all()}
    good = []
    for row in rows:
        try:
            good.append((row, clean_input(row.data, topics)))
        except ValidationError as exc:
            errors.append((row.line, "; ".join(exc.messages)))
        progress("checking", 1)
    return good


def _as_datetime(value):
    """A datetime read with select_in (SQLite gives text)."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        return timezone.make_aware(parsed, dt.timezone.utc) if timezone.is_naive(parsed) else parsed
    return value


def _stored(emails: list[str]) -> tuple[dict[str, SimpleNamespace], dict[str, str]]:
    """What is stored about these addresses, as plain records (model instances cost ten
    times more to make): each subscriber's id, status and dates, and the suppression reasons,
    by address. The subscribers' rows stay locked until the import commits."""
    existing: dict[str, SimpleNamespace] = {}
    found = select_in(Subscriber, "LOWER(email)", emails, ["id", "status", "unsubscribed_at", "confirmed_at"],
                      for_update=True)
    for address, pk, status, unsubscribed_at, confirmed_at in found:
        existing[address] = SimpleNamespace(address=address, pk=pk, status=status, changed=set(),
                                            unsubscribed_at=_as_datetime(unsubscribed_at), confirmed_at=confirmed_at)
    by_hash = {email_hash(e): e for e in emails}
    reasons = {by_hash[h]: reason for h, reason in
               select_in(Suppression, "email_hash", list(by_hash), ["reason"])}
    return existing, reasons


def _new_record(email: str, defaults: dict, fresh: list) -> SimpleNamespace:
    """A subscriber to insert: every column's default (callable ones, such as the uid, called
    per row), then the address."""
    record = SimpleNamespace(**defaults)
    record.email = email
    for f in fresh:
        setattr(record, f.attname, f.get_default())
    return record


def import_rows(rows: list[Row], source: str, resubscribe: bool = False,
                progress: Callable[[str, int], None] = lambda phase, rows: None,
                on_write: Callable[[int, int], None] = lambda new, changed: None) -> ImportResult:
    """Check, then store, every row; see the module's docstring. `progress` is told each step:
    ("checking", rows), then ("writing", rows); `on_write` is told how many subscribers are
    about to be added and changed, before the writing starts."""
    result = ImportResult(rows=len(rows))
    errors: list[tuple[int, str]] = []
    checked = check_rows(rows, errors, progress)
    now = timezone.now()
    columns = [f for f in Subscriber._meta.concrete_fields if not f.primary_key]
    fresh = [f for f in columns if f.has_default() and callable(f.default)]
    defaults = {f.attname: f.get_default() for f in columns if f not in fresh}
    with transaction.atomic():
        existing, reasons = _stored(list(dict.fromkeys(clean.email for _, clean in checked)))
        added: dict[str, SimpleNamespace] = {}
        topics: dict[str, list[int]] = {}
        liked: dict[str, tuple[int, str]] = {}
        for row, clean in checked:
            current = existing.get(clean.email) or added.get(clean.email)
            try:
                check_not_suppressed(clean.email, reasons.get(clean.email))
                changes = confirmed_changes(current, clean, source, resubscribe, now)
            except ValidationError as exc:
                errors.append((row.line, "; ".join(exc.messages)))
                continue
            except Refused as exc:
                result.refused.append(f"line {row.line}: {exc}")
                continue
            if current is None:
                current = added[clean.email] = _new_record(clean.email, defaults, fresh)
                result.added += 1
            else:
                result.updated += 1
            vars(current).update(changes)
            if clean.email in existing:
                current.changed.update(changes)
            topics[clean.email] = [t.pk for t in clean.topics]
            if clean.like:
                liked[clean.email] = (row.line, clean.like)
        changed = [record for record in existing.values() if record.changed]
        on_write(len(added), len(changed))
        _write(list(added.values()), changed, topics, now, progress)
        progress("writing", result.rows - len(added) - len(changed))
        _like(liked, errors)
    result.errors = [f"line {line}: {message}" for line, message in sorted(errors)]
    return result


def _like(liked: dict[str, tuple[int, str]], errors: list[tuple[int, str]]) -> None:
    """The liked papers of the few rows that name some, through add_subscriber's function
    (known papers liked now, unknown ids fetched from arXiv by a task once this commits). A
    refused list is that row's error; the subscriber is stored without it."""
    if not liked:
        return
    for subscriber in Subscriber.objects.filter(email__in=list(liked)):
        line, like = liked[subscriber.email]
        try:
            add_likes(subscriber, like)
        except ValidationError as exc:
            errors.append((line, "; ".join(exc.messages)))


def _write(added: list[SimpleNamespace], changed: list[SimpleNamespace], topics: dict[str, list[int]], now,
           progress: Callable[[str, int], None]) -> None:
    # Lean statements (paperpost.bulk) from plain records: bulk_create and bulk_update spent
    # about 250 and 3,800 µs a row in Django's SQL compiler, the database itself a few.
    for chunk in _chunks(added, WRITE_CHUNK):
        insert_rows(Subscriber, chunk)
        progress("writing", len(chunk))
    # One UPDATE per set of changed fields (new interests only, or also a consent record).
    groups: dict[frozenset, list[SimpleNamespace]] = {}
    for record in changed:
        record.updated_at = now
        groups.setdefault(frozenset(record.changed), []).append(record)
    for names, records in groups.items():
        for chunk in _chunks(records, WRITE_CHUNK):
            update_rows(Subscriber, chunk, sorted(names) + ["updated_at"])
            delete_in(through, "subscriber", [r.pk for r in chunk])
            progress("writing", len(chunk))
    # The topics: the new rows' ids first (insert_rows does not read them back).
    ids = dict(select_in(Subscriber, "LOWER(email)", [r.email for r in added if topics[r.email]], ["id"]))
    pairs = [(ids[r.email], topic) for r in added if r.email in ids for topic in topics[r.email]]
    pairs += [(r.pk, topic) for r in changed for topic in topics[r.address]]
    insert_ignore(through, ["subscriber", "topic"], pairs)
