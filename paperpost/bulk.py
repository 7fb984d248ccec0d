"""Leaner bulk statements than the ORM's, for the ingest and import hot paths.

bulk_create prepares every value through the SQL compiler; for 1,504 papers of 33 columns
that was half of the store step (benchmarks/ingest.py), and bulk_update's CASE WHEN costs
milliseconds a row (benchmarks/imports.py). Here plain str, int and bool values go to the
driver as they are, and only fields that need adapting (JSON, dates, UUIDs) go through
Field.get_db_prep_save, so the database sees exactly what Django would send."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

_PLAIN = (
    models.CharField, models.TextField, models.IntegerField, models.BooleanField,
    models.PositiveIntegerField, models.PositiveSmallIntegerField,
)


def _needs_prep(field) -> bool:
    if isinstance(field, models.ForeignKey):
        return False
    return not isinstance(field, _PLAIN) or isinstance(field, models.JSONField)


def insert_rows(model: type[models.Model], objs: list, batch_size: int = 500) -> None:
    """INSERT the objects (model instances, or plain records with an attribute per field);
    primary keys are assigned by the database and not read back."""
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            # The rows of one call share their timestamps (so each is adapted once, below).
            value = f.pre_save(objs[0], add=True)
            for obj in objs:
                setattr(obj, f.attname, value)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "
    # Several rows per statement (one round trip each), within the backend's parameter limit.
    max_params = connection.features.max_query_params or 65535
    rows_per_statement = max(1, min(batch_size, (max_params - 1) // len(fields)))
    getters = [_getter(f) for f in fields]
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


def _getter(field):
    """A function from an object to the field's value in database form. Plain str, int and
    bool values go as they are; datetimes (usually one shared timestamp) are adapted once per
    distinct value; None stays None, except in JSON, where it means JSON null."""
    real = connections[DEFAULT_DB_ALIAS]  # the connection itself, not the per-call proxy lookup
    name = field.attname
    if not _needs_prep(field):
        return lambda obj: getattr(obj, name)
    if isinstance(field, models.JSONField):
        return lambda obj: field.get_db_prep_save(getattr(obj, name), real)
    if isinstance(field, models.DateTimeField):
        memo: dict = {None: None}

        def get_datetime(obj):
            value = getattr(obj, name)
            if value not in memo:
                memo[value] = field.get_db_prep_save(value, real)
            return memo[value]

        return get_datetime

    def get(obj):
        value = getattr(obj, name)
        return None if value is None else field.get_db_prep_save(value, real)

    return get


def update_rows(model: type[models.Model], objs: list, field_names: list[str], batch_size: int = 1000) -> None:
    """UPDATE these fields of the objects (model instances or plain records), by primary key.
    bulk_update's CASE WHEN expressions cost milliseconds a row to build; auto_now fields are
    left alone, as bulk_update leaves them. SQLite runs one prepared statement for every row
    (executemany); PostgreSQL joins a VALUES list per batch of rows, which spares it a
    statement (and its WAL record) per row."""
    if not objs:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), model._meta.pk
    getters = [_getter(f) for f in fields]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            cursor.executemany(f"UPDATE {table} SET {sets} WHERE {quote(pk.column)} = %s",
                               [[get(obj) for get in getters] + [obj.pk] for obj in objs])
            return
        # VALUES gives its columns the type of their literals (text, or nothing for NULL): cast
        # each to its column's type.
        names = ["pk"] + [f"v{i}" for i in range(len(fields))]
        sets = ", ".join(f"{quote(f.column)} = CAST(v.{name} AS {f.db_type(connection)})"
                         for f, name in zip(fields, names[1:]))
        row = "(" + ", ".join(["%s"] * len(names)) + ")"
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row] * len(chunk))}) AS v({', '.join(names)}) "
                f"WHERE {table}.{quote(pk.column)} = CAST(v.pk AS {pk.db_type(connection)})",
                [value for obj in chunk for value in [obj.pk] + [get(obj) for get in getters]],
            )


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


def select_in(model: type[models.Model], key_sql: str, keys: list, columns: list[str],
              for_update: bool = False, chunk: int = 900) -> list[tuple]:
    """SELECT key_sql and the columns of the rows whose key_sql (an SQL expression over the
    model's table, e.g. "LOWER(email)") is one of `keys`, a chunk of keys per statement
    (under SQLite's 999 parameters). Values come as the driver gives them: no converters,
    so SQLite's datetimes are strings. For look-ups of many thousands of keys, where the
    ORM spends more time preparing each value of an IN list than the database needs."""
    quote = connection.ops.quote_name
    names = ", ".join([key_sql] + [quote(model._meta.get_field(c).column) for c in columns])
    lock = " FOR UPDATE" if for_update and connection.features.has_select_for_update else ""
    found: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(keys), chunk):
            part = keys[start : start + chunk]
            cursor.execute(f"SELECT {names} FROM {quote(model._meta.db_table)} "
                           f"WHERE {key_sql} IN ({', '.join(['%s'] * len(part))}){lock}", part)
            found.extend(cursor.fetchall())
    return found


def delete_in(model: type[models.Model], column: str, keys: list, chunk: int = 900) -> None:
    """DELETE the rows whose column is one of `keys` (select_in's counterpart: no signals,
    no cascades; for link tables such as a many-to-many's)."""
    quote = connection.ops.quote_name
    name = quote(model._meta.get_field(column).column)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), chunk):
            part = keys[start : start + chunk]
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)} WHERE {name} IN ({', '.join(['%s'] * len(part))})",
                           part)
