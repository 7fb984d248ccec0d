"""Building editions and sending their deliveries.

build_edition() creates the Edition and one Delivery row per due subscriber in one
transaction and queues chunk tasks on commit. send_chunk() is what a worker runs: it claims
its rows with one conditional UPDATE (so two workers never send the same row), matches,
renders and sends each over one SMTP connection, and records the outcome of every row."""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import socket
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from digest.matching import Interests, Match, PaperDoc, PaperIndex, Ranking, Weights, explain, match_many
from digest.models import Batch, BatchEntry, Paper
from paperpost.bulk import insert_ignore

from .emails import SHORT_ABSTRACTS_AFTER, PaperView, digest_message, message_id_for
from .models import Delivery, Edition, Frequency, SentPaper, Subscriber

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class NothingToSend(Exception):
    pass


def edition_period(day: dt.date, frequency: str) -> tuple[dt.date, dt.date]:
    if frequency == Frequency.WEEKLY:
        return day - dt.timedelta(days=6), day
    return day, day


def build_edition(batch: Batch, frequency: str = Frequency.DAILY) -> tuple[Edition, int]:
    """Create (or complete) the edition of `batch` for `frequency`: one Delivery row per
    deliverable subscriber of that frequency who has none yet. Returns (edition, rows added).
    Chunk tasks are queued when the transaction commits; a rollback queues nothing."""
    if not batch.is_published:
        raise NothingToSend(f"the batch of {batch.date} is not published")
    start, end = edition_period(batch.date, frequency)
    with transaction.atomic():
        edition, _ = Edition.objects.get_or_create(
            frequency=frequency, end_date=end, defaults={"start_date": start}
        )
        already = Delivery.objects.filter(edition=edition).values("subscriber_id")
        candidates = (
            Subscriber.objects.deliverable()
            .filter(frequency=frequency)
            .exclude(pk__in=already)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        added = 0
        rows: list[Delivery] = []
        # Stream ids: never hold every subscriber in memory at once.
        for subscriber_id in candidates.iterator(chunk_size=2000):
            rows.append(Delivery(edition=edition, subscriber_id=subscriber_id))
            if len(rows) >= 1000:
                Delivery.objects.bulk_create(rows, ignore_conflicts=True)
                added += len(rows)
                rows = []
        if rows:
            Delivery.objects.bulk_create(rows, ignore_conflicts=True)
            added += len(rows)
        if edition.status == Edition.Status.DONE and added:
            Edition.objects.filter(pk=edition.pk).update(status=Edition.Status.SENDING, finished_at=None)
        edition_id = edition.pk
        transaction.on_commit(lambda: queue_pending(edition_id))
    edition.refresh_from_db()
    return edition, added


def queue_pending(edition_id: int) -> int:
    """Queue one task per chunk of pending rows, as id ranges. Returns the chunk count.
    If the broker is down, nothing is lost: the rows stay pending and the sweep queues
    them again later."""
    from kombu.exceptions import OperationalError

    from .tasks import send_chunk

    size = settings.DIGEST_CHUNK_SIZE
    pending = (
        Delivery.objects.filter(edition_id=edition_id, status=Delivery.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ranges = []
    first = last = None
    count = 0
    for pk in pending.iterator(chunk_size=5000):
        if first is None:
            first = pk
        last = pk
        count += 1
        if count == size:
            ranges.append((first, last))
            first, count = None, 0
    if first is not None:
        ranges.append((first, last))
    queued = 0
    try:
        for first, last in ranges:
            send_chunk.delay(edition_id, first, last)
            queued += 1
    except (OperationalError, ConnectionError, OSError) as exc:
        log.error("edition=%s: the broker is unavailable (%s); %s of %s chunks queued, the sweep will queue the rest",
                  edition_id, exc, queued, len(ranges))
    if queued:
        Edition.objects.filter(pk=edition_id).update(last_queued_at=timezone.now())
    return queued


# --- What an edition contains -----------------------------------------------------------


class PeriodContent:
    """The published papers of a span of days, indexed for matching, with their rendered
    email blocks. An edition builds it once per process and reuses it for every chunk."""

    def __init__(self, start_date: dt.date, end_date: dt.date, weights: Weights | None = None,
                 drafts: bool = False):
        statuses = [Batch.Status.PUBLISHED] + ([Batch.Status.DRAFT] if drafts else [])
        entries = (
            BatchEntry.objects.filter(
                batch__date__range=(start_date, end_date),
                batch__status__in=statuses,
                hidden=False,
            )
            .select_related("paper")
            .order_by("batch__date", "-featured", "position", "pk")
        )
        self.papers: dict[int, Paper] = {}
        docs = []
        for order, entry in enumerate(entries):
            paper = entry.paper
            if paper.pk in self.papers:
                continue
            self.papers[paper.pk] = paper
            docs.append(doc_of(paper, order=order, featured=entry.featured))
        self.index = PaperIndex(docs, weights or Weights.from_settings())
        self._views: dict[tuple[int, bool], PaperView] = {}
        # Rankings are reused across chunks for repeated interests, but bounded: a worker's
        # memory must not grow with the number of subscribers.
        self._rankings: OrderedDict[Interests, Ranking] = OrderedDict()

    def view(self, paper_id: int, short: bool = False) -> PaperView:
        view = self._views.get((paper_id, short))
        if view is None:
            view = self._views[(paper_id, short)] = PaperView.of(self.papers[paper_id], short=short)
        return view

    def add_external(self, papers) -> None:
        """Liked and disliked papers from earlier days, so that similarity can use them."""
        self.index.add_external(doc_of(p) for p in papers if p.pk not in self.papers)

    RANKINGS_KEPT = 5000

    def rank_many(self, interests_list) -> dict:
        todo = [i for i in dict.fromkeys(interests_list) if i not in self._rankings]
        if todo:
            rankings = match_many(todo, self.index, workers=1)
            for interests in todo:
                self._rankings[interests] = rankings[interests]
        out = {}
        for i in interests_list:
            out[i] = self._rankings[i]
            self._rankings.move_to_end(i)
        while len(self._rankings) > max(self.RANKINGS_KEPT, len(out)):
            self._rankings.popitem(last=False)
        return out

    def rank(self, interests: Interests) -> Ranking:
        return self.rank_many([interests])[interests]

    def select(self, interests: Interests, cap: int, already: set[int] = frozenset()) -> tuple[list[Match], int]:
        """The `cap` best papers not sent before, with why, and how many more matched."""
        ranking = self.rank(interests)
        fresh = [(p, s) for p, s in ranking.pairs() if self.index.papers[p].id not in already]
        chosen = [
            Match(self.index.papers[p].id, s, self.index.papers[p].order, explain(interests, self.index, p))
            for p, s in fresh[:cap]
        ]
        return chosen, max(0, len(fresh) - cap)

    def match(self, interests: Interests) -> list[Match]:
        """Every match, with why (for the preview and the personal edition page)."""
        return self.select(interests, cap=self.index.size)[0]


def doc_of(paper: Paper, order: int = 0, featured: bool = False) -> PaperDoc:
    return PaperDoc(
        id=paper.pk,
        title=paper.title,
        abstract=paper.abstract,
        authors=tuple(paper.authors or ()),
        categories=tuple(paper.categories or ()),
        order=order,
        upvotes=paper.upvotes or 0,
        featured=featured,
    )


def content_for(edition: Edition) -> PeriodContent:
    return PeriodContent(edition.start_date, edition.end_date)


_content_cache: OrderedDict[tuple, tuple[float, PeriodContent]] = OrderedDict()
CONTENT_TTL = 600


def edition_content(edition: Edition) -> PeriodContent:
    now = time.monotonic()
    key = (edition.pk, edition.created_at)
    cached = _content_cache.get(key)
    if cached and now - cached[0] < CONTENT_TTL:
        return cached[1]
    content = content_for(edition)
    _content_cache[key] = (now, content)
    while len(_content_cache) > 4:
        _content_cache.popitem(last=False)
    return content


# --- Sending ------------------------------------------------------------------------------


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

    def line(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (
            f"claimed={self.claimed} sent={self.sent} skipped={self.skipped} failed={self.failed} "
            f"retry={self.retry} unknown={self.unknown} released={self.released} "
            f"seconds={self.seconds:.2f} rate={rate:.1f}/s"
        )


def _reply_code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return min(codes) if codes else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"{exc.smtp_code} {msg}"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out: {exc}" if str(exc) else "timed out"
    return f"{type(exc).__name__}: {exc}"


def _recipient_refused(exc: Exception) -> bool:
    """A 5xx that is about this recipient (no such user, mailbox disabled), as opposed to
    one about the sender or the message: only the former suppresses the address."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(exc, smtplib.SMTPDataError):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return text.startswith(("5.1.", "5.2.1", "5.2.2"))
    return False


def _finish(pk: int, owner: uuid.UUID, **fields) -> bool:
    """Record an outcome, only if the claim `owner` still holds the row."""
    fields.setdefault("finished_at", timezone.now())
    return bool(
        Delivery.objects.filter(pk=pk, claim=owner, status=Delivery.Status.SENDING).update(**fields)
    )


class _Mailer:
    """One SMTP connection per chunk, opened on first use and reopened after an error."""

    def __init__(self):
        self.connection = None

    def send(self, message) -> None:
        if self.connection is None:
            self.connection = get_connection(fail_silently=False)
            self.connection.open()
        if self.connection.send_messages([message]) != 1:
            raise smtplib.SMTPException("the mail backend accepted no message")

    @property
    def payload_sent(self) -> bool:
        """Did the message data go out before the failure? (Only the SMTP backend knows.)"""
        return bool(getattr(self.connection, "payload_sent", False))

    def reset(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # closing a dead connection must not hide the real outcome
                pass
        self.connection = None


_bucket = None


def send_rate_limiter():
    """The shared token bucket (DELIVERY_RATE_LIMIT messages per second, all workers)."""
    global _bucket
    from paperpost.ratelimit import TokenBucket

    rate = settings.DELIVERY_RATE_LIMIT
    if _bucket is None or _bucket.rate != rate:
        _bucket = TokenBucket(rate, redis_url=settings.REDIS_URL)
    return _bucket


def claim_rows(edition_id: int, first_id: int, last_id: int) -> tuple[uuid.UUID, int]:
    """Atomically take the due pending rows of a range: one conditional UPDATE, so two
    workers (or a task delivered twice) never hold the same row."""
    claim = uuid.uuid4()
    now = timezone.now()
    count = (
        Delivery.objects.filter(
            edition_id=edition_id, pk__gte=first_id, pk__lte=last_id, status=Delivery.Status.PENDING,
        )
        .exclude(next_attempt_at__gt=now)
        .update(status=Delivery.Status.SENDING, claim=claim, claimed_at=now, attempts=F("attempts") + 1,
                next_attempt_at=None, finished_at=None)
    )
    return claim, count


def send_chunk(edition_id: int, first_id: int, last_id: int) -> ChunkResult:
    started = time.monotonic()
    result = ChunkResult()
    edition = Edition.objects.filter(pk=edition_id).first()
    if edition is None or edition.status != Edition.Status.SENDING:
        return result
    claim, result.claimed = claim_rows(edition_id, first_id, last_id)
    if not result.claimed:
        return result
    rows = list(
        Delivery.objects.filter(claim=claim, status=Delivery.Status.SENDING)
        .select_related("subscriber")
        .prefetch_related("subscriber__topics", "subscriber__liked_papers", "subscriber__disliked_papers")
        .order_by("pk")
    )
    content = edition_content(edition)
    content.add_external(
        p for row in rows for p in (*row.subscriber.liked_papers.all(), *row.subscriber.disliked_papers.all())
    )
    interests = {row.pk: row.subscriber.interests() for row in rows}
    content.rank_many(list(interests.values()))  # the whole chunk in one matrix product
    already: dict[int, set[int]] = {}
    for subscriber_id, paper_id in SentPaper.objects.filter(
        subscriber_id__in=[row.subscriber_id for row in rows], paper_id__in=list(content.papers)
    ).values_list("subscriber_id", "paper_id"):
        already.setdefault(subscriber_id, set()).add(paper_id)
    mailer = _Mailer()
    bucket = send_rate_limiter()
    ledger: list[tuple[int, int, int]] = []  # (subscriber, paper, delivery)
    try:
        for position, row in enumerate(rows):
            outcome = _send_one(row, claim, edition, content, mailer, bucket, interests[row.pk],
                                already.get(row.subscriber_id, set()), ledger)
            if outcome == "paused":
                result.released = _release(claim, [r.pk for r in rows[position:]])
                break
            setattr(result, outcome, getattr(result, outcome) + 1)
            if outcome in ("failed", "retry", "unknown"):
                result.errors.append(row.last_error)
            if len(ledger) >= LEDGER_FLUSH_ROWS:
                _flush_ledger(ledger)
    finally:
        mailer.reset()
        _flush_ledger(ledger)
    _maybe_finish_edition(edition_id)
    result.seconds = time.monotonic() - started
    log.info("delivery chunk edition=%s rows=%s-%s %s", edition_id, first_id, last_id, result.line())
    return result


# The ledger of sent papers is written in batches: a crash between a send and the flush is
# repaired by the sweep from Delivery.papers, which is written with the 'sent' status.
LEDGER_FLUSH_ROWS = 500


def _flush_ledger(ledger: list) -> None:
    if ledger:
        insert_ignore(SentPaper, ["subscriber", "paper", "delivery"], ledger)
        ledger.clear()


def prune_ledger(now: dt.datetime | None = None, chunk: int = 5000) -> int:
    """Forget which papers reached whom after SENT_LEDGER_DAYS (0 keeps the ledger forever).
    The ledger grows by one row per paper per email (a million a day at 100,000 subscribers
    and 10 papers), while it only matters for papers that may come round again: weekly
    digests, best-of months, a paper re-featured weeks later. Deleted in chunks by id so
    that no statement holds a long lock."""
    days = settings.SENT_LEDGER_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted = 0
    while True:
        ids = list(SentPaper.objects.filter(delivery__sent_at__lt=cutoff).order_by().values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        deleted += SentPaper.objects.filter(pk__in=ids).delete()[0]
    if deleted:
        log.info("ledger: forgot %s sent papers of deliveries sent before %s", deleted, cutoff.date())
    return deleted


def repair_ledger(delivery_ids) -> int:
    """Write the SentPaper rows of sent deliveries from their recorded papers (idempotent)."""
    rows = []
    for pk, subscriber_id, papers in Delivery.objects.filter(
        pk__in=list(delivery_ids), status=Delivery.Status.SENT
    ).values_list("pk", "subscriber_id", "papers"):
        rows += [(subscriber_id, p["paper"], pk) for p in papers or []]
    insert_ignore(SentPaper, ["subscriber", "paper", "delivery"], rows)
    return len(rows)


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


def _mark_sent(delivery_id: int, claim: uuid.UUID, message_id: str, papers: list) -> bool:
    now = timezone.now()
    fields = Delivery._meta
    prep = lambda name, value: fields.get_field(name).get_db_prep_save(value, connection)  # noqa: E731
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {fields.db_table} SET status = %s, sent_at = %s, finished_at = %s, message_id = %s, "
            f"papers = %s, last_error = '' WHERE id = %s AND claim = %s AND status = %s",
            [Delivery.Status.SENT, prep("sent_at", now), prep("finished_at", now), message_id,
             prep("papers", papers), delivery_id, prep("claim", claim), Delivery.Status.SENDING],
        )
        return cursor.rowcount == 1


def _release(claim: uuid.UUID, pks: list[int]) -> int:
    """Hand claimed rows back unsent (the edition was paused); their attempt did not count."""
    return Delivery.objects.filter(pk__in=pks, claim=claim, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.PENDING, claim=None, attempts=F("attempts") - 1
    )


def _send_one(row: Delivery, claim, edition, content: PeriodContent, mailer: _Mailer, bucket,
              interests: Interests, already: set[int], ledger: list) -> str:
    subscriber = row.subscriber
    # Read again right before sending: an unsubscribe (or a pause of the edition) that
    # arrived after the edition was built must win.
    status, paused_until, edition_status = _current_status(row.pk)
    if edition_status == Edition.Status.PAUSED:
        return "paused"
    if status != Subscriber.Status.ACTIVE or (paused_until and str(paused_until)[:10] > timezone.localdate().isoformat()):
        _finish(row.pk, claim, status=Delivery.Status.SKIPPED, skip_reason=f"subscriber {status}")
        return "skipped"
    cap = subscriber.max_papers or settings.DIGEST_MAX_PAPERS_DEFAULT
    matches, more = content.select(interests, cap, already)
    if not matches:
        reason = "nothing new matched" if already else "nothing matched"
        _finish(row.pk, claim, status=Delivery.Status.SKIPPED, skip_reason=reason)
        return "skipped"
    short = len(matches) > SHORT_ABSTRACTS_AFTER
    chosen = [(content.view(m.paper_id, short), m) for m in matches]
    message = digest_message(
        subscriber=subscriber,
        edition=edition,
        delivery_id=row.pk,
        chosen=chosen,
        more_count=more,
    )
    papers = [
        {"paper": m.paper_id, "score": m.score, "reasons": [r.as_dict() for r in m.reasons]}
        for _, m in chosen
    ]
    bucket.take()
    try:
        mailer.send(message)
    except (smtplib.SMTPException, OSError) as exc:
        return _failed_attempt(row, claim, subscriber, papers, exc, mailer)
    if _mark_sent(row.pk, claim, message_id_for(edition.pk, row.pk), papers):
        ledger.extend((subscriber.pk, m.paper_id, row.pk) for m in matches)
    return "sent"


def _failed_attempt(row, claim, subscriber, papers, exc, mailer: _Mailer) -> str:
    row.last_error = _describe(exc)
    code = _reply_code(exc)
    unknowable = mailer.payload_sent and code is None
    mailer.reset()  # the connection may be unusable after an error
    if unknowable:
        # The data went out and the connection died before the reply: the server may have
        # accepted it. Policy: never resend automatically (a duplicate is worse than a gap);
        # the row is listed in the admin, whose "resend" uses the same Message-ID.
        row.last_error = f"outcome unknown: the connection failed after the message data ({row.last_error})"
        _finish(row.pk, claim, status=Delivery.Status.UNKNOWN, last_error=row.last_error, papers=papers)
        log.warning("delivery=%s unknown: %s", row.pk, row.last_error)
        return "unknown"
    if code is not None and code >= 500:
        _finish(row.pk, claim, status=Delivery.Status.FAILED, last_error=row.last_error, papers=papers)
        if _recipient_refused(exc):
            from .lifecycle import suppress
            from .models import Suppression

            suppress(subscriber.email, Suppression.Reason.BOUNCED, row.last_error)
        log.warning("delivery=%s failed permanently: %s", row.pk, row.last_error)
        return "failed"
    if row.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        _finish(row.pk, claim, status=Delivery.Status.FAILED,
                last_error=f"gave up after {row.attempts} attempts: {row.last_error}", papers=papers)
        log.warning("delivery=%s failed after %s attempts: %s", row.pk, row.attempts, row.last_error)
        return "failed"
    # 4xx, timeouts, dropped connections: back to pending, retried after a backoff.
    delay = backoff(row.attempts)
    _finish(row.pk, claim, status=Delivery.Status.PENDING, last_error=row.last_error, claim=None,
            next_attempt_at=timezone.now() + dt.timedelta(seconds=delay), finished_at=None)
    log.info("delivery=%s retry %s in %.1fs: %s", row.pk, row.attempts, delay, row.last_error)
    return "retry"


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter, capped (no long ETA tasks on Redis)."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS
    ceiling = min(settings.DELIVERY_RETRY_MAX_SECONDS, base * 2 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _maybe_finish_edition(edition_id: int) -> None:
    open_rows = Delivery.objects.filter(
        edition_id=edition_id, status__in=[Delivery.Status.PENDING, Delivery.Status.SENDING]
    ).exists()
    if not open_rows:
        Edition.objects.filter(pk=edition_id, status=Edition.Status.SENDING).update(
            status=Edition.Status.DONE, finished_at=timezone.now()
        )


def next_retry_delay(edition_id: int, first_id: int, last_id: int) -> float | None:
    """Seconds until the earliest pending row of a range is due, or None if none waits."""
    from django.db.models import Min

    earliest = Delivery.objects.filter(
        edition_id=edition_id, pk__gte=first_id, pk__lte=last_id, status=Delivery.Status.PENDING
    ).aggregate(m=Min("next_attempt_at"))["m"]
    if earliest is None:
        pending = Delivery.objects.filter(
            edition_id=edition_id, pk__gte=first_id, pk__lte=last_id, status=Delivery.Status.PENDING
        ).exists()
        return 0.0 if pending else None
    return max(0.0, (earliest - timezone.now()).total_seconds())


# --- The sweep: recovery of what a crash or a broker outage left behind -------------------------


def sweep(now: dt.datetime | None = None) -> dict:
    """Run by beat every DELIVERY_SWEEP_SECONDS:
    1. a claim whose worker died (rows still 'sending', no progress for DELIVERY_STUCK_SECONDS)
       is recovered: its first open row, the one that may have been in flight, becomes
       'unknown'; the others go back to 'pending';
    2. pending rows whose task never ran (broker down when the edition was built, a task lost)
       are queued again, per edition, at most every DELIVERY_REQUEUE_SECONDS;
    3. editions with no open rows are marked done."""
    from django.db.models import Max
    from django.db.models.functions import Coalesce, Greatest

    now = now or timezone.now()
    stuck_before = now - dt.timedelta(seconds=settings.DELIVERY_STUCK_SECONDS)
    report = {"unknown": 0, "recovered": 0, "queued_editions": 0}
    claims = set(
        Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=stuck_before)
        .values_list("claim", flat=True)
    )
    for claim in claims:
        last = Delivery.objects.filter(claim=claim).aggregate(
            m=Max(Greatest("claimed_at", Coalesce("finished_at", "claimed_at")))
        )["m"]
        if last and last >= stuck_before:
            continue  # still making progress: a slow chunk, not a dead one
        open_rows = list(
            Delivery.objects.filter(claim=claim, status=Delivery.Status.SENDING).order_by("pk").values_list("pk", flat=True)
        )
        if not open_rows:
            continue
        in_flight, rest = open_rows[0], open_rows[1:]
        report["unknown"] += Delivery.objects.filter(pk=in_flight, claim=claim, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.UNKNOWN, finished_at=now,
            last_error="outcome unknown: the worker stopped while this message was in flight",
        )
        report["recovered"] += Delivery.objects.filter(pk__in=rest, claim=claim, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.PENDING, claim=None
        )
        # The dead worker may not have flushed its ledger of sent papers.
        repair_ledger(Delivery.objects.filter(claim=claim, status=Delivery.Status.SENT).values_list("pk", flat=True))
        log.warning("sweep: dead claim %s: 1 unknown, %s back to pending", claim, len(rest))
    requeue_before = now - dt.timedelta(seconds=settings.DELIVERY_REQUEUE_SECONDS)
    for edition in Edition.objects.filter(status=Edition.Status.SENDING):
        due = (
            Delivery.objects.filter(edition=edition, status=Delivery.Status.PENDING)
            .exclude(next_attempt_at__gt=now)
            .exists()
        )
        if due and (edition.last_queued_at is None or edition.last_queued_at < requeue_before):
            if queue_pending(edition.pk):
                report["queued_editions"] += 1
        _maybe_finish_edition(edition.pk)
    return report
