# The incident's page lists the alerts behind it: a partial index, so that ingestion (alerts without an
# incident) writes no entry into it.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('telemetry', '0015_alert_suppression'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='alert',
            index=models.Index(condition=models.Q(('incident__isnull', False)), fields=['incident'], name='telemetry_alert_incident'),
        ),
    ]
