"""StixObject.benign: the version is a known-good indicator (STIX `indicator_types` holding "benign").

Set for the rows already stored from their JSON: only indicators whose stored text names "benign" (or rows
without stored text, written around the services) are read, in chunks.
"""
import json

from django.db import migrations, models
from django.db.models import Q


def mark_benign(apps, schema_editor):
    from khien.intel.indicator_status import is_benign

    StixObject = apps.get_model("intel", "StixObject")
    rows = (StixObject.objects.filter(stix_type="indicator")
            .filter(Q(data_text__contains='"benign"') | Q(data_text__isnull=True))
            .values_list("pk", "data").iterator(chunk_size=2000))
    benign = []
    for pk, data in rows:
        if isinstance(data, str):  # read as text by the historical field
            try:
                data = json.loads(data)
            except ValueError:
                continue
        if is_benign(data):
            benign.append(pk)
    for start in range(0, len(benign), 500):
        StixObject.objects.filter(pk__in=benign[start:start + 500]).update(benign=True)


class Migration(migrations.Migration):

    dependencies = [
        ('intel', '0014_warning_target_reasons'),
    ]

    operations = [
        migrations.AddField(
            model_name='stixobject',
            name='benign',
            field=models.BooleanField(db_default=False, default=False, verbose_name='benign'),
        ),
        migrations.RunPython(mark_benign, migrations.RunPython.noop),
    ]
