"""Fewer indexes on events (decision 0009): every index is one more B-tree written per ingested event.

Dropped: the single-column indexes on `source_id` and `organization_id` (the composite (source, time)
and (organization, time) indexes lead with those columns and serve the same lookups and foreign-key
checks) and the index on `domain` (the domain search also matches subdomains, `= v OR LIKE '%.v'`,
which no B-tree serves; on PostgreSQL this also drops its `_like` pattern index). On PostgreSQL, the
`_like` (varchar_pattern_ops) index Django adds to the `id` primary key goes too: nothing searches event
ids by prefix, and it was one more B-tree on a random key.

The indexes are dropped by name, found by introspection, so that SQLite does not rebuild the whole
events table (as AlterField would) and PostgreSQL drops each partitioned index with its partitions'.
"""
import django.db.models.deletion
from django.db import migrations, models

COLUMNS = ({"domain"}, {"organization_id"}, {"source_id"}, {"id"})  # "id": only its non-unique _like index


def drop_indexes(apps, schema_editor):
    connection = schema_editor.connection
    quote = schema_editor.quote_name
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "telemetry_event")
    for name, info in constraints.items():
        if not info.get("index") or info.get("primary_key") or info.get("unique") or info.get("foreign_key"):
            continue
        if set(info.get("columns") or ()) in COLUMNS:
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def create_indexes(apps, schema_editor):
    Event = apps.get_model("telemetry", "Event")
    for name in ("domain", "organization", "source"):
        field = Event._meta.get_field(name)
        for sql in schema_editor._field_indexes_sql(Event, field):
            schema_editor.execute(sql)
    if connection_is_postgres(schema_editor):
        sql = schema_editor._create_like_index_sql(Event, Event._meta.get_field("id"))
        if sql is not None:
            schema_editor.execute(sql)


def connection_is_postgres(schema_editor):
    return schema_editor.connection.vendor == "postgresql"


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0001_initial"),
        ("telemetry", "0005_event_partitions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="domain",
                    field=models.CharField(blank=True, max_length=255, verbose_name="domain"),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="organization",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                            to="registry.organization", verbose_name="organization"),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="source",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="events", to="telemetry.alertsource", verbose_name="source"),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
