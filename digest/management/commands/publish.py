from __future__ import annotations

from django.core.management.base import BaseCommand

from digest.models import Batch
from paperpost.commands import fail, iso_date


class Command(BaseCommand):
    help = "Publish a day's batch (the latest batch by default) so that it shows on the site and can be sent."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD")

    def handle(self, *args, date, **options):
        batches = Batch.objects.all()
        batch = batches.filter(date=date).first() if date else batches.order_by("-date").first()
        if batch is None:
            raise fail(f"no batch for {date}" if date else "no batch yet: run `manage.py ingest` first")
        visible = batch.entries.filter(hidden=False).count()
        if visible == 0:
            raise fail(f"the batch of {batch.date} has no visible papers; nothing to publish")
        if batch.publish():
            self.stdout.write(f"published the batch of {batch.date}: {visible} papers")
        else:
            self.stdout.write(f"the batch of {batch.date} was already published ({visible} papers)")
