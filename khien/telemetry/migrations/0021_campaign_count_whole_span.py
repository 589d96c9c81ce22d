"""A campaign's event total counted over its whole span (first to last sighting), as its page counts each
organization's events: the total used to keep the correlation window's count, short of the sum once the window
had moved on (correlation.event_counts). Recounted once here; `correlate` keeps it so."""
from django.db import migrations
from django.db.models import Sum


def recount(apps, schema_editor):
    Campaign = apps.get_model("telemetry", "Campaign")
    IndicatorHit = apps.get_model("telemetry", "IndicatorHit")
    Alert = apps.get_model("telemetry", "Alert")
    min_severity = 8
    try:
        from khien.telemetry import conf_matching

        min_severity = int(conf_matching.get("KHIEN_CAMPAIGN_RULE_MIN_SEVERITY"))
    except Exception:  # noqa: BLE001 — the default when settings are not readable here
        pass
    for campaign in Campaign.objects.all().iterator():
        if campaign.kind == "indicator":
            count = (IndicatorHit.objects.filter(kind=campaign.indicator_kind, value=campaign.value,
                                                 time__gte=campaign.first_seen, time__lte=campaign.last_seen)
                     .values("event_id").distinct().count())
        else:
            count = (Alert.objects.filter(rule_id=campaign.key, last_seen__gte=campaign.first_seen,
                                          first_seen__lte=campaign.last_seen, severity__gte=min_severity)
                     .exclude(status="false_positive").aggregate(n=Sum("count"))["n"] or 0)
        if count != campaign.count:
            Campaign.objects.filter(pk=campaign.pk).update(count=count)


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0020_alter_alert_key_alter_alert_organization_and_more")]

    operations = [migrations.RunPython(recount, migrations.RunPython.noop)]
