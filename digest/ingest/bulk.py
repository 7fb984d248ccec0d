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
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"
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
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            cursor.executemany(sql, [tuple(get(obj) for get in getters) for obj in chunk])
