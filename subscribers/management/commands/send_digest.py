from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Min
from django.utils import timezone
from tqdm import tqdm

from digest.models import Batch
from paperpost.commands import fail, iso_date
from subscribers import delivery
from subscribers.delivery import NothingToSend, build_edition
from subscribers.models import Delivery, Frequency


class Command(BaseCommand):
    help = (
        "Build the edition of a published batch for one frequency group and queue the "
        "deliveries that are due (each subscriber's own hour; beat's send_due queues the rest "
        "when it comes). Running it again sends nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD",
                            help="the batch date (default: the latest published batch)")
        parser.add_argument("--frequency", choices=Frequency.values, default=Frequency.DAILY)
        parser.add_argument("--wait", action="store_true",
                            help="block until every delivery has an outcome, then print the counts")
        parser.add_argument("--timeout", type=float, default=3600,
                            help="seconds --wait waits at most (default 3600)")
        parser.add_argument("--stall", type=float, default=None, metavar="SECONDS",
                            help="--wait gives up when nothing has moved for this long and no retry is "
                                 "scheduled (default: long enough for the sweep to act, "
                                 "DELIVERY_STUCK_SECONDS + DELIVERY_REQUEUE_SECONDS + 2 sweeps)")

    def handle(self, *args, date, frequency, wait, timeout, stall, **options):
        published = Batch.objects.published()
        batch = published.filter(date=date).first() if date else published.order_by("-date").first()
        if batch is None:
            if date and Batch.objects.filter(date=date).exists():
                raise fail(f"the batch of {date} is not published: run `manage.py publish --date {date}`")
            raise fail(f"no published batch for {date}" if date else "no published batch: run `manage.py publish`")
        now = timezone.now()
        try:
            edition, added = build_edition(batch, frequency, now=now)
        except NothingToSend as exc:
            raise fail(str(exc))
        total = edition.deliveries.count()
        later = edition.deliveries.filter(due_at__gt=now)
        self.stdout.write(f"edition {edition}: {added} new deliveries ({total} in all)")
        if later.exists():
            first = later.aggregate(m=Min("due_at"))["m"]
            self.stdout.write(f"{total - later.count()} due now; {later.count()} wait for their subscribers' "
                              f"hour (the next at {first:%Y-%m-%d %H:%M} UTC; beat's send_due queues them)")
        if not wait:
            return
        total -= later.count()
        if stall is None:
            stall = (settings.DELIVERY_STUCK_SECONDS + settings.DELIVERY_REQUEUE_SECONDS
                     + 2 * settings.DELIVERY_SWEEP_SECONDS)
        counts, stalled = self._wait(edition, total, timeout, stall, now)
        status = Delivery.Status
        self.stdout.write(f"sent {counts[status.SENT]}, skipped {counts[status.SKIPPED]}, "
                          f"failed {counts[status.FAILED]}, unknown {counts[status.UNKNOWN]}")
        still_open = sum(counts[s] for s in Delivery.OPEN)
        if still_open:
            why = delivery.open_errors(edition)
            hint = (f"; last error: {why}" if why else
                    "; is a worker consuming the `mail` queue, and beat running the sweep?")
            if stalled:
                raise fail(f"no progress for {stall:.0f}s with {still_open} deliveries open{hint}")
            raise fail(f"timed out after {timeout:.0f}s with {still_open} deliveries open{hint}")
        if counts[status.FAILED]:
            why = delivery.failed_errors(edition)
            raise fail(f"{counts[status.FAILED]} deliveries failed ({why}); see Deliveries in the admin")

    def _wait(self, edition, total, timeout, stall, due_by) -> tuple[dict, bool]:
        """Poll until every row due by `due_by` has an outcome, the timeout passes, or nothing
        moves for `stall` seconds while no retry is scheduled. Returns (counts, stalled)."""
        deadline = time.monotonic() + timeout
        last, moved = None, time.monotonic()
        with tqdm(total=total, unit="msg", desc="delivering", disable=None, file=self.stderr._out) as bar:
            while True:
                counts = edition.status_counts(due_by)
                now = time.monotonic()
                if counts != last:
                    last, moved = counts, now
                done = total - sum(counts[s] for s in Delivery.OPEN)
                bar.update(done - bar.n)
                if done >= total or now > deadline:
                    return counts, False
                if now - moved > stall and not delivery.retry_scheduled(edition):
                    return counts, True
                # Counting a million rows is not free: look less often at large editions.
                time.sleep(max(0.2, min(5.0, total / 200_000)))
