"""A leaner bulk INSERT than QuerySet.bulk_create for the ingest hot path.

bulk_create prepares every value through the SQL compiler; for 1,504 papers of 33 columns
that was half of the store step (benchmarks/ingest.py). Here plain str, int and bool values
go to the driver as they are, and only fields that need adapting (JSON, dates, UUIDs) go
through Field.get_db_prep_save, so the database sees exactly what Django would send."""

from __future__ import annotations

from django.db import connection, models

_PLAIN = (
    models.CharField, models.TextField, models.IntegerField, models.BooleanField,
    models.PositiveIntegerField, models.PositiveSmallIntegerField,
)


def _needs_prep(field) -> bool:
    if isinstance(field, models.ForeignKey):
        return False
    return not isinstance(field, _PLAIN) or isinstance(field, models.JSONField)


def insert_rows(model: type[models.Model], objs: list[models.Model], batch_size: int = 500) -> None:
    """INSERT the objects (primary keys are assigned by the database and not read back)."""
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for obj in objs:
        for f in fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                f.pre_save(obj, add=True)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "
    # Several rows per statement (one round trip each), within the backend's parameter limit.
    max_params = connection.features.max_query_params or 65535
    rows_per_statement = max(1, min(batch_size, (max_params - 1) // len(fields)))
    getters = []
    for f in fields:
        if isinstance(f, models.DateTimeField):
            # Every row of one store shares its timestamps: adapt each distinct value once.
            memo: dict = {}

            def get(obj, f=f, memo=memo):
                value = getattr(obj, f.attname)
                if value not in memo:
                    memo[value] = f.get_db_prep_save(value, connection)
                return memo[value]

            getters.append(get)
        elif _needs_prep(f):
            getters.append(lambda obj, f=f: f.get_db_prep_save(getattr(obj, f.attname), connection))
        else:
            getters.append(lambda obj, a=f.attname: getattr(obj, a))
    if connection.vendor == "postgresql":
        # COPY streams every row in one command: no per-statement parsing of 16k placeholders.
        copy_sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
            for obj in objs:
                copy.write_row(tuple(get(obj) for get in getters))
        return
    with connection.cursor() as cursor:
        for start in range(0, len(objs), rows_per_statement):
            chunk = objs[start : start + rows_per_statement]
            params = [get(obj) for obj in chunk for get in getters]
            cursor.execute(head + ", ".join([row] * len(chunk)), params)


def insert_ignore(model: type[models.Model], columns: list[str], rows: list[tuple], batch_size: int = 500) -> None:
    """INSERT plain tuples, skipping rows that break a unique constraint (SQLite's OR IGNORE,
    PostgreSQL's ON CONFLICT DO NOTHING). For hot paths where model instances cost more
    than the insert itself; values must already be in database form (ids, strings)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(c).column for c in columns]
    head = "INSERT OR IGNORE INTO" if connection.vendor == "sqlite" else "INSERT INTO"
    tail = "" if connection.vendor == "sqlite" else " ON CONFLICT DO NOTHING"
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    max_params = connection.features.max_query_params or 65535
    per_statement = max(1, min(batch_size, (max_params - 1) // len(columns)))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cursor.execute(
                f"{head} {quote(model._meta.db_table)} ({', '.join(quote(f) for f in fields)}) VALUES "
                + ", ".join([row] * len(chunk)) + tail,
                [value for r in chunk for value in r],
            )
