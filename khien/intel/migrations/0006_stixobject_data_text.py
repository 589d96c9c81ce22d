"""StixObject.data_text: the canonical JSON text of `data` (services.stix_text), served as is by TAXII.

The existing rows are filled in batches of 2,000, each in its own transaction (the migration is not
atomic: on a store of millions of versions a single transaction would hold every row lock for
minutes). A row not filled yet is still served correctly (TAXII casts `data` when `data_text` is
NULL), so an interrupted run is harmless: running `migrate` again goes on where it stopped.
"""
from django.db import migrations, models, transaction

BATCH = 2000


def fill_data_text(apps, schema_editor):
    from khien.intel.services import stix_text

    StixObject = apps.get_model("intel", "StixObject")
    db = schema_editor.connection.alias
    last = 0
    while True:
        rows = list(StixObject.objects.using(db).filter(pk__gt=last, data_text__isnull=True)
                    .order_by("pk").only("pk", "data")[:BATCH])
        if not rows:
            return
        for row in rows:
            row.data_text = stix_text(row.data)
        with transaction.atomic(using=db):
            StixObject.objects.using(db).bulk_update(rows, ["data_text"], batch_size=500)
        last = rows[-1].pk


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("intel", "0005_taxiistatus_progress"),
    ]

    operations = [
        migrations.AddField(
            model_name="stixobject",
            name="data_text",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(fill_data_text, migrations.RunPython.noop, elidable=True),
    ]
