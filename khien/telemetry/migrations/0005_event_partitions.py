"""PostgreSQL: the events table becomes partitioned by day (RANGE on "time"); nothing changes on SQLite.

The table is rebuilt: a partitioned copy with the same columns, defaults and
CHECK constraints, primary key (id, time) — the id is derived from the
content, which includes the time, so idempotency is unchanged — one partition
per day already holding events, a default partition as a safety net, then the
same indexes (same names, so later migrations find them) and foreign keys.
Nothing references telemetry_event by foreign key (IndicatorHit keeps the
event id as text). Reversible: the reverse rebuilds a plain table.
"""
from django.db import migrations

TABLE = "telemetry_event"


def _definitions(cursor, table):
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                   "AND tablename = %s", [table])
    indexes = cursor.fetchall()
    cursor.execute("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conrelid = %s::regclass AND contype IN ('p', 'f')", [table])
    constraints = cursor.fetchall()
    return indexes, constraints


def _rebuild(schema_editor, partitioned: bool):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                       "WHERE c.relname = %s AND c.relnamespace = to_regnamespace(current_schema())", [TABLE])
        if (cursor.fetchone() is not None) == partitioned:
            return
        indexes, constraints = _definitions(cursor, TABLE)
        pkey = next(name for name, kind, _d in constraints if kind == "p")
        cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{TABLE}_old"')
        for name, _def in indexes:
            cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{name[:50]}_old{abs(hash(name)) % 10**6}"')
        for name, kind, _def in constraints:
            if kind == "f":
                cursor.execute(f'ALTER TABLE "{TABLE}_old" RENAME CONSTRAINT "{name}" TO "{name[:50]}_old"')
        suffix = ' PARTITION BY RANGE ("time")' if partitioned else ""
        cursor.execute(f'CREATE TABLE "{TABLE}" (LIKE "{TABLE}_old" INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                       f'INCLUDING STORAGE){suffix}')
        key = '(id, "time")' if partitioned else "(id)"
        if partitioned:
            cursor.execute(f'SELECT DISTINCT ("time" AT TIME ZONE \'UTC\')::date FROM "{TABLE}_old"')
            for (day,) in cursor.fetchall():
                cursor.execute(f'CREATE TABLE "{TABLE}_p{day:%Y%m%d}" PARTITION OF "{TABLE}" '
                               f"FOR VALUES FROM (%s::date::timestamp AT TIME ZONE 'UTC') "
                               f"TO ((%s::date + 1)::timestamp AT TIME ZONE 'UTC')", [day, day])
            cursor.execute(f'CREATE TABLE "{TABLE}_default" PARTITION OF "{TABLE}" DEFAULT')
        cursor.execute(f'INSERT INTO "{TABLE}" SELECT * FROM "{TABLE}_old"')
        cursor.execute(f'DROP TABLE "{TABLE}_old"')
        cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{pkey}" PRIMARY KEY {key}')
        for name, definition in indexes:
            if name == pkey:
                continue
            # "CREATE [UNIQUE] INDEX name ON [ONLY] schema.telemetry_event USING …": the same, on the new table.
            definition = definition.replace(" ON ONLY ", " ON ")
            cursor.execute(definition)
        for name, kind, definition in constraints:
            if kind == "f":
                cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" {definition}')


def forwards(apps, schema_editor):
    _rebuild(schema_editor, partitioned=True)


def backwards(apps, schema_editor):
    _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    atomic = True

    dependencies = [
        ("telemetry", "0004_matching"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
