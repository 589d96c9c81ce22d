"""The address indexes of events led by the event's UTC day (decision 0009, third pass).

`src_ip` and `dst_ip` were indexed alone: every ingested event wrote two entries at random places across
the whole table's indexes, and each commit rewrote thousands of their pages. Led by the day, a batch of
today's events writes only into today's part; the address search (`?ip=`) looks day by day over the days
asked for (or the days stored). Existing rows get their day here, before the new indexes are built.
"""
from django.db import migrations, models

import khien.telemetry.models

FILL = {
    # strftime('%s') is whole seconds since 1970 (SQLite's math functions, floor(), may not be compiled in);
    # integer division equals utc_day() for every time since 1970.
    "sqlite": "UPDATE telemetry_event SET day = CAST(strftime('%s', time) AS INTEGER) / 86400 WHERE day IS NULL",
    "postgresql": "UPDATE telemetry_event SET day = floor(extract(epoch FROM time) / 86400)::integer WHERE day IS NULL",
}


def fill_days(apps, schema_editor):
    sql = FILL.get(schema_editor.connection.vendor)
    if sql is not None:
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0001_initial"),
        ("telemetry", "0008_shorter_alert_key"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="event", name="telemetry_event_src_ip"),
        migrations.RemoveIndex(model_name="event", name="telemetry_event_dst_ip"),
        migrations.AddField(
            model_name="event",
            name="day",
            field=khien.telemetry.models.EventDayField(editable=False, null=True, verbose_name="day (UTC)"),
        ),
        migrations.RunPython(fill_days, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["day", "src_ip"], name="telemetry_event_day_src_ip"),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["day", "dst_ip"], name="telemetry_event_day_dst_ip"),
        ),
    ]
