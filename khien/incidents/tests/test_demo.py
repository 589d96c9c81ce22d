"""The demo incidents: a year of consistent synthetic incidents that make the statistics meaningful."""
from io import StringIO

import pytest
from django.core.management import call_command

from khien.core import audit
from khien.core.models import Notification, User
from khien.incidents import deadlines, jobs, stats
from khien.incidents.models import EventKind, Incident, IncidentEvent, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    out = StringIO()
    call_command("demo", "--systems", "200", "--no-accounts", stdout=out)
    return out.getvalue()


def test_demo_incidents_are_consistent_and_the_stats_meaningful(built):
    import re

    assert "khien.incidents.demo: incidents: 600" in built
    # The telemetry demo then reports some severe SOC alerts as incidents, as the organizations' analysts would.
    from_alerts = int(re.search(r"incidents from alerts: (\d+)", built).group(1))
    assert from_alerts > 0 and Incident.objects.count() == 600 + from_alerts
    references = list(Incident.objects.values_list("reference", flat=True))
    assert len(set(references)) == 600 + from_alerts
    # Every status time has its journal entry, in order.
    for incident in Incident.objects.exclude(status=Status.NEW).prefetch_related("events")[:200]:
        steps = [e for e in incident.events.all() if e.kind == EventKind.STATUS]
        assert steps[-1].to_status == incident.status
        assert [e.at for e in steps] == sorted(e.at for e in steps)
        assert incident.triaged_at == steps[0].at and incident.triaged_at >= incident.reported_at
    coordinator = User.objects.get(email="coordinator@ncsc.demo.khien.vn")
    data = stats.compute(coordinator)
    assert all(v > 0 for v in data["charts"]["by_month"]["values"]) and len(data["charts"]["by_month"]["values"]) == 12
    assert 0 < data["reported_late"] < data["reported_on_time"]
    assert data["sla_missed"]["triage"] > 0 and data["escalated"] > 0
    assert all(m["count"] > 0 and m["hours"] > 0 for m in data["mean_hours"].values())
    assert len(data["charts"]["by_class"]["values"]) >= 5 and len(data["charts"]["by_province"]["values"]) >= 5
    late = [i for i in Incident.objects.select_related("policy")[:600] if deadlines.reported_late(i)]
    assert late and all("missed:stage:initial" in i.deadline_notices and i.escalated_at for i in late)
    # Deadlines already missed at build time are marked as escalated: the job does not send a year of old notices.
    assert IncidentEvent.objects.filter(kind=EventKind.ESCALATION).count() >= data["escalated"]
    before = Notification.objects.count()
    counts = jobs.notices.check_deadlines()
    assert counts["escalated"] <= 2 and Notification.objects.count() - before < 20
    assert audit.verify().ok


def test_demo_is_deterministic_for_a_seed(built):
    from khien.incidents import demo

    first = list(Incident.objects.order_by("reference").values_list("reference", "category", "severity", "status"))
    now = Incident.objects.order_by("-reported_at").first().reported_at
    a = demo._Builder(2026, 50, now)
    b = demo._Builder(2026, 50, now)
    a.load_people(), b.load_people()
    for n in range(50):
        a.build_one(n), b.build_one(n)
    assert [(i.title, i.category, i.severity, i.detected_at, i.organization_id) for i in a.incidents] == \
        [(i.title, i.category, i.severity, i.detected_at, i.organization_id) for i in b.incidents]
    assert first  # the built demo is there
