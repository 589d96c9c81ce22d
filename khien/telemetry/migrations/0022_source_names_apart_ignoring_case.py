"""One source name ignoring case: "Wazuh-SOC" and "wazuh-soc" were two sources whose NATS users and subjects and
Elasticsearch user names differed only by case. A database that has such names keeps the oldest as it is; each
later one gets a suffix ("wazuh-soc-2"), said on the console — its senders that give the name (Elasticsearch
Basic user, NATS user, X-Khien-Source) must use the new one; its key is unchanged. The index that keeps them
apart comes next (0023), in a transaction of its own (PostgreSQL builds no index on a table changed earlier in the
same transaction while its checks are pending)."""
from django.db import migrations


def rename_clashes(apps, schema_editor):
    AlertSource = apps.get_model("telemetry", "AlertSource")
    sources = list(AlertSource.objects.order_by("created_at", "pk").only("pk", "name"))
    every = {source.name.lower() for source in sources}
    taken = set()
    for source in sources:
        if source.name.lower() not in taken:
            taken.add(source.name.lower())
            continue
        n = 2
        while f"{source.name[:74]}-{n}".lower() in taken | every:
            n += 1
        new = f"{source.name[:74]}-{n}"
        print(f"\n  alert source {source.name!r} renamed {new!r}: another source has the same name ignoring case")
        AlertSource.objects.filter(pk=source.pk).update(name=new)
        taken.add(new.lower())


class Migration(migrations.Migration):

    dependencies = [
        ("telemetry", "0021_campaign_count_whole_span"),
    ]

    operations = [
        migrations.RunPython(rename_clashes, migrations.RunPython.noop),
    ]
