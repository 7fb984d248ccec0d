from __future__ import annotations

from django.core.management.base import BaseCommand

from digest.ingest.pipeline import IngestError, ingest_path
from digest.ingest.store import StoreSummary
from paperpost.commands import fail, iso_date


class Command(BaseCommand):
    help = (
        "Ingest papers from files or URLs (format detected from the content) into the batch "
        "of their announce date. With no argument, ingests every enabled Source."
    )

    def add_arguments(self, parser):
        parser.add_argument("inputs", nargs="*", metavar="PATH_OR_URL")
        parser.add_argument("--source", metavar="NAME", help="ingest only this Source")
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD",
                            help="put every paper into this day's batch")
        parser.add_argument("--dry-run", action="store_true",
                            help="parse and count, store nothing")

    def handle(self, *args, inputs, source, date, dry_run, **options):
        total = StoreSummary()
        failures = []
        for item in inputs:
            try:
                summary = ingest_path(item, date=date, dry_run=dry_run)
            except IngestError as exc:
                failures.append(str(exc))
                self.stderr.write(f"error: {exc}")
                continue
            for message in summary.messages:
                self.stderr.write(f"warning: {item}: {message}")
            self.stdout.write(f"{item}: {summary.line()}")
            total.add(summary)
        if len(inputs) > 1:
            self.stdout.write(f"total: {total.line()}")
        if dry_run:
            self.stdout.write("dry run: nothing was stored")
        if failures:
            raise fail(f"{len(failures)} of {len(inputs)} inputs failed: {failures[0]}")
