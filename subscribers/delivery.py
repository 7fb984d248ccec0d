"""Edition bookkeeping: what is to be sent, and getting it queued.

build_edition() creates the Edition and one Delivery row per due subscriber in one
transaction and queues chunk tasks on commit. pause(), resume() and resend() are the
operator's actions (the admin calls them). sweep() recovers what a crash or a broker outage
left behind. The sending itself, row by row, is subscribers.sending."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from kombu.exceptions import OperationalError

from digest.corpus import current_stats
from digest.models import Batch
from paperpost.celery import app

from . import ledger
from .models import Delivery, Edition, Frequency, Subscriber
from .schedule import DueTimes

log = logging.getLogger(__name__)

# The tasks this module queues are looked up by name: subscribers.tasks imports this module
# (its tasks call build_edition, sweep and queue_pending), so importing it back would make a
# cycle. subscribers.apps registers them at start-up.
SEND_CHUNK = "subscribers.tasks.send_chunk"
RESUME_EDITION = "subscribers.tasks.resume_edition"


class NothingToSend(Exception):
    pass


def edition_period(day: dt.date, frequency: str) -> tuple[dt.date, dt.date]:
    if frequency == Frequency.WEEKLY:
        return day - dt.timedelta(days=6), day
    return day, day


def build_edition(batch: Batch, frequency: str = Frequency.DAILY,
                  now: dt.datetime | None = None) -> tuple[Edition, int]:
    """Create (or complete) the edition of `batch` for `frequency`: one Delivery row per
    deliverable subscriber of that frequency who has none yet, each due at the subscriber's
    own hour (subscribers.schedule). Returns (edition, rows added). The rows already due at
    `now` are queued when the transaction commits (a rollback queues nothing); send_due()
    queues the others when their hour comes."""
    if not batch.is_published:
        raise NothingToSend(f"the batch of {batch.date} is not published")
    now = now or timezone.now()
    start, end = edition_period(batch.date, frequency)
    # Ranking's corpus statistics exist before any worker needs them (the first call fits
    # and stores them), so no worker pays for a fit while it holds claimed rows.
    current_stats()
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
            .values_list("pk", "timezone", "send_hour", "send_weekday")
        )
        due = DueTimes(end, weekly=frequency == Frequency.WEEKLY)
        added = 0
        rows: list[Delivery] = []
        # Stream ids: never hold every subscriber in memory at once.
        for subscriber_id, zone, hour, weekday in candidates.iterator(chunk_size=2000):
            rows.append(Delivery(edition=edition, subscriber_id=subscriber_id, due_at=due(zone, hour, weekday)))
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
        transaction.on_commit(lambda: _queue_built(edition_id, now))
    edition.refresh_from_db()
    return edition, added


def _queue_built(edition_id: int, now: dt.datetime) -> int:
    """After a build: queue every pending row due by `now` (rows just added may be due in a
    window queued before, when the edition is completed later) and open the window to `now`."""
    Edition.objects.filter(pk=edition_id).filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now)).update(
        queued_until=now)
    return queue_pending(edition_id, due_by=now)


def queue_due(edition_id: int, at: dt.datetime) -> int:
    """Queue the rows of an edition that came due after its last queueing and by `at` (the
    edition's window moves with one conditional UPDATE, so two callers never queue the same
    window). Returns the chunk count."""
    edition = Edition.objects.filter(pk=edition_id).values("queued_until", "status").first()
    if edition is None or edition["status"] != Edition.Status.SENDING:
        return 0
    since = edition["queued_until"]
    if since is not None and since >= at:
        return 0
    if not Edition.objects.filter(pk=edition_id, queued_until=since).update(queued_until=at):
        return 0  # another caller moved the window first
    return queue_pending(edition_id, due_by=at, after=since)


def send_due(at: dt.datetime | None = None) -> dict[int, int]:
    """Queue, for every edition being sent, the rows whose hour has come by `at` (default:
    now). Beat runs it every DELIVERY_DUE_SECONDS; `manage.py send_due` runs it by hand.
    Returns {edition id: chunks queued} for the editions that had rows due."""
    at = at or timezone.now()
    queued = {}
    for edition_id in Edition.objects.filter(status=Edition.Status.SENDING).values_list("pk", flat=True):
        chunks = queue_due(edition_id, at)
        if chunks:
            queued[edition_id] = chunks
    return queued


def queue_pending(edition_id: int, due_by: dt.datetime | None = None, after: dt.datetime | None = None) -> int:
    """Queue one task per chunk of pending rows due by `due_by` (default: now; with `after`,
    only those that came due after it), as id ranges. Returns the chunk count. If the broker
    is down, nothing is lost: the rows stay pending and the sweep queues them again later."""
    size = settings.DIGEST_CHUNK_SIZE
    due_by = due_by or timezone.now()
    pending = Delivery.objects.filter(edition_id=edition_id, status=Delivery.Status.PENDING).filter(
        Q(due_at__isnull=True) | Q(due_at__lte=due_by))
    if after is not None:
        pending = pending.exclude(due_at__lte=after).exclude(due_at__isnull=True)
    pending = pending.order_by("pk").values_list("pk", flat=True)
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
    send_chunk = app.tasks[SEND_CHUNK]
    try:
        for first, last in ranges:
            send_chunk.delay(edition_id, first, last, due_by.isoformat())
            queued += 1
    except (OperationalError, ConnectionError, OSError) as exc:
        log.error("edition=%s: the broker is unavailable (%s); %s of %s chunks queued, the sweep will queue the rest",
                  edition_id, exc, queued, len(ranges))
    if queued:
        Edition.objects.filter(pk=edition_id).update(last_queued_at=timezone.now())
    return queued


def mail_backlog() -> int:
    """Tasks waiting in the broker's queue for sending (0 in embedded mode, or when the broker
    cannot be asked: then the sweep acts as if nothing waited)."""
    if app.conf.task_always_eager:
        return 0
    queue = settings.CELERY_TASK_ROUTES["subscribers.tasks.*"]["queue"]
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)  # a broker that is down: no waiting here
            return conn.default_channel.queue_declare(queue=queue).message_count
    except Exception as exc:  # a broker that is down, or one that cannot count
        log.warning("sweep: cannot read the %s queue's length (%s)", queue, exc)
        return 0


def requeue(edition_id: int) -> int:
    """Queue again the pending rows of the windows send_due has opened (a resume, a resend,
    a lost task); rows whose hour has not come stay for send_due."""
    edition = Edition.objects.filter(pk=edition_id).values("queued_until").first()
    if edition is None:
        return 0
    return queue_pending(edition_id, due_by=edition["queued_until"] or timezone.now())


# --- The operator's actions ------------------------------------------------------------------------


def pause(editions: QuerySet[Edition]) -> int:
    """Stop sending: rows in flight finish, the rest wait (a worker hands its chunk back)."""
    return editions.filter(status=Edition.Status.SENDING).update(status=Edition.Status.PAUSED)


def resume(editions: QuerySet[Edition]) -> int:
    """Send the rest of paused editions."""
    ids = list(editions.filter(status=Edition.Status.PAUSED).values_list("pk", flat=True))
    Edition.objects.filter(pk__in=ids).update(status=Edition.Status.SENDING)
    for pk in ids:
        app.tasks[RESUME_EDITION].delay(pk)
    return len(ids)


def resend(deliveries: QuerySet[Delivery]) -> int:
    """Send failed and unknown deliveries again, with the same Message-ID as before (mail
    systems that deduplicate by it drop a copy). Suppressed or unsubscribed addresses are
    skipped when their turn comes, as always."""
    rows = deliveries.filter(status__in=Delivery.RESENDABLE)
    editions = set(rows.values_list("edition_id", flat=True))
    count = rows.update(status=Delivery.Status.PENDING, claim=None, attempts=0, next_attempt_at=None, last_error="")
    Edition.objects.filter(pk__in=editions).update(status=Edition.Status.SENDING, finished_at=None)
    for pk in editions:
        app.tasks[RESUME_EDITION].delay(pk)
    return count


def retry_scheduled(edition: Edition) -> bool:
    """Does a row of the edition wait for a retry (a backoff after a 4xx or a crash)?"""
    return edition.deliveries.filter(status=Delivery.Status.PENDING, next_attempt_at__gt=timezone.now()).exists()


def _common_error(rows: QuerySet[Delivery]) -> str:
    """The most frequent last_error among rows, with how many rows had it."""
    found = (rows.exclude(last_error="").values("last_error").annotate(n=Count("id")).order_by("-n").first())
    if not found:
        return ""
    text = found["last_error"].splitlines()[0][:300]
    return f"{found['n']} x {text}"


def failed_errors(edition: Edition) -> str:
    return _common_error(edition.deliveries.filter(status=Delivery.Status.FAILED)) or "no error recorded"


def open_errors(edition: Edition) -> str:
    return _common_error(edition.deliveries.filter(status__in=Delivery.OPEN))


def sending_rate(edition: Edition) -> float:
    """Messages sent per second over the last minute."""
    since = timezone.now() - dt.timedelta(seconds=60)
    return edition.deliveries.filter(status=Delivery.Status.SENT, sent_at__gte=since).count() / 60.0


# --- The sweep: recovery of what a crash or a broker outage left behind -------------------------


def sweep(now: dt.datetime | None = None) -> dict:
    """Run by beat every DELIVERY_SWEEP_SECONDS:
    1. a claim whose worker died (rows still 'sending', no progress for DELIVERY_STUCK_SECONDS)
       is recovered: its first open row, the one that may have been in flight, becomes
       'unknown'; the others go back to 'pending';
    2. pending rows whose task never ran (broker down when the edition was built, a task lost)
       are queued again, per edition, at most every DELIVERY_REQUEUE_SECONDS; only rows whose
       hour has been reached by send_due (the edition's queued_until), never early ones;
    3. editions with no open rows are marked done."""
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
        ledger.repair(Delivery.objects.filter(claim=claim, status=Delivery.Status.SENT).values_list("pk", flat=True))
        log.warning("sweep: dead claim %s: 1 unknown, %s back to pending", claim, len(rest))
    requeue_before = now - dt.timedelta(seconds=settings.DELIVERY_REQUEUE_SECONDS)
    # Chunk tasks still waiting in the broker will get to their rows: queueing those rows
    # again would only double the queue (a million-row edition takes longer to drain than
    # DELIVERY_REQUEUE_SECONDS). Rows are re-queued once nothing waits.
    waiting = mail_backlog()
    for edition in Edition.objects.filter(status=Edition.Status.SENDING):
        due_by = edition.queued_until or now
        due = (
            Delivery.objects.filter(edition=edition, status=Delivery.Status.PENDING)
            .filter(Q(due_at__isnull=True) | Q(due_at__lte=due_by))
            .exclude(next_attempt_at__gt=now)
            .exists()
        )
        if due and not waiting and (edition.last_queued_at is None or edition.last_queued_at < requeue_before):
            if requeue(edition.pk):
                report["queued_editions"] += 1
        Edition.finish_if_done(edition.pk)
    return report
