"""The telemetry demo: sources of every format, a living 48-hour picture, silent sources, campaigns."""
import datetime as dt
import importlib.util

import pytest
from django.utils import timezone

from khien.intel import services as intel_services
from khien.intel.models import Tlp
from khien.intel.tests.conftest import indicator
from khien.registry import demo as registry_demo
from khien.telemetry import demo, health
from khien.telemetry.models import Alert, AlertSource, AlertStatus, AlertSuppression, Campaign, CampaignKind, Event, HourlyCount, IndicatorHit


@pytest.fixture
def country(db, settings):
    """The demo country and its intelligence: the intel demo when it exists, else two GREEN indicators
    in a national collection. Returns the (kind, value) pairs the campaigns should hit."""
    settings.KHIEN_MATCHER_RECHECK_SECONDS = 0
    registry_demo.build(300)
    if importlib.util.find_spec("khien.intel.demo") is not None:
        from khien.intel import demo as intel_demo

        intel_demo.build(seed=7)
        return set(intel_demo.DEMO_CAMPAIGN_VALUES)
    from khien.core.scoping import is_national_coordinator
    from khien.registry.models import Membership, Organization

    coordinator = next(m.user for m in Membership.objects.filter(role="national_coordinator").select_related("user")
                       if is_national_coordinator(m.user))
    collection = intel_services.do_create_collection(
        {"title": "National feed", "owner": Organization.objects.get(code="NCSC"), "kind": "national"},
        acting_user=coordinator)
    objects = [indicator("45.77.10.20", tlp=Tlp.GREEN), indicator("evil-update.top", kind="domain-name", tlp=Tlp.GREEN)]
    intel_services.do_add_objects(collection, objects, acting_user=coordinator)
    return {("ipv4", "45.77.10.20"), ("domain", "evil-update.top")}


def test_demo_builds_a_living_picture(country):
    counts = demo.build(seed=7)
    sources = list(AlertSource.objects.filter(name__startswith="demo-"))
    assert counts["alert sources"] == len(sources) >= 40
    assert {s.format for s in sources} == {"wazuh", "suricata", "ecs", "cef"}
    assert len({s.organization_id for s in sources}) >= 35
    assert AlertSource.objects.filter(name__startswith="demo-", systems__isnull=False).exists()
    now = timezone.now()
    assert Event.objects.filter(time__gte=now - dt.timedelta(hours=49)).count() == counts["events"] > 5000
    assert HourlyCount.objects.filter(hour__gte=now - dt.timedelta(hours=3)).exists()
    status = {s.pk: health.source_status(s, now) for s in sources}
    assert "never" in status.values() and "silent" in status.values() and "live" in status.values()
    # The demo indicators are hit at several organizations: national campaigns at first start.
    assert IndicatorHit.objects.values("organization").distinct().count() >= 3
    kinds = set(Campaign.objects.values_list("kind", flat=True))
    assert kinds == {CampaignKind.INDICATOR, CampaignKind.RULE}
    found = {(c.indicator_kind, c.value) for c in Campaign.objects.filter(kind="indicator")}
    assert found and found <= country
    # One campaign per value, however many indicators carry it.
    assert len(found) == Campaign.objects.filter(kind="indicator").count()
    # Older alerts already handled by the organizations' analysts (through the audited service); recent ones new.
    handled = Alert.objects.exclude(status=AlertStatus.NEW)
    assert handled.count() == counts["alerts triaged"] > 0
    assert {a.status for a in handled} <= {AlertStatus.RESOLVED, AlertStatus.FALSE_POSITIVE, AlertStatus.ACKNOWLEDGED}
    assert all(a.triaged_by_id for a in handled)
    # (A suppression also closes its key's recent repeats.)
    assert all(a.last_seen < now - dt.timedelta(hours=24) for a in handled.filter(suppression__isnull=True))
    assert handled.filter(triaged_by__memberships__role="org_analyst").exists()
    assert AlertSuppression.objects.active().count() == 1
    # Building again adds no source.
    assert demo.build(seed=7)["alert sources"] == 0


def test_demo_reports_severe_alerts_as_incidents(country):
    """With the incident content loaded, some severe alerts are reported as incidents by their organization's
    analyst and others added to them: the incidents' pages list the alerts behind them."""
    from khien.incidents import content
    from khien.incidents.models import EventKind, Incident, IncidentEvent

    content.load_all()
    counts = demo.build(seed=7)
    assert counts["incidents from alerts"] > 0
    incidents = Incident.objects.filter(pk__in=Alert.objects.filter(incident__isnull=False).values("incident"))
    assert incidents.count() == counts["incidents from alerts"]
    for incident in incidents:
        alerts = list(Alert.objects.filter(incident=incident))
        assert all(a.status == AlertStatus.ESCALATED and a.organization_id == incident.organization_id for a in alerts)
        assert incident.created_by is not None and incident.observables.exists()
    assert IncidentEvent.objects.filter(kind=EventKind.ALERTS).exists()
    # Built again (make run after make setup): nothing reported twice.
    assert demo.build(seed=7)["incidents from alerts"] == 0
