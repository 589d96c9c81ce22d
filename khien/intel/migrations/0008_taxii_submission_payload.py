# Large TAXII submissions keep their objects while pending, so that the worker can resume them after a
# restart of the web process (services.resume_stale_submissions).

from django.db import migrations, models


def fail_unresumable(apps, schema_editor):
    """Statuses left pending before this migration kept no objects: nothing of them was stored and nothing
    can resume them, so they are completed as failed (the status resource said so already once stale)."""
    TaxiiStatus = apps.get_model("intel", "TaxiiStatus")
    message = "Interrupted before anything was stored; send the objects again."
    for status in TaxiiStatus.objects.filter(status="pending"):
        failures = [{**entry, "message": message} for entry in status.pendings]
        TaxiiStatus.objects.filter(pk=status.pk).update(
            status="complete", success_count=0, failure_count=status.total_count, pending_count=0,
            failures=failures, pendings=[])


class Migration(migrations.Migration):

    dependencies = [
        ('intel', '0007_sealed_subscription_secret'),
    ]

    operations = [
        migrations.AddField(
            model_name='taxiistatus',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='taxiistatus',
            name='payload',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.RunPython(fail_unresumable, migrations.RunPython.noop),
    ]
