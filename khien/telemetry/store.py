"""Batch inserts for the ingestion hot path, without building one model instance per row.

Django's `bulk_create` prepares every value of every row through the field
classes (about two thirds of the ingestion time in a profile). Here the
columns' adapters are chosen once per model and database, and rows go to the
database as plain tuples with `executemany` and `ON CONFLICT DO NOTHING`
(the same statement on SQLite 3.24+ and PostgreSQL). The values are the ones
Django itself would send: UTC datetimes (text on SQLite), UUIDs as 32 hex
digits on SQLite, JSON as text (cast to jsonb on PostgreSQL), addresses cast to
inet on PostgreSQL. `tests/test_store.py` checks that rows written here read
back through the ORM exactly like rows written by `bulk_create`.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from functools import lru_cache
from itertools import chain
from typing import Callable, Iterable, Sequence

import orjson
from django.db import DatabaseError, connection, models, transaction

log = logging.getLogger(__name__)


def _identity(value):
    return value


def json_text(value) -> str:
    """JSON as text, for a JSON column or a `models.JsonTextField`: JsonText as it is, anything else dumped."""
    if type(value) is JsonText:
        return value
    return orjson.dumps(value).decode()



def _uuid_hex(value):
    if value is None:
        return None
    if type(value) is str and len(value) == 32:  # 32 hex digits already (new alert ids on SQLite)
        return value
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


_UTC = dt.timezone.utc


def sqlite_datetime_value(text: str | None) -> dt.datetime | None:
    """A datetime as Django stores it on SQLite ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC) back to an aware value."""
    if text is None:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=_UTC)


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
        return json_text, ("%s::jsonb" if vendor == "postgresql" else "%s")
    if getattr(target, "stores_json_text", False):  # models.JsonTextField: JSON as plain text
        return json_text, "%s"
    if internal == "GenericIPAddressField":
        return _identity, ("%s::inet" if vendor == "postgresql" else "%s")
    return _identity, "%s"


@lru_cache(maxsize=32)
def _statement(model: type[models.Model], names: tuple[str, ...], vendor: str, native_uuid: bool):
    fields = [model._meta.get_field(name) for name in names]
    adapters, placeholders = zip(*(_column(f, vendor, native_uuid) for f in fields))
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        # No conflict target: the events table's key is (id, time) once partitioned on PostgreSQL.
        f"VALUES ({', '.join(placeholders)}) ON CONFLICT DO NOTHING"
    )
    # Only the columns whose value needs adapting are touched, row by row.
    special = tuple((i, adapt) for i, adapt in enumerate(adapters) if adapt is not _identity)
    return sql, special


def adapt_rows(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence]) -> Iterable[tuple]:
    """The rows as the database driver takes them (same adapters as insert_rows)."""
    _sql, special = _statement(model, tuple(names), connection.vendor, connection.features.has_native_uuid_field)
    if not special:
        for row in rows:
            yield tuple(row)
        return
    # The last value adapted per column, and what it became: a batch repeats the same objects
    # (its source, organization, arrival time; an alert's first and last sighting) row after row.
    last_in = [object()] * len(special)
    last_out = [None] * len(special)
    for row in rows:
        row = list(row)
        for j, (i, adapt) in enumerate(special):
            value = row[i]
            if value is last_in[j]:
                row[i] = last_out[j]
            else:
                row[i] = last_out[j] = adapt(value)
                last_in[j] = value
        yield tuple(row)


def adapter(model: type[models.Model], name: str) -> Callable:
    """The adapter of one column (as in insert_rows), for a value added to rows adapted earlier."""
    return _column(model._meta.get_field(name), connection.vendor, connection.features.has_native_uuid_field)[0]


_SQLITE_ROWS_PER_STATEMENT = 500


@lru_cache(maxsize=32)
def _sqlite_multirow_statement(table: str, columns: tuple[str, ...], rows: int) -> str:
    quote = connection.ops.quote_name
    one = f"({', '.join('?' * len(columns))})"
    return (f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES {', '.join([one] * rows)} "
            f"ON CONFLICT DO NOTHING")


@lru_cache(maxsize=32)
def sqlite_json_insert(table: str, columns: tuple[str, ...], on_conflict: str = "ON CONFLICT DO NOTHING") -> str:
    """SQLite: INSERT of rows given as one JSON array of arrays (one `?` parameter; `sqlite_rows`)."""
    quote = connection.ops.quote_name
    values = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
    return (f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) SELECT {values} "
            f"FROM json_each(?) WHERE true {on_conflict}")


# sqlite_rows: on SQLite, a statement that reads or writes many rows passes them as one JSON parameter or
# returns them as one JSON value (json_each / json_group_array), so that it is one call into the library.
# Python's sqlite3 gives up the global lock for each call and each fetched row; a writer thread that needs
# the lock back thousands of times a batch would wait behind the parsing thread each time (ingest_stream).


def insert_rows(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence], chunk: int = 5000,
                *, adapted: bool = False) -> None:
    """Insert rows (values in the order of `names`, as Python values, or already through `adapt_rows` when
    `adapted`); rows whose primary key exists are skipped.

    SQLite: rows go in statements of several hundred rows each (`INSERT … VALUES (…), (…), …`), the rest in
    one statement reading them from a JSON array (`sqlite_rows`). Either is one call into SQLite, made
    without Python's global lock: another thread (ingest_stream's parsing) runs meanwhile, where
    executemany would take the lock back for every row. Same result, same conflict rule."""
    rows = rows if adapted else adapt_rows(model, names, rows)
    if connection.vendor == "sqlite":
        rows = rows if isinstance(rows, list) else list(rows)
        columns = tuple(model._meta.get_field(name).column for name in names)
        per = min(_SQLITE_ROWS_PER_STATEMENT, 32766 // len(names))  # SQLite's bound-parameter limit
        whole = len(rows) - len(rows) % per
        connection.ensure_connection()
        raw = connection.connection
        for start in range(0, whole, per):
            raw.execute(_sqlite_multirow_statement(model._meta.db_table, columns, per),
                        list(chain.from_iterable(rows[start:start + per])))
        if len(rows) > whole:
            raw.execute(sqlite_json_insert(model._meta.db_table, columns), (orjson.dumps(rows[whole:]).decode(),))
        return
    sql, _special = _statement(model, tuple(names), connection.vendor, connection.features.has_native_uuid_field)
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


# --- PostgreSQL: the events table partitioned by day ----------------------------------------------
#
# Migration 0005 turns telemetry_event into a table partitioned by RANGE ("time"), one partition a
# day (UTC) named telemetry_event_pYYYYMMDD, plus telemetry_event_default for anything that arrives
# for a day without its partition. The primary key is (id, time): the id is derived from the
# content, which includes the time, so a record sent again has the same id and time, lands in the
# same partition and is dropped there as a conflict. Nothing references events by foreign key.

EVENT_TABLE = "telemetry_event"
DEFAULT_PARTITION = f"{EVENT_TABLE}_default"
_known_partitions: set[dt.date] = set()


def partition_name(day: dt.date) -> str:
    return f"{EVENT_TABLE}_p{day:%Y%m%d}"


def is_partitioned() -> bool:
    """True when the events table is partitioned (PostgreSQL after migration 0005)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                       "WHERE c.relname = %s AND c.relnamespace = to_regnamespace(current_schema())", [EVENT_TABLE])
        return cursor.fetchone() is not None


def event_partitions() -> dict[dt.date, str]:
    """The day partitions of the events table: {day: table name} (PostgreSQL; {} elsewhere)."""
    if connection.vendor != "postgresql":
        return {}
    prefix = f"{EVENT_TABLE}_p"
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s", [EVENT_TABLE])
        names = [row[0] for row in cursor.fetchall()]
    found = {}
    for name in names:
        if name.startswith(prefix) and len(name) == len(prefix) + 8 and name[len(prefix):].isdigit():
            found[dt.datetime.strptime(name[len(prefix):], "%Y%m%d").date()] = name
    return found


def ensure_event_partitions(days) -> list[dt.date]:
    """Create the day partitions missing for `days` (PostgreSQL, partitioned table); return those created.

    Each is created in its own savepoint: a day whose rows already sit in the default partition
    cannot get its own partition (PostgreSQL refuses) and simply stays in the default one."""
    days = {d for d in days if d not in _known_partitions}
    if not days or connection.vendor != "postgresql":
        return []
    existing = event_partitions()
    _known_partitions.update(existing)
    created = []
    quote = connection.ops.quote_name
    for day in sorted(days - set(existing)):
        start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
        end = start + dt.timedelta(days=1)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {quote(partition_name(day))} PARTITION OF "
                               f"{quote(EVENT_TABLE)} FOR VALUES FROM (%s) TO (%s)", [start, end])
        except DatabaseError as exc:
            log.warning("telemetry: no partition for %s (%s); its events stay in the default partition", day, exc)
            continue
        created.append(day)
        _known_partitions.add(day)
    return created


def forget_partitions() -> None:
    """Forget the process's list of known partitions (after partitions were dropped)."""
    _known_partitions.clear()


def event_partitions_before(day: dt.date) -> list[str]:
    """Names of the day partitions of days strictly before `day` (PostgreSQL; [] elsewhere)."""
    return [name for partition_day, name in sorted(event_partitions().items()) if partition_day < day]


def drop_event_partitions_before(day: dt.date) -> tuple[int, list[str]]:
    """Drop the day partitions of days strictly before `day`; return (rows they held, names)."""
    dropped, rows = [], 0
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        names = event_partitions_before(day)
        if names:  # deferred foreign-key checks of rows written earlier in this transaction run now, not at DROP
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in names:
            cursor.execute(f"SELECT count(*) FROM {quote(name)}")
            rows += cursor.fetchone()[0]
            cursor.execute(f"DROP TABLE {quote(name)}")
            dropped.append(name)
    forget_partitions()
    return rows, dropped


# --- PostgreSQL: COPY through a staging table ---------------------------------------------------------


def copy_rows(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence]) -> int:
    """PostgreSQL: COPY the rows into a temporary staging table shaped like the model's table, then
    INSERT … SELECT … ON CONFLICT DO NOTHING into the table (duplicates are skipped by the database).
    Returns how many rows were inserted. Values are Python values, as for insert_rows."""
    quote = connection.ops.quote_name
    table = model._meta.db_table
    stage = f"khien_stage_{table}"
    fields = [model._meta.get_field(name) for name in names]
    columns = ", ".join(quote(f.column) for f in fields)
    json_columns = {i for i, f in enumerate(fields) if _column(f, "postgresql", True)[0] is json_text}
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(stage)} "
                       f"(LIKE {quote(table)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        cursor.execute(f"TRUNCATE {quote(stage)}")
        raw_cursor = cursor.cursor
        with raw_cursor.copy(f"COPY {quote(stage)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                if json_columns:
                    row = [json_text(v) if i in json_columns else v for i, v in enumerate(row)]
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {quote(table)} ({columns}) SELECT {columns} FROM {quote(stage)} "
                       f"ON CONFLICT DO NOTHING")
        return cursor.rowcount
