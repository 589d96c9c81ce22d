"""A shorter alert key and a smaller index for it (decision 0009).

The key that repeats of one alert share becomes 16 hex digits of SHA-256 over the source, the rule and the
observables (it was 64 digits without the source), and its index is on the key alone (it was source, key,
last_seen: about 130 bytes an entry, written at a random place for every new alert). An index on
(source, last_seen) serves the per-source lists and the source's foreign key.

Alerts seen in the last day get their key recomputed, so that repeats arriving after the upgrade still fold
into them; older alerts keep their old key (their window is long past).
"""
import datetime as dt
import hashlib

from django.db import migrations, models
from django.utils import timezone

OBSERVABLE_FIELDS = ("src_ip", "dst_ip", "domain", "url", "file_md5", "file_sha1", "file_sha256")


def recompute_recent_keys(apps, schema_editor):
    Alert = apps.get_model("telemetry", "Alert")
    recent = Alert.objects.filter(last_seen__gte=timezone.now() - dt.timedelta(days=1))
    changed = []
    for alert in recent.only("id", "source_id", "rule_id", "observables").iterator(chunk_size=2000):
        observables = alert.observables if isinstance(alert.observables, dict) else {}
        parts = [alert.source_id.hex, alert.rule_id] + [str(observables.get(name) or "") for name in OBSERVABLE_FIELDS]
        alert.key = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
        changed.append(alert)
    Alert.objects.bulk_update(changed, ["key"], batch_size=2000)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0001_initial"),
        ("telemetry", "0007_json_as_text_fewer_alert_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="alert", name="telemetry_alert_key"),
        migrations.AddIndex(model_name="alert", index=models.Index(fields=["key"], name="telemetry_alert_key")),
        migrations.AddIndex(model_name="alert",
                            index=models.Index(fields=["source", "last_seen"], name="telemetry_alert_source_seen")),
        migrations.RunPython(recompute_recent_keys, migrations.RunPython.noop),
    ]
