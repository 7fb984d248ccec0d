"""Sending an edition's deliveries: what a worker does with one chunk of rows.

send_chunk() claims its rows with one conditional UPDATE (so two workers never send the
same row), matches each subscriber, renders their email, sends it over the chunk's one
connection (SMTP, or an ESP's API, in batches where the ESP takes them), and records the
outcome of every row (subscribers.outcomes): sent, skipped, failed, unknown, or back to
pending for a retry after a backoff. Edition bookkeeping (building, queueing, pausing, the
sweep) is subscribers.delivery; the rules are in README "Delivery guarantees"."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Min, Prefetch
from django.utils import timezone

from digest.matching import Interests
from digest.selection import PeriodContent

from . import ledger
from .emails import (SHORT_ABSTRACTS_AFTER, Digest, EditionInfo, PaperViews, Recipient, digest_message,
                     message_id_for, quiet_message)
from .models import Delivery, Edition, Subscriber
from .outcomes import (
    ChunkResult,
    Outcome,
    current_status,
    failed_attempt,
    finish,
    give_back,
    mark_sent,
    recorded,
    release,
)
from .transport import FAILED, REFUSED, Mailer, Verdict, accepted, describe, send_rate_limiter, verdict

log = logging.getLogger(__name__)


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
        # The range first: the primary key finds the rows in an edition of any size.
        Delivery.objects.filter(edition_id=edition_id, pk__gte=first_id, pk__lte=last_id, claim=claim,
                                status=Delivery.Status.SENDING)
        .select_related("subscriber", "subscriber__learning")
        .prefetch_related(*related_lists())
        .order_by("pk")
    )
    try:
        interests, already = _prepare(found, edition, rows)
    except Exception as exc:
        # Nothing of this chunk went out: every row goes back with the error (and a backoff),
        # or fails once it has had its attempts. Never left 'sending' for the sweep to guess.
        log.exception("delivery chunk edition=%s rows=%s-%s: preparing the chunk failed", edition_id, first_id, last_id)
        give_back(claim, rows, f"preparing the chunk failed: {describe(exc)}", result)
        Edition.finish_if_done(edition_id)
        result.seconds = time.monotonic() - started
        return result
    chunk = _Chunk(claim, EditionInfo.of(edition), found, Mailer(), send_rate_limiter(), result)
    try:
        for position, row in enumerate(rows):
            try:
                outcome = chunk.take(row, interests.get(row.pk), already.get(row.subscriber_id, set()))
                if outcome == Outcome.PAUSED:
                    chunk.flush()  # built already: they go, the rest waits for the resume
                    result.released = release(claim, [r.pk for r in rows[position:]])
                    break
                if chunk.stopped:
                    # The ESP's rate limit: the rows not yet tried wait as long as it asked.
                    give_back(claim, rows[position + 1:], chunk.stopped.error, result,
                              wait=chunk.stopped.retry_after, count_attempt=False)
                    break
            except Exception as exc:
                # Not one row's email (that is caught in _Chunk): the database, the cache or
                # the broker failed. The rows without an outcome go back with the error, except
                # those whose message was handed over: they stay for the sweep (unknown).
                log.exception("delivery chunk edition=%s: stopped at delivery=%s", edition_id, row.pk)
                unsent = [r for r in rows if r.pk not in chunk.in_flight]
                give_back(claim, unsent, f"the chunk stopped: {describe(exc)}", result, best_effort=True)
                raise
        else:
            chunk.flush()
    finally:
        chunk.mailer.reset()
        ledger.flush(chunk.sent_papers)
    Edition.finish_if_done(edition_id)
    result.seconds = time.monotonic() - started
    log.info("delivery chunk edition=%s rows=%s-%s %s", edition_id, first_id, last_id, result.line())
    return result


def related_lists() -> list[Prefetch]:
    """prefetch_related() arguments for a chunk's rows: each subscriber's many-to-many fields
    loaded into plain lists, which Subscriber.related() reads. Prefetched into the managers,
    they cost a queryset per subscriber and field, and another for every .all()."""
    return [Prefetch(f"subscriber__{name}", to_attr=f"{name}_listed")
            for name in ("topics", "liked_papers", "disliked_papers")]


def _prepare(found: EditionContent, edition: Edition, rows: list[Delivery]) -> tuple[dict, dict]:
    """Each row's interests (ranked against the edition's content) and the papers each
    subscriber already got. Interests that cannot be read are left out: that row fails alone
    (_Chunk.take)."""
    found.content.add_external(
        p for row in rows for p in (*row.subscriber.related("liked_papers"), *row.subscriber.related("disliked_papers"))
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


class _Chunk:
    """One chunk's sending: each row checked, built, sent (alone, or in a batch when the
    backend takes many messages per request) and recorded."""

    def __init__(self, claim, edition: EditionInfo, found: EditionContent, mailer: Mailer, bucket, result):
        self.claim, self.edition, self.found, self.mailer, self.bucket = claim, edition, found, mailer, bucket
        self.result = result
        self.batch: list[tuple] = []  # (row, message, matches, quiet) built, not sent yet
        self.sent_papers: list[tuple[int, int, int]] = []  # (subscriber, paper, delivery), flushed in batches
        self.stopped: Verdict | None = None  # a rate limit: the rest of the chunk must wait
        # Rows whose message was handed to the transport and whose outcome is not written yet:
        # if the chunk stops now, they are left to the sweep (they may have gone out).
        self.in_flight: set[int] = set()
        self._batch_size: int | None = None

    def take(self, row: Delivery, interests: Interests | None, already: set[int]) -> Outcome | None:
        """Check, build and send one row (or add it to the batch). Returns PAUSED if the edition
        was paused; otherwise outcomes are counted in the result."""
        # Read again right before sending: an unsubscribe (or a pause of the edition) that
        # arrived after the edition was built must win.
        status, paused_until, edition_status = current_status(row.pk)
        if edition_status == Edition.Status.PAUSED:
            return Outcome.PAUSED
        if status != Subscriber.Status.ACTIVE or (paused_until and str(paused_until)[:10] > timezone.localdate().isoformat()):
            finish(row.pk, self.claim, status=Delivery.Status.SKIPPED, skip_reason=f"subscriber {status}")
            return self._count(Outcome.SKIPPED)
        try:
            built = _build(row, self.edition, self.found, interests, already)
        except Exception as exc:
            # Ranking and rendering are plain computation on data already loaded: an exception
            # there is a bug or bad data, and trying again would fail the same way. The row fails
            # with the error (the admin's "resend" sends it once it is fixed); the chunk goes on.
            log.exception("delivery=%s: building the email failed", row.pk)
            row.last_error = f"could not build the email: {describe(exc)}"
            finish(row.pk, self.claim, status=Delivery.Status.FAILED, last_error=row.last_error)
            return self._count(Outcome.FAILED, row.last_error)
        if isinstance(built, str):  # nothing goes to this subscriber, for this reason
            finish(row.pk, self.claim, status=Delivery.Status.SKIPPED, skip_reason=built)
            return self._count(Outcome.SKIPPED)
        self.bucket.take()
        if self._batching():
            self.batch.append((row, *built))
            if len(self.batch) >= self._batch_size:
                self.flush()
            return None
        message, matches, quiet = built
        self.in_flight = {row.pk}
        try:
            self.mailer.send(message)
            refused = None
        except Exception as exc:
            refused = exc
        self._record(row, message, matches, quiet, refused)
        return None

    def flush(self) -> None:
        """Send the batch built so far in one request, and record each message's outcome."""
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        self.in_flight = {row.pk for row, *_ in batch}
        try:
            answers = self.mailer.send_batch([message for _, message, *_ in batch])
        except Exception as exc:
            # The request as a whole: no answer, a rate limit, the ESP down. One verdict for all.
            answers = [exc] * len(batch)
        for (row, message, matches, quiet), answer in zip(batch, answers):
            self._record(row, message, matches, quiet, answer)

    def _batching(self) -> bool:
        if self._batch_size is None:
            self._batch_size = self.mailer.batch_size
        return self._batch_size > 1

    def _record(self, row, message, matches, quiet: str, exc: Exception | None) -> None:
        if exc is None:
            status, esp_id = accepted(message)
            if status in REFUSED:
                found = Verdict(FAILED, f"the ESP answered {status!r} for {row.subscriber.email}",
                                suppress=status == "rejected")
                self._count(failed_attempt(row, self.claim, recorded(matches), found), row.last_error)
            else:
                if mark_sent(row.pk, self.claim, message_id_for(self.edition.id, row.pk), matches, esp_id, quiet):
                    self.sent_papers.extend((row.subscriber_id, m.paper_id, row.pk) for m in matches)
                self._count(Outcome.SENT)
        else:
            found = verdict(exc, self.mailer.payload_sent)
            self.mailer.reset()  # the connection may be unusable after an error
            self._count(failed_attempt(row, self.claim, recorded(matches), found), row.last_error)
            if found.whole_chunk:
                self.stopped = found
        self.in_flight.discard(row.pk)
        if len(self.sent_papers) >= ledger.FLUSH_ROWS:
            ledger.flush(self.sent_papers)

    def _count(self, outcome: Outcome, error: str = "") -> None:
        self.result.count(outcome, error)


def _build(row: Delivery, edition: EditionInfo, found: EditionContent, interests: Interests | None,
           already: set[int]):
    """(message, matches, quiet-day reason) for one row, or the reason it is skipped (nothing
    went to this subscriber)."""
    subscriber = row.subscriber
    if interests is None:
        interests = subscriber.interests()  # raises again, with the reason
    cap = subscriber.max_papers or settings.DIGEST_MAX_PAPERS_DEFAULT
    matches, more = found.content.select(interests, cap, already)
    if not matches:
        quiet = quiet_reason(found.content, interests, already)
        if quiet == Delivery.NOTHING_ANNOUNCED or not subscriber.quiet_day_note:
            return quiet
        # They asked for a line on quiet days: "nothing strong today".
        return quiet_message(Recipient.of(subscriber), edition, row.pk, subscriber.strictness), [], quiet
    short = len(matches) > SHORT_ABSTRACTS_AFTER
    chosen = [(found.views.view(m.paper_id, short), m) for m in matches]
    message = digest_message(Digest(Recipient.of(subscriber), edition, row.pk, chosen, more))
    # What an ESP needs besides the content (anymail reads these; SMTP ignores them): the
    # delivery it belongs to, echoed by the ESP's webhooks, and no tracking of opens or
    # clicks by the ESP (Paperpost counts clicks itself, without pixels).
    message.metadata = {"delivery": str(row.pk)}
    message.tags = ["digest"]
    message.track_opens = False
    message.track_clicks = False
    return message, matches, ""


def quiet_reason(content, interests: Interests, already: set[int]) -> str:
    """Why nothing went to this subscriber: the source was silent, nothing cleared their
    floor, or what cleared it was sent before."""
    if not content.papers:
        return Delivery.NOTHING_ANNOUNCED
    if already and content.select(interests, 1)[0]:
        return Delivery.NOTHING_NEW
    return Delivery.NOTHING_ABOVE_FLOOR


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
