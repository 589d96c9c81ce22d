"""The alert key index led by the hour of the alert's last sighting (decision 0009, fourth pass).

The key is a hash: indexed alone, every new alert wrote its entry at a random place across every alert
kept, and each commit rewrote thousands of that index's pages. Led by `seen_hour`, new alerts and the
updates of repeats write into the last hours' part; the lookup asks the hours of the folding window.
Existing rows get their hour here, before the new index is built.
"""
from django.db import migrations, models

import khien.telemetry.models

FILL = {
    # strftime('%s') is whole seconds since 1970; integer division equals models.epoch_hour() since 1970.
    "sqlite": "UPDATE telemetry_alert SET seen_hour = CAST(strftime('%s', last_seen) AS INTEGER) / 3600 "
              "WHERE seen_hour IS NULL",
    "postgresql": "UPDATE telemetry_alert SET seen_hour = floor(extract(epoch FROM last_seen) / 3600)::integer "
                  "WHERE seen_hour IS NULL",
}


def fill_hours(apps, schema_editor):
    sql = FILL.get(schema_editor.connection.vendor)
    if sql is not None:
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0001_initial"),
        ("telemetry", "0010_source_health"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="alert", name="telemetry_alert_key"),
        migrations.AddField(
            model_name="alert",
            name="seen_hour",
            field=khien.telemetry.models.AlertSeenHourField(editable=False, null=True,
                                                            verbose_name="hour last seen (UTC)"),
        ),
        migrations.RunPython(fill_hours, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["seen_hour", "key"], name="telemetry_alert_hour_key"),
        ),
    ]
