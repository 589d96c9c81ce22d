# Imports whose run stopped (a restart of the web process) are run again by the worker from their file
# (imports.resume_stale_imports): each job keeps its run's last sign of life and how many runs started.

from django.db import migrations, models
from django.db.models import F
import django.utils.timezone


def date_unfinished_jobs(apps, schema_editor):
    """Jobs left unfinished before this migration get their creation time as last sign of life, so that the
    worker takes them up: their file is kept and nothing of them was written."""
    ImportJob = apps.get_model("registry", "ImportJob")
    ImportJob.objects.update(updated_at=F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AddField(
            model_name='importjob',
            name='updated_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(date_unfinished_jobs, migrations.RunPython.noop),
    ]
