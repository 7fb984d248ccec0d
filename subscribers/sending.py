"""Sending an edition's deliveries: what a worker does with one chunk of rows.

send_chunk() claims its rows with one conditional UPDATE (so two workers never send the
same row), matches each subscriber, renders their email, sends it over the chunk's one
SMTP connection, and records the outcome of every row: sent, skipped, failed, unknown, or
back to pending for a retry after a backoff. Edition bookkeeping (building, queueing,
pausing, the sweep) is subscribers.delivery; the rules are in README "Delivery guarantees"."""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings
from django.db import connection
from django.db.models import F, Min
from django.utils import timezone

from digest.matching import Interests
from digest.selection import PeriodContent

from . import ledger
from .emails import (SHORT_ABSTRACTS_AFTER, Digest, EditionInfo, PaperViews, Recipient, digest_message,
                     message_id_for, quiet_message)
from .lifecycle import suppress
from .models import Delivery, Edition, Subscriber, Suppression
from .transport import Mailer, describe, recipient_refused, reply_code, send_rate_limiter

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What happened to one claimed row (the names of ChunkResult's counters)."""

    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    RETRY = "retry"  # back to pending, tried again after a backoff
    UNKNOWN = "unknown"  # the data went out, the reply never came: never resent automatically
    PAUSED = "paused"  # the edition was paused: this row and the rest of the chunk go back unsent


@dataclass
class ChunkResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry: int = 0
    unknown: int = 0
    released: int = 0  # handed back unsent because the edition was paused
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    def line(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (
            f"claimed={self.claimed} sent={self.sent} skipped={self.skipped} failed={self.failed} "
            f"retry={self.retry} unknown={self.unknown} released={self.released} "
            f"seconds={self.seconds:.2f} rate={rate:.1f}/s"
        )

    def as_dict(self) -> dict:
        return {"claimed": self.claimed, "sent": self.sent, "skipped": self.skipped,
                "failed": self.failed, "retry": self.retry, "unknown": self.unknown}


# --- What an edition contains, kept per process ---------------------------------------------


@dataclass
class EditionContent:
    """The papers of an edition's period, indexed for matching, with their email blocks."""

    content: PeriodContent
    views: PaperViews


def content_for(edition: Edition) -> EditionContent:
    content = PeriodContent(edition.start_date, edition.end_date)
    return EditionContent(content, PaperViews(content.papers))


_content_cache: OrderedDict[tuple, tuple[float, EditionContent]] = OrderedDict()
CONTENT_TTL = 600


def edition_content(edition: Edition) -> EditionContent:
    """The edition's content, built once per process and reused by its next chunks."""
    now = time.monotonic()
    key = (edition.pk, edition.created_at)
    cached = _content_cache.get(key)
    if cached and now - cached[0] < CONTENT_TTL:
        return cached[1]
    found = content_for(edition)
    _content_cache[key] = (now, found)
    while len(_content_cache) > 4:
        _content_cache.popitem(last=False)
    return found


# --- One chunk ----------------------------------------------------------------------------------


def claim_rows(edition_id: int, first_id: int, last_id: int,
               due_by: dt.datetime | None = None) -> tuple[uuid.UUID, int]:
    """Atomically take the pending rows of a range that are due (their hour reached by
    `due_by`, default now; no retry backoff running): one conditional UPDATE, so two workers
    (or a task delivered twice) never hold the same row."""
    claim = uuid.uuid4()
    now = timezone.now()
    count = (
        Delivery.objects.filter(
            edition_id=edition_id, pk__gte=first_id, pk__lte=last_id, status=Delivery.Status.PENDING,
        )
        .exclude(next_attempt_at__gt=now)
        .exclude(due_at__gt=due_by or now)
        .update(status=Delivery.Status.SENDING, claim=claim, claimed_at=now, attempts=F("attempts") + 1,
                next_attempt_at=None, finished_at=None)
    )
    return claim, count


def send_chunk(edition_id: int, first_id: int, last_id: int, due_by: dt.datetime | None = None) -> ChunkResult:
    started = time.monotonic()
    result = ChunkResult()
    edition = Edition.objects.filter(pk=edition_id).first()
    if edition is None or edition.status != Edition.Status.SENDING:
        return result
    # Built (or found in this process's cache) before claiming: a claim's clock, which the
    # sweep watches, starts when sending can start.
    found = edition_content(edition)
    claim, result.claimed = claim_rows(edition_id, first_id, last_id, due_by)
    if not result.claimed:
        return result
    rows = list(
        Delivery.objects.filter(claim=claim, status=Delivery.Status.SENDING)
        .select_related("subscriber", "subscriber__learning")
        .prefetch_related("subscriber__topics", "subscriber__liked_papers", "subscriber__disliked_papers")
        .order_by("pk")
    )
    try:
        interests, already = _prepare(found, edition, rows)
    except Exception as exc:
        # Nothing of this chunk went out: every row goes back with the error (and a backoff),
        # or fails once it has had its attempts. Never left 'sending' for the sweep to guess.
        log.exception("delivery chunk edition=%s rows=%s-%s: preparing the chunk failed", edition_id, first_id, last_id)
        _give_back(claim, rows, f"preparing the chunk failed: {describe(exc)}", result)
        Edition.finish_if_done(edition_id)
        result.seconds = time.monotonic() - started
        return result
    mailer = Mailer()
    bucket = send_rate_limiter()
    info = EditionInfo.of(edition)
    sent_papers: list[tuple[int, int, int]] = []  # (subscriber, paper, delivery), flushed in batches
    try:
        for position, row in enumerate(rows):
            try:
                outcome = _send_one(row, claim, info, found, mailer, bucket, interests.get(row.pk),
                                    already.get(row.subscriber_id, set()), sent_papers)
            except Exception as exc:
                # Not this row's email (that is caught in _send_one): the database, the cache or
                # the broker failed. The rows not yet tried go back with the error; a row whose
                # message was handed over with no outcome written stays for the sweep (unknown).
                log.exception("delivery chunk edition=%s: stopped at delivery=%s", edition_id, row.pk)
                rest = rows[position + 1:] if mailer.unrecorded else rows[position:]
                _give_back(claim, rest, f"the chunk stopped: {describe(exc)}", result, best_effort=True)
                raise
            if outcome == Outcome.PAUSED:
                result.released = _release(claim, [r.pk for r in rows[position:]])
                break
            result.count(outcome)
            if outcome in (Outcome.FAILED, Outcome.RETRY, Outcome.UNKNOWN):
                result.errors.append(row.last_error)
            if len(sent_papers) >= ledger.FLUSH_ROWS:
                ledger.flush(sent_papers)
    finally:
        mailer.reset()
        ledger.flush(sent_papers)
    Edition.finish_if_done(edition_id)
    result.seconds = time.monotonic() - started
    log.info("delivery chunk edition=%s rows=%s-%s %s", edition_id, first_id, last_id, result.line())
    return result


def _prepare(found: EditionContent, edition: Edition, rows: list[Delivery]) -> tuple[dict, dict]:
    """Each row's interests (ranked against the edition's content) and the papers each
    subscriber already got. Interests that cannot be read are left out: that row fails alone
    (_send_one)."""
    found.content.add_external(
        p for row in rows for p in (*row.subscriber.liked_papers.all(), *row.subscriber.disliked_papers.all())
    )
    interests = {}
    for row in rows:
        try:
            interests[row.pk] = row.subscriber.interests()
        except Exception:
            log.exception("delivery=%s: the subscriber's interests cannot be read", row.pk)
    try:
        found.content.rank_many(list(interests.values()))  # the whole chunk in one matrix product
    except Exception:
        # Ranked one by one instead: a subscriber whose ranking fails then fails alone.
        log.exception("edition=%s: ranking a chunk at once failed; ranking row by row", edition.pk)
    already = ledger.already_sent({row.subscriber_id for row in rows}, found.content.papers)
    return interests, already


def _send_one(row: Delivery, claim, edition: EditionInfo, found: EditionContent, mailer: Mailer, bucket,
              interests: Interests | None, already: set[int], sent_papers: list) -> Outcome:
    subscriber = row.subscriber
    # Read again right before sending: an unsubscribe (or a pause of the edition) that
    # arrived after the edition was built must win.
    status, paused_until, edition_status = _current_status(row.pk)
    if edition_status == Edition.Status.PAUSED:
        return Outcome.PAUSED
    if status != Subscriber.Status.ACTIVE or (paused_until and str(paused_until)[:10] > timezone.localdate().isoformat()):
        _finish(row.pk, claim, status=Delivery.Status.SKIPPED, skip_reason=f"subscriber {status}")
        return Outcome.SKIPPED
    try:
        built = _build(row, subscriber, edition, found, interests, already)
    except Exception as exc:
        # Ranking and rendering are plain computation on data already loaded: an exception
        # there is a bug or bad data, and trying again would fail the same way. The row fails
        # with the error (the admin's "resend" sends it once it is fixed); the chunk goes on.
        log.exception("delivery=%s: building the email failed", row.pk)
        row.last_error = f"could not build the email: {describe(exc)}"
        _finish(row.pk, claim, status=Delivery.Status.FAILED, last_error=row.last_error)
        return Outcome.FAILED
    if isinstance(built, str):
        _finish(row.pk, claim, status=Delivery.Status.SKIPPED, skip_reason=built)
        return Outcome.SKIPPED
    message, matches, papers, quiet = built
    bucket.take()
    try:
        mailer.send(message)
    except (smtplib.SMTPException, OSError) as exc:
        outcome = _failed_attempt(row, claim, subscriber, papers, exc, mailer)
        mailer.unrecorded = False
        return outcome
    except Exception as exc:
        # Not an SMTP reply: a bug in a mail backend or a library. If the data went out the
        # message may have arrived; otherwise it did not, and the same bug would stop it again.
        outcome = _failed_attempt(row, claim, subscriber, papers, exc, mailer, permanent=True)
        mailer.unrecorded = False
        return outcome
    if _mark_sent(row.pk, claim, message_id_for(edition.id, row.pk), papers, quiet):
        sent_papers.extend((subscriber.pk, m.paper_id, row.pk) for m in matches)
    mailer.unrecorded = False
    return Outcome.SENT


def _build(row: Delivery, subscriber: Subscriber, edition: EditionInfo, found: EditionContent,
           interests: Interests | None, already: set[int]):
    """(message, matches, papers as recorded, quiet-day reason) for one row, or the reason it
    is skipped (nothing went to this subscriber)."""
    if interests is None:
        interests = subscriber.interests()  # raises again, with the reason
    cap = subscriber.max_papers or settings.DIGEST_MAX_PAPERS_DEFAULT
    matches, more = found.content.select(interests, cap, already)
    if not matches:
        quiet = quiet_reason(found.content, interests, already)
        if quiet == Delivery.NOTHING_ANNOUNCED or not subscriber.quiet_day_note:
            return quiet
        # They asked for a line on quiet days: "nothing strong today".
        return quiet_message(Recipient.of(subscriber), edition, row.pk, subscriber.strictness), [], [], quiet
    short = len(matches) > SHORT_ABSTRACTS_AFTER
    chosen = [(found.views.view(m.paper_id, short), m) for m in matches]
    message = digest_message(Digest(Recipient.of(subscriber), edition, row.pk, chosen, more))
    papers = [
        {"paper": m.paper_id, "score": m.score, "reasons": [r.as_dict() for r in m.reasons]}
        for _, m in chosen
    ]
    return message, matches, papers, ""


def quiet_reason(content, interests: Interests, already: set[int]) -> str:
    """Why nothing went to this subscriber: the source was silent, nothing cleared their
    floor, or what cleared it was sent before."""
    if not content.papers:
        return Delivery.NOTHING_ANNOUNCED
    if already and content.select(interests, 1)[0]:
        return Delivery.NOTHING_NEW
    return Delivery.NOTHING_ABOVE_FLOOR


def _failed_attempt(row, claim, subscriber, papers, exc, mailer: Mailer, permanent: bool = False) -> Outcome:
    row.last_error = describe(exc)
    code = reply_code(exc)
    unknowable = mailer.payload_sent and code is None
    mailer.reset()  # the connection may be unusable after an error
    if unknowable:
        # The data went out and the connection died before the reply: the server may have
        # accepted it. Policy: never resend automatically (a duplicate is worse than a gap);
        # the row is listed in the admin, whose "resend" uses the same Message-ID.
        row.last_error = f"outcome unknown: the connection failed after the message data ({row.last_error})"
        _finish(row.pk, claim, status=Delivery.Status.UNKNOWN, last_error=row.last_error, papers=papers)
        log.warning("delivery=%s unknown: %s", row.pk, row.last_error)
        return Outcome.UNKNOWN
    if permanent or (code is not None and code >= 500):
        _finish(row.pk, claim, status=Delivery.Status.FAILED, last_error=row.last_error, papers=papers)
        if recipient_refused(exc):
            suppress(subscriber.email, Suppression.Reason.BOUNCED, row.last_error)
        log.warning("delivery=%s failed permanently: %s", row.pk, row.last_error)
        return Outcome.FAILED
    if row.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        _finish(row.pk, claim, status=Delivery.Status.FAILED,
                last_error=f"gave up after {row.attempts} attempts: {row.last_error}", papers=papers)
        log.warning("delivery=%s failed after %s attempts: %s", row.pk, row.attempts, row.last_error)
        return Outcome.FAILED
    # 4xx, timeouts, dropped connections: back to pending, retried after a backoff.
    delay = backoff(row.attempts)
    _finish(row.pk, claim, status=Delivery.Status.PENDING, last_error=row.last_error, claim=None,
            next_attempt_at=timezone.now() + dt.timedelta(seconds=delay), finished_at=None)
    log.info("delivery=%s retry %s in %.1fs: %s", row.pk, row.attempts, delay, row.last_error)
    return Outcome.RETRY


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter, capped (no long ETA tasks on Redis)."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS
    ceiling = min(settings.DELIVERY_RETRY_MAX_SECONDS, base * 2 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def next_retry_delay(edition_id: int, first_id: int, last_id: int,
                     due_by: dt.datetime | None = None) -> float | None:
    """Seconds until the earliest pending row of a range (of those due by `due_by`) may be
    tried again, or None if none waits."""
    pending = Delivery.objects.filter(
        edition_id=edition_id, pk__gte=first_id, pk__lte=last_id, status=Delivery.Status.PENDING
    ).exclude(due_at__gt=due_by or timezone.now())
    earliest = pending.aggregate(m=Min("next_attempt_at"))["m"]
    if earliest is None:
        return 0.0 if pending.exists() else None
    return max(0.0, (earliest - timezone.now()).total_seconds())


# --- Recording outcomes ---------------------------------------------------------------------------


def _finish(pk: int, owner: uuid.UUID, **fields) -> bool:
    """Record an outcome, only if the claim `owner` still holds the row."""
    fields.setdefault("finished_at", timezone.now())
    return bool(
        Delivery.objects.filter(pk=pk, claim=owner, status=Delivery.Status.SENDING).update(**fields)
    )


def _give_back(claim: uuid.UUID, rows: list[Delivery], error: str, result: ChunkResult,
               best_effort: bool = False) -> None:
    """Rows of a chunk that stopped before their turn: back to pending after a backoff, with
    the error, or failed once they have had DELIVERY_MAX_ATTEMPTS attempts."""
    try:
        for row in rows:
            if row.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
                if _finish(row.pk, claim, status=Delivery.Status.FAILED,
                           last_error=f"gave up after {row.attempts} attempts: {error}"):
                    result.failed += 1
            elif _finish(row.pk, claim, status=Delivery.Status.PENDING, claim=None, last_error=error,
                         next_attempt_at=timezone.now() + dt.timedelta(seconds=backoff(row.attempts)),
                         finished_at=None):
                result.retry += 1
        result.errors.append(error)
    except Exception:
        if not best_effort:
            raise
        # The database itself is what failed: the sweep recovers these rows later.
        log.exception("could not hand back the rows of claim %s", claim)


def _release(claim: uuid.UUID, pks: list[int]) -> int:
    """Hand claimed rows back unsent (the edition was paused); their attempt did not count."""
    return Delivery.objects.filter(pk__in=pks, claim=claim, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.PENDING, claim=None, attempts=F("attempts") - 1
    )


# The two statements of every message are written in SQL: through the ORM, building the
# query cost more than running it (benchmarks/README.md, delivery).
def _current_status(delivery_id: int) -> tuple:
    d, s, e = Delivery._meta.db_table, Subscriber._meta.db_table, Edition._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.status, s.paused_until, e.status FROM {d} d "
            f"JOIN {s} s ON s.id = d.subscriber_id JOIN {e} e ON e.id = d.edition_id WHERE d.id = %s",
            [delivery_id],
        )
        row = cursor.fetchone()
    return row or ("deleted", None, Edition.Status.SENDING)


def _mark_sent(delivery_id: int, claim: uuid.UUID, message_id: str, papers: list, quiet: str = "") -> bool:
    now = timezone.now()
    fields = Delivery._meta

    def prep(name, value):
        return fields.get_field(name).get_db_prep_save(value, connection)

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {fields.db_table} SET status = %s, sent_at = %s, finished_at = %s, message_id = %s, "
            f"papers = %s, skip_reason = %s, last_error = '' WHERE id = %s AND claim = %s AND status = %s",
            [Delivery.Status.SENT, prep("sent_at", now), prep("finished_at", now), message_id,
             prep("papers", papers), quiet, delivery_id, prep("claim", claim), Delivery.Status.SENDING],
        )
        return cursor.rowcount == 1
