from __future__ import annotations

import csv
from pathlib import Path

from django.core.management.base import BaseCommand
from tqdm import tqdm

from paperpost.commands import fail
from paperpost.csvcells import unescape_cell
from subscribers.imports import Row, import_rows
from subscribers.models import Frequency
from subscribers.services import SubscriberInput

COLUMNS = ("email", "topics", "keywords", "categories", "authors", "about", "like", "strictness", "frequency", "consent",
           "timezone", "hour", "weekday")
# A cell larger than this is refused with a clear error (the csv module's own limit is 128 KB).
MAX_CELL_CHARS = 100_000


class Command(BaseCommand):
    help = (
        "Import already-confirmed subscribers from a CSV file with a header row and the "
        f"columns of add_subscriber: {', '.join(COLUMNS)} (only email is required; topics "
        "are slugs separated by commas inside the cell; consent says how and when the person "
        "agreed). Bad rows are reported and skipped. Addresses that unsubscribed are refused "
        "and counted, unless --resubscribe is given and their row has a consent cell. The rows "
        "are written in one transaction: an import stopped halfway changes nothing, so run it again."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.csv")
        parser.add_argument("--resubscribe", action="store_true",
                            help="bring back addresses that unsubscribed, for rows whose consent cell is filled")

    def handle(self, *args, file, resubscribe, **options):
        path = Path(file)
        rows = self.read(path, resubscribe)
        bars = Bars(len(rows), self.stderr._out)

        def writing(new: int, changed: int) -> None:
            bars.close()
            self.stderr.write(f"checked {len(rows)} rows; writing {new} new and {changed} updated subscribers "
                              "in one transaction (stopped before the end, it writes nothing)")

        try:
            result = import_rows(rows, source=f"import_subscribers {path.name}", resubscribe=resubscribe,
                                 progress=bars.update, on_write=writing)
        finally:
            bars.close()
        for message in result.refused + result.errors:
            self.stderr.write(f"warning: {message}")
        self.stdout.write(f"{result.rows} rows: {result.added} added, {result.updated} updated, "
                          f"{len(result.refused)} refused, {len(result.errors)} errors")
        if result.errors:
            raise fail(f"{len(result.errors)} of {result.rows} rows were not imported; the first: {result.errors[0]}")

    def read(self, path: Path, resubscribe: bool) -> list[Row]:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{path}: cannot read: {exc}")
        csv.field_size_limit(MAX_CELL_CHARS)
        reader = csv.reader(text.splitlines())
        try:
            header = [h.strip().lower() for h in next(reader, [])]
            if "email" not in header:
                raise fail(f"{path}: the header row needs an 'email' column (columns: {', '.join(COLUMNS)})")
            unknown = set(header) - set(COLUMNS) - {""}
            if unknown:
                raise fail(f"{path}: unknown column(s) {', '.join(sorted(unknown))}; known: {', '.join(COLUMNS)}")
            if resubscribe and "consent" not in header:
                raise fail(f"{path}: --resubscribe needs a 'consent' column saying how and when each person "
                           "asked to come back")
            where = {name: header.index(name) for name in COLUMNS if name in header}
            rows = []
            for cells in reader:
                line = reader.line_num  # the last physical line of the row (cells may hold line breaks)
                if not cells:
                    continue  # a blank line
                values = {name: cells[i].strip() if i < len(cells) else "" for name, i in where.items()}
                for name, value in values.items():
                    if value[:1] == "'":
                        values[name] = unescape_cell(value)
                rows.append(Row(line, SubscriberInput(
                    email=values["email"],
                    topics=values.get("topics", ""),
                    keywords=values.get("keywords", ""),
                    categories=values.get("categories", ""),
                    authors=values.get("authors", ""),
                    about=values.get("about", ""),
                    like=values.get("like", ""),
                    strictness=values.get("strictness", ""),
                    frequency=values.get("frequency") or Frequency.DAILY,
                    consent=values.get("consent", ""),
                    timezone=values.get("timezone", ""),
                    hour=values.get("hour", ""),
                    weekday=values.get("weekday", ""),
                )))
        except csv.Error as exc:
            raise fail(f"{path}: line {reader.line_num}: a cell is larger than {MAX_CELL_CHARS:,} characters "
                       f"or the CSV is malformed ({exc})")
        return rows


class Bars:
    """One progress bar per phase ("checking", then "writing"), each over every row; shown
    on a terminal only."""

    def __init__(self, total: int, out):
        self.total, self.out = total, out
        self.bar = None
        self.phase = ""

    def update(self, phase: str, rows: int) -> None:
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=self.total, desc=phase, unit=" rows", disable=None, file=self.out, dynamic_ncols=True)
        self.bar.update(rows)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
