"""Cheaper rows for ingestion (decision 0009).

- An event's raw record and an alert's observables as JSON text instead of JSON: SQLite checked JSON_VALID
  on every insert (about half of an event's insert time) and PostgreSQL parsed every record into jsonb;
  nothing searches inside them. The API still returns them as JSON (the field decodes them when read).
  SQLite rebuilds the two tables; PostgreSQL converts the columns (`USING …::text`, in every partition).
- The single-column indexes Django made for the alert's `source` and `organization` foreign keys are
  dropped: the (source, key, last_seen) and (organization, last_seen) indexes lead with those columns.
  Dropped by name, found by introspection (as in 0006), so that no table is rebuilt for them.
"""
import django.db.models.deletion
from django.db import migrations, models

import khien.telemetry.models

COLUMNS = ({"organization_id"}, {"source_id"})


def drop_indexes(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "telemetry_alert")
    for name, info in constraints.items():
        if not info.get("index") or info.get("primary_key") or info.get("unique") or info.get("foreign_key"):
            continue
        if set(info.get("columns") or ()) in COLUMNS:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_indexes(apps, schema_editor):
    Alert = apps.get_model("telemetry", "Alert")
    for name in ("organization", "source"):
        for sql in schema_editor._field_indexes_sql(Alert, Alert._meta.get_field(name)):
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0001_initial"),
        ("telemetry", "0006_event_fewer_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="raw",
            field=khien.telemetry.models.JsonTextField(verbose_name="raw record"),
        ),
        migrations.AlterField(
            model_name="alert",
            name="observables",
            field=khien.telemetry.models.JsonTextField(default=dict, verbose_name="observables"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="alert",
                    name="organization",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name="+", to="registry.organization"),
                ),
                migrations.AlterField(
                    model_name="alert",
                    name="source",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="alerts", to="telemetry.alertsource"),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
