from __future__ import annotations

import csv
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from tqdm import tqdm

from paperpost.commands import fail
from paperpost.csvcells import unescape_cell
from subscribers.services import Refused, SubscriberInput, upsert_confirmed

COLUMNS = ("email", "topics", "keywords", "categories", "authors", "about", "like", "strictness", "frequency", "consent")
# A cell larger than this is refused with a clear error (the csv module's own limit is 128 KB).
MAX_CELL_CHARS = 100_000


class Command(BaseCommand):
    help = (
        "Import already-confirmed subscribers from a CSV file with a header row and the "
        f"columns of add_subscriber: {', '.join(COLUMNS)} (only email is required; topics "
        "are slugs separated by commas inside the cell; consent says how and when the person "
        "agreed). Bad rows are reported and skipped. Addresses that unsubscribed are refused "
        "and counted, unless --resubscribe is given and their row has a consent cell."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.csv")
        parser.add_argument("--resubscribe", action="store_true",
                            help="bring back addresses that unsubscribed, for rows whose consent cell is filled")

    def handle(self, *args, file, resubscribe, **options):
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{path}: cannot read: {exc}")
        csv.field_size_limit(MAX_CELL_CHARS)
        reader = csv.DictReader(text.splitlines())
        try:
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            if "email" not in header:
                raise fail(f"{path}: the header row needs an 'email' column (columns: {', '.join(COLUMNS)})")
            unknown = set(header) - set(COLUMNS)
            if unknown:
                raise fail(f"{path}: unknown column(s) {', '.join(sorted(unknown))}; known: {', '.join(COLUMNS)}")
            if resubscribe and "consent" not in header:
                raise fail(f"{path}: --resubscribe needs a 'consent' column saying how and when each person "
                           "asked to come back")
            rows = list(reader)
        except csv.Error as exc:
            raise fail(f"{path}: line {reader.line_num}: a cell is larger than {MAX_CELL_CHARS:,} characters "
                       f"or the CSV is malformed ({exc})")
        added = updated = refused = 0
        errors: list[str] = []
        warnings: list[str] = []
        for line, row in enumerate(tqdm(rows, unit=" rows", disable=None, file=self.stderr._out), start=2):
            values = {k.strip().lower(): unescape_cell((v or "").strip()) for k, v in row.items() if k}
            data = SubscriberInput(
                email=values.get("email", ""),
                topics=values.get("topics", ""),
                keywords=values.get("keywords", ""),
                categories=values.get("categories", ""),
                authors=values.get("authors", ""),
                about=values.get("about", ""),
                like=values.get("like", ""),
                strictness=values.get("strictness", ""),
                frequency=values.get("frequency") or "daily",
                consent=values.get("consent", ""),
            )
            try:
                _, created = upsert_confirmed(data, source=f"import_subscribers {path.name}", resubscribe=resubscribe)
            except ValidationError as exc:
                errors.append(f"line {line}: {'; '.join(exc.messages)}")
                continue
            except Refused as exc:
                refused += 1
                warnings.append(f"line {line}: {exc}")
                continue
            added += created
            updated += not created
        for message in warnings + errors:
            self.stderr.write(f"warning: {message}")
        self.stdout.write(f"{len(rows)} rows: {added} added, {updated} updated, {refused} refused, {len(errors)} errors")
        if errors:
            raise fail(f"{len(errors)} of {len(rows)} rows were not imported; the first: {errors[0]}")
