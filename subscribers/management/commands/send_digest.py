from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from tqdm import tqdm

from digest.models import Batch
from paperpost.commands import fail, iso_date
from subscribers.delivery import NothingToSend, build_edition
from subscribers.models import Delivery, Frequency


class Command(BaseCommand):
    help = (
        "Build the edition of a published batch for one frequency group and queue its "
        "deliveries. Running it again sends nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD",
                            help="the batch date (default: the latest published batch)")
        parser.add_argument("--frequency", choices=Frequency.values, default=Frequency.DAILY)
        parser.add_argument("--wait", action="store_true",
                            help="block until every delivery has an outcome, then print the counts")
        parser.add_argument("--timeout", type=float, default=3600,
                            help="seconds --wait waits at most (default 3600)")

    def handle(self, *args, date, frequency, wait, timeout, **options):
        published = Batch.objects.published()
        batch = published.filter(date=date).first() if date else published.order_by("-date").first()
        if batch is None:
            if date and Batch.objects.filter(date=date).exists():
                raise fail(f"the batch of {date} is not published: run `manage.py publish --date {date}`")
            raise fail(f"no published batch for {date}" if date else "no published batch: run `manage.py publish`")
        try:
            edition, added = build_edition(batch, frequency)
        except NothingToSend as exc:
            raise fail(str(exc))
        total = edition.deliveries.count()
        self.stdout.write(f"edition {edition}: {added} new deliveries queued ({total} in all)")
        if not wait:
            return
        counts = self._wait(edition, total, timeout)
        status = Delivery.Status
        self.stdout.write(f"sent {counts[status.SENT]}, skipped {counts[status.SKIPPED]}, "
                          f"failed {counts[status.FAILED]}, unknown {counts[status.UNKNOWN]}")
        still_open = sum(counts[s] for s in Delivery.OPEN)
        if still_open:
            raise fail(f"timed out after {timeout:.0f}s with {still_open} deliveries open")
        if counts[status.FAILED]:
            raise fail(f"{counts[status.FAILED]} deliveries failed; see Deliveries in the admin for the errors")

    def _wait(self, edition, total, timeout):
        deadline = time.monotonic() + timeout
        with tqdm(total=total, unit="msg", desc="delivering", disable=None, file=self.stderr._out) as bar:
            while True:
                counts = edition.status_counts()
                done = total - sum(counts[s] for s in Delivery.OPEN)
                bar.update(done - bar.n)
                if done >= total or time.monotonic() > deadline:
                    return counts
                time.sleep(0.2)
