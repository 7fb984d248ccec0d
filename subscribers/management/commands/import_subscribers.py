from __future__ import annotations

import csv
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from tqdm import tqdm

from paperpost.commands import fail
from subscribers.services import SubscriberInput, upsert_confirmed

COLUMNS = ("email", "topics", "keywords", "categories", "authors", "frequency")


class Command(BaseCommand):
    help = (
        "Import already-confirmed subscribers from a CSV file with a header row and the "
        f"columns of add_subscriber: {', '.join(COLUMNS)} (only email is required; topics "
        "are slugs separated by commas inside the cell). Bad rows are reported and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.csv")

    def handle(self, *args, file, **options):
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{path}: cannot read: {exc}")
        reader = csv.DictReader(text.splitlines())
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        if "email" not in header:
            raise fail(f"{path}: the header row needs an 'email' column (columns: {', '.join(COLUMNS)})")
        unknown = set(header) - set(COLUMNS)
        if unknown:
            raise fail(f"{path}: unknown column(s) {', '.join(sorted(unknown))}; known: {', '.join(COLUMNS)}")
        rows = list(reader)
        added = updated = 0
        errors: list[str] = []
        for line, row in enumerate(tqdm(rows, unit=" rows", disable=None, file=self.stderr._out), start=2):
            values = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            data = SubscriberInput(
                email=values.get("email", ""),
                topics=values.get("topics", ""),
                keywords=values.get("keywords", ""),
                categories=values.get("categories", ""),
                authors=values.get("authors", ""),
                frequency=values.get("frequency") or "daily",
            )
            try:
                _, created = upsert_confirmed(data, source=f"import_subscribers {path.name}")
            except ValidationError as exc:
                errors.append(f"line {line}: {'; '.join(exc.messages)}")
                continue
            added += created
            updated += not created
        for error in errors:
            self.stderr.write(f"warning: {error}")
        self.stdout.write(f"{len(rows)} rows: {added} added, {updated} updated, {len(errors)} errors")
        if errors:
            raise fail(f"{len(errors)} of {len(rows)} rows were not imported; the first: {errors[0]}")
