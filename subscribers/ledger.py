"""The ledger of sent papers (SentPaper): which paper reached which subscriber, so that a
paper never reaches the same subscriber twice (a weekly digest after daily ones, a paper
re-featured on a later day).

Sending writes it in batches (flush); a crash between a send and the flush is repaired by
the sweep from Delivery.papers, which is written together with the 'sent' status (repair);
old rows are forgotten after SENT_LEDGER_DAYS (prune)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from paperpost.bulk import insert_ignore

from .models import Delivery, SentPaper

log = logging.getLogger(__name__)

# Rows (subscriber, paper, delivery) a sending worker keeps before it writes them.
FLUSH_ROWS = 500
COLUMNS = ["subscriber", "paper", "delivery"]


def flush(rows: list[tuple[int, int, int]]) -> None:
    """Write (subscriber, paper, delivery) rows, skipping those already there; empties `rows`."""
    if rows:
        insert_ignore(SentPaper, COLUMNS, rows)
        rows.clear()


def already_sent(subscriber_ids, paper_ids) -> dict[int, set[int]]:
    """subscriber id -> the ids among `paper_ids` that already reached them."""
    out: dict[int, set[int]] = {}
    for subscriber_id, paper_id in SentPaper.objects.filter(
        subscriber_id__in=list(subscriber_ids), paper_id__in=list(paper_ids)
    ).values_list("subscriber_id", "paper_id"):
        out.setdefault(subscriber_id, set()).add(paper_id)
    return out


def repair(delivery_ids) -> int:
    """Write the SentPaper rows of sent deliveries from their recorded papers (idempotent)."""
    rows = []
    for pk, subscriber_id, papers in Delivery.objects.filter(
        pk__in=list(delivery_ids), status=Delivery.Status.SENT
    ).values_list("pk", "subscriber_id", "papers"):
        rows += [(subscriber_id, p["paper"], pk) for p in papers or []]
    insert_ignore(SentPaper, COLUMNS, rows)
    return len(rows)


def prune(now: dt.datetime | None = None, chunk: int = 5000) -> int:
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
