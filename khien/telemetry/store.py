"""Batch inserts for the ingestion hot path, without building one model instance per row.

Django's `bulk_create` prepares every value of every row through the field
classes (about two thirds of the ingestion time in a profile). Here the
columns' adapters are chosen once per model and database, and rows go to the
database as plain tuples with `executemany` and `ON CONFLICT (pk) DO NOTHING`
(the same statement on SQLite 3.24+ and PostgreSQL). The values are the ones
Django itself would send: UTC datetimes (text on SQLite), UUIDs as 32 hex
digits on SQLite, JSON as text (cast to jsonb on PostgreSQL), addresses cast to
inet on PostgreSQL. `tests/test_store.py` checks that rows written here read
back through the ORM exactly like rows written by `bulk_create`.
"""
from __future__ import annotations

import datetime as dt
import uuid
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import orjson
from django.db import connection, models


def _identity(value):
    return value


def _json(value):
    if type(value) is JsonText:
        return value
    return orjson.dumps(value).decode()


def _uuid_hex(value):
    if value is None:
        return None
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


_UTC = dt.timezone.utc


def _sqlite_datetime(value: dt.datetime | None):
    if value is None:
        return None
    if value.tzinfo is _UTC:  # the parsers' output: "YYYY-MM-DD HH:MM:SS[.ffffff]+00:00" without the offset
        return str(value)[:-6]
    return str(value.astimezone(_UTC).replace(tzinfo=None))


class JsonText(str):
    """A value that is already JSON text (e.g. a record's canonical bytes, decoded): stored as is."""

    __slots__ = ()


def _column(field: models.Field, vendor: str, native_uuid: bool) -> tuple[Callable, str]:
    """(adapter, placeholder) for one concrete field."""
    target = field.target_field if field.is_relation else field
    internal = target.get_internal_type()
    if internal == "UUIDField":
        return (_identity if native_uuid else _uuid_hex), "%s"
    if internal == "DateTimeField":
        return (_identity if vendor != "sqlite" else _sqlite_datetime), "%s"
    if internal == "JSONField":
        return _json, ("%s::jsonb" if vendor == "postgresql" else "%s")
    if internal == "GenericIPAddressField":
        return _identity, ("%s::inet" if vendor == "postgresql" else "%s")
    return _identity, "%s"


@lru_cache(maxsize=32)
def _statement(model: type[models.Model], names: tuple[str, ...], vendor: str, native_uuid: bool):
    fields = [model._meta.get_field(name) for name in names]
    adapters, placeholders = zip(*(_column(f, vendor, native_uuid) for f in fields))
    quote = connection.ops.quote_name
    pk = model._meta.pk.column
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(placeholders)}) ON CONFLICT ({quote(pk)}) DO NOTHING"
    )
    # Only the columns whose value needs adapting are touched, row by row.
    special = tuple((i, adapt) for i, adapt in enumerate(adapters) if adapt is not _identity)
    return sql, special


def adapt_rows(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence]) -> Iterable[tuple]:
    """The rows as the database driver takes them (same adapters as insert_rows)."""
    _sql, special = _statement(model, tuple(names), connection.vendor, connection.features.has_native_uuid_field)
    for row in rows:
        if special:
            row = list(row)
            for i, adapt in special:
                row[i] = adapt(row[i])
        yield tuple(row)


def insert_rows(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence], chunk: int = 5000) -> None:
    """Insert rows (values in the order of `names`, as Python values); rows whose primary key exists are skipped."""
    sql, _special = _statement(model, tuple(names), connection.vendor, connection.features.has_native_uuid_field)
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for row in adapt_rows(model, names, rows):
            batch.append(row)
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
