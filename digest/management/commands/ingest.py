from __future__ import annotations

from django.core.management.base import BaseCommand
from tqdm import tqdm

from digest.corpus import dense_encoder
from digest.ingest.pipeline import IngestError, ingest_path, ingest_source, ingest_url
from digest.ingest.store import StoreSummary
from digest.models import Source
from digest.vectors import embed_recent
from paperpost.commands import fail, iso_date


class Command(BaseCommand):
    help = (
        "Ingest papers from files or http(s) URLs into the batch of their announce date. The "
        "format (arXiv RSS 2.0 or 1.0, arXiv API Atom, Hugging Face daily-papers JSON, "
        "daily-papers page text) is detected from the content. With no argument, ingests "
        "every enabled Source."
    )

    def add_arguments(self, parser):
        parser.add_argument("inputs", nargs="*", metavar="PATH_OR_URL")
        parser.add_argument("--source", metavar="NAME", help="ingest only this Source (by name)")
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD",
                            help="put every paper into this day's batch")
        parser.add_argument("--dry-run", action="store_true", help="parse and count, store nothing")
        parser.add_argument("--force", action="store_true",
                            help="for sources: fetch even if unchanged since the last fetch")

    def embed(self) -> None:
        """With the dense encoder on, keep the new papers' vectors now (digest.vectors.embed_recent)."""
        encoder = dense_encoder()
        if encoder is not None:
            done = embed_recent(encoder)
            self.stdout.write(f"embedded {done} new papers with the dense encoder")

    def handle(self, *args, inputs, source, date, dry_run, force, **options):
        jobs = []
        if inputs and source:
            raise fail("give paths/URLs or --source, not both")
        if source:
            found = Source.objects.filter(name=source).first()
            if found is None:
                known = ", ".join(Source.objects.values_list("name", flat=True)) or "none"
                raise fail(f"no source named {source!r}; known sources: {known}")
            jobs.append((found.name, lambda p, s=found: ingest_source(s, date=date, dry_run=dry_run, force=True, progress=p)))
        elif inputs:
            for item in inputs:
                if "://" in item:
                    jobs.append((item, lambda p, u=item: ingest_url(u, date=date, dry_run=dry_run, progress=p)))
                else:
                    jobs.append((item, lambda p, f=item: ingest_path(f, date=date, dry_run=dry_run, progress=p)))
        else:
            for found in Source.objects.filter(enabled=True):
                jobs.append((found.name, lambda p, s=found: ingest_source(s, date=date, dry_run=dry_run, force=force, progress=p)))
            if not jobs:
                raise fail("nothing to ingest: give a path or URL, or add a Source in the admin")

        total, failures = StoreSummary(), []
        for label, job in jobs:
            with tqdm(desc=label[-40:], unit=" papers", disable=None, file=self.stderr._out, leave=False) as bar:
                try:
                    summary = job(bar.update)
                except IngestError as exc:
                    failures.append(str(exc))
                    self.stderr.write(f"error: {exc}")
                    continue
            for message in summary.messages:
                self.stderr.write(f"warning: {label}: {message}")
            self.stdout.write(f"{label}: {summary.line()}")
            total.add(summary)
        if len(jobs) > 1:
            self.stdout.write(f"total: {total.line()}")
        if dry_run:
            self.stdout.write("dry run: nothing was stored")
        elif total.new or total.updated:
            self.embed()
        if failures:
            raise fail(f"{len(failures)} of {len(jobs)} inputs failed: {failures[0]}")
