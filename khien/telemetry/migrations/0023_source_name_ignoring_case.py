"""One source name ignoring case (see 0022, which renamed the later of two names that differed only in case)."""
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("telemetry", "0022_source_names_apart_ignoring_case"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="alertsource",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"), name="telemetry_source_name_ignoring_case",
                violation_error_message="A source with this name in other upper and lower case letters already "
                                        "exists: names that differ only in case count as the same."),
        ),
    ]
