# Partner TAXII passwords and tokens sealed in the database (khien.core.sealed).

import django.core.validators
from django.db import migrations

import khien.core.sealed


def seal_stored_secrets(apps, schema_editor):
    """Values stored before read back as they are; saving them again seals them."""
    FeedSubscription = apps.get_model("intel", "FeedSubscription")
    for pk, secret in FeedSubscription.objects.exclude(password="").values_list("pk", "password"):
        FeedSubscription.objects.filter(pk=pk).update(password=secret)


def unseal_stored_secrets(apps, schema_editor):
    """Back to plain text, written around the field (which would seal them again)."""
    FeedSubscription = apps.get_model("intel", "FeedSubscription")
    table = schema_editor.connection.ops.quote_name(FeedSubscription._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        for pk, secret in FeedSubscription.objects.exclude(password="").values_list("pk", "password"):
            cursor.execute(f"UPDATE {table} SET password = %s WHERE id = %s",
                           [secret, FeedSubscription._meta.pk.get_db_prep_value(pk, schema_editor.connection)])


class Migration(migrations.Migration):

    dependencies = [
        ('intel', '0006_stixobject_data_text'),
    ]

    operations = [
        migrations.AlterField(
            model_name='feedsubscription',
            name='password',
            field=khien.core.sealed.SealedTextField(blank=True, validators=[django.core.validators.MaxLengthValidator(1000)], verbose_name='password or token'),
        ),
        migrations.RunPython(seal_stored_secrets, unseal_stored_secrets),
    ]
