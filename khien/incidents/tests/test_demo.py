"""The demo incidents: a year of consistent synthetic incidents that make the statistics meaningful."""
import datetime as dt
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
    # A late report gives its reason, as the report form requires: the page shows it, never "—".
    assert all(i.late_reason.strip() for i in late)
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


# --- The demo incidents past triage carry their category's standard tasks (a living picture) ------------------


def test_demo_incidents_past_triage_carry_their_standard_tasks(world, incident_content):
    from collections import Counter

    from khien.incidents import demo
    from khien.incidents.models import Task, TaskStatus, TaskTemplates

    demo.build(seed=7, count=200)
    templates = TaskTemplates.current()
    past_triage = list(Incident.objects.exclude(status=Status.NEW).select_related("taxonomy"))
    assert len(past_triage) > 100
    for incident in past_triage:
        entries = templates.for_category(incident.taxonomy, incident.category)
        tasks = {t.template_code: t for t in incident.tasks.exclude(template_code="")}
        assert set(tasks) == {e["code"] for e in entries}, incident.reference
        for entry in entries:
            task = tasks[entry["code"]]
            assert task.party == entry["party"] and task.title == entry["title_vi"][:300]
            assert task.due_at == incident.triaged_at + dt.timedelta(hours=entry["due_hours"])
        # Planned at triage, in one journal line, as the service does.
        [line] = incident.events.filter(kind=EventKind.TASK, data__action="standard")
        assert line.at == incident.triaged_at and set(line.data["codes"]) == set(tasks)
        if incident.status in (Status.RESOLVED, Status.CLOSED):  # the response is over: nothing left open
            assert {t.status for t in tasks.values()} <= {TaskStatus.DONE, TaskStatus.CANCELLED}
        # Each finished task has its journal line, after the one that planned it.
        for task in tasks.values():
            done = incident.events.filter(kind=EventKind.TASK, data__task_id=str(task.pk))
            if task.status in (TaskStatus.DONE, TaskStatus.CANCELLED):
                assert done.get().at >= line.at and done.get().data["status"] == task.status
            else:
                assert not done.exists()
    assert not Task.objects.filter(incident__status=Status.NEW).exclude(template_code="").exists()
    # Some done, some still being worked on.
    statuses = Counter(Task.objects.exclude(template_code="").values_list("status", flat=True))
    assert statuses[TaskStatus.DONE] > 0 and statuses[TaskStatus.OPEN] + statuses[TaskStatus.IN_PROGRESS] > 0
    # Every task is audited; the chain holds.
    assert audit.verify().ok
    from khien.core.models import AuditEntry

    assert AuditEntry.objects.filter(object_type="incidents.task", action="create").count() == Task.objects.count()


def test_demo_incidents_are_closed_only_after_their_final_report_given_once_resolved(world, incident_content):
    from khien.incidents import demo

    demo.build(seed=7, count=200)
    final = Incident.objects.filter(final_report_at__isnull=False)
    assert final.exists() and Incident.objects.filter(status=Status.CLOSED).exists()
    for incident in final:
        resolved = incident.events.filter(to_status=Status.RESOLVED).earliest("at", "id").at
        assert incident.final_report_at >= resolved
    for incident in Incident.objects.filter(status=Status.CLOSED):
        assert incident.final_report_at is not None and incident.final_report_at <= incident.closed_at
