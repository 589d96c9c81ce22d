"""Incident services: reporting, the workflow, assignments, comments and tasks; refusals write nothing."""
import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from khien.core import audit
from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.incidents import deadlines, services
from khien.incidents.models import (
    EventKind,
    Incident,
    IncidentCounter,
    IncidentEvent,
    ResponderAssignment,
    Status,
    Task,
    TaskStatus,
)

from .conftest import give_reports, walk

pytestmark = pytest.mark.django_db


def state():
    """Everything a refused operation must leave untouched."""
    return (
        Incident.objects.count(), IncidentEvent.objects.count(), ResponderAssignment.objects.count(),
        Task.objects.count(), AuditEntry.objects.count(), list(IncidentCounter.objects.values_list("year", "last")),
    )


def audited(obj, action):
    return AuditEntry.objects.filter(object_id=str(obj.pk), action=action, object_type=obj._meta.label_lower)


# --- Reporting --------------------------------------------------------------------------


def test_report_incident(world, report, make_system):
    system = make_system(world.ministry)
    now = timezone.now()
    incident = report(systems=[system], now=now, detected_at=now - dt.timedelta(hours=30))
    year = timezone.localtime(now).year
    assert re.fullmatch(rf"SC-{year}-000001", incident.reference)
    assert report().reference == f"SC-{year}-000002"
    assert incident.status == Status.NEW
    assert incident.reported_at == now and incident.created_by == world.analyst
    assert list(incident.systems.all()) == [system]
    assert incident.policy.version == "2026-1" and incident.taxonomy.version == "rsit-1003"
    assert deadlines.incident_report_due_at(incident) == now - dt.timedelta(hours=6)
    assert deadlines.reported_late(incident) is True
    assert deadlines.incident_next_stage(incident).code == "notification"
    [event] = incident.events.all()
    assert (event.kind, event.to_status, event.actor) == (EventKind.REPORTED, Status.NEW, world.analyst)
    entry = audited(incident, "create").get()
    assert entry.actor_email == world.analyst.email and entry.organization_id == str(world.ministry.pk)
    assert entry.after["systems"] == [str(system.pk)]
    assert audit.verify().ok


def test_report_exactly_24_hours_after_detection_is_on_time(world, report):
    now = timezone.now()
    assert deadlines.reported_late(report(now=now, detected_at=now - dt.timedelta(hours=24))) is False
    assert deadlines.reported_late(report(now=now, detected_at=now - dt.timedelta(hours=24, seconds=1))) is True


def test_parent_organization_and_coordinator_may_report_for_a_unit(world, report, make_system):
    system = make_system(world.department)
    assert report(org=world.department, user=world.admin, systems=[system]).organization == world.department
    assert report(org=world.province, user=world.coordinator).organization == world.province


@pytest.mark.parametrize("who", ["auditor", "trainee", "responder", "other_admin", "nobody", "dept_analyst"])
def test_report_refused_for_an_organization_the_user_may_not_add_in(world, report, who):
    before = state()
    with pytest.raises(Forbidden):
        report(org=world.ministry, user=getattr(world, who))
    assert state() == before


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"detected_at": "future"}, "detected_at"),
        ({"detected_at": "naive"}, "detected_at"),
        ({"detected_at": dt.datetime(1999, 12, 31, 23, 59, tzinfo=dt.timezone.utc)}, "detected_at"),
        ({"category": "space-invasion"}, "category"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"suspected_malicious": None}, "suspected_malicious"),   # early warning: required in the initial report
        ({"description": "  "}, "description"),
        ({"title": ""}, "title"),
        ({"tlp": "purple"}, "tlp"),
        ({"people_affected": -5}, "people_affected"),
    ],
)
def test_bad_report_refused_with_nothing_written(world, report, fields, error_field):
    now = timezone.now()
    if fields.get("detected_at") == "future":
        fields["detected_at"] = now + dt.timedelta(seconds=1)
    elif fields.get("detected_at") == "naive":
        fields["detected_at"] = dt.datetime(2026, 1, 1, 8, 0)
    report()  # a counter exists, so "nothing written" also covers the reference numbers
    before = state()
    with pytest.raises(ValidationError) as exc:
        report(now=now, **fields)
    assert error_field in exc.value.message_dict
    assert state() == before


def test_systems_of_another_organization_refused(world, report, make_system):
    own = make_system(world.ministry)
    foreign = make_system(world.province)
    unit = make_system(world.department)  # the ministry may see it, but the department owns it
    before = state()
    for systems, named in (([own, foreign], foreign), ([unit], unit)):
        with pytest.raises(ValidationError) as exc:
            report(systems=systems)
        assert named.code in " ".join(exc.value.message_dict["systems"])
        assert own.code not in " ".join(exc.value.message_dict["systems"])
    assert state() == before


def test_operated_system_may_be_reported(world, report, make_system):
    operated = make_system(world.province, operator=world.ministry)
    assert list(report(systems=[operated]).systems.all()) == [operated]


def test_report_refused_when_content_is_not_loaded(world):
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_report_incident({"organization": world.ministry}, acting_user=world.analyst)
    assert exc.value.status == 409 and exc.value.code == "content_missing"
    assert state() == before


# --- Workflow ---------------------------------------------------------------------------

FORWARD = [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED]


def test_full_workflow_records_who_and_when(world, report):
    incident = report(reports_given=True)
    start = timezone.now()
    for i, status in enumerate(FORWARD):
        at = start + dt.timedelta(hours=i + 1)
        incident = services.do_transition(incident, status, acting_user=world.analyst, now=at, cancel_open_tasks=True)
        assert incident.status == status
        if status == Status.RESOLVED:
            give_reports(incident, world.analyst)  # the final report, before closing
        assert getattr(incident, f"{'in_response' if status == Status.IN_RESPONSE else status}_at") == at
    # (Triage also writes the line of the standard tasks it planned: see test_standard_tasks.py.)
    journal = list(incident.events.exclude(kind__in=[EventKind.STAGE, EventKind.TASK])
                   .values_list("kind", "from_status", "to_status", "actor"))
    assert journal == [(EventKind.REPORTED, "", Status.NEW, world.analyst.pk)] + [
        (EventKind.STATUS, a, b, world.analyst.pk) for a, b in zip([Status.NEW, *FORWARD[:-1]], FORWARD)
    ]
    transitions = audited(incident, "transition")
    assert transitions.count() == 5
    last = transitions.order_by("-seq").first()
    assert last.before["status"] == Status.RESOLVED and last.after["status"] == Status.CLOSED


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], Status.CONTAINED),                       # skipping steps
        ([], Status.CLOSED),
        ([], Status.NEW),
        ([Status.TRIAGED], Status.TRIAGED),           # same state
        ([Status.TRIAGED, Status.IN_RESPONSE], Status.TRIAGED),   # backwards
        (FORWARD, Status.RESOLVED),                   # closed: only a reopen to in_response
    ],
)
def test_wrong_state_is_409(world, report, path, target):
    incident = report(reports_given=True)
    incident = walk(incident, path, world.analyst)
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_transition(incident, target, acting_user=world.coordinator)
    assert exc.value.status == 409 and exc.value.code == "invalid_transition"
    assert state() == before


def test_unknown_status_is_400(world, report):
    incident = report()
    with pytest.raises(Refused) as exc:
        services.do_transition(incident, "exploded", acting_user=world.analyst)
    assert exc.value.status == 400


@pytest.mark.parametrize("who", ["auditor", "trainee", "other_admin", "nobody", "responder"])
def test_wrong_person_is_403(world, report, who):
    incident = report()
    before = state()
    with pytest.raises(Forbidden) as exc:
        services.do_transition(incident, Status.TRIAGED, acting_user=getattr(world, who))
    assert exc.value.status == 403
    assert state() == before


def test_assigned_responder_works_from_triaged_to_resolved_but_does_not_close(world, report):
    incident = report(org=world.department, user=world.dept_analyst, reports_given=True)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    with pytest.raises(Forbidden):  # triage is the reporting side's or the coordinator's
        services.do_transition(incident, Status.TRIAGED, acting_user=world.responder)
    incident = services.do_transition(incident, Status.TRIAGED, acting_user=world.coordinator)
    incident = walk(incident, (Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED), world.responder)
    before = state()
    with pytest.raises(Forbidden):
        services.do_transition(incident, Status.CLOSED, acting_user=world.responder)
    with pytest.raises(Forbidden):
        services.do_transition(incident, Status.IN_RESPONSE, acting_user=world.responder, reason="not fixed")
    assert state() == before
    # The parent organization's admin closes; the tasks the responder's resolving left open (the reporting
    # organization's, the coordinator's) are cancelled with it.
    incident = services.do_transition(incident, Status.CLOSED, acting_user=world.admin, cancel_open_tasks=True)
    assert incident.status == Status.CLOSED
    assert incident.events.filter(actor=world.responder, kind=EventKind.STATUS).count() == 3


def test_reopen_needs_a_reason(world, report):
    incident = report(reports_given=True)
    incident = walk(incident, FORWARD, world.analyst)
    before = state()
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as exc:
            services.do_transition(incident, Status.IN_RESPONSE, acting_user=world.analyst, reason=reason)
        assert "reason" in exc.value.message_dict
    assert state() == before
    incident.refresh_from_db()
    assert incident.status == Status.CLOSED

    incident = services.do_transition(incident, Status.IN_RESPONSE, acting_user=world.analyst, reason="Mã độc quay lại")
    assert incident.status == Status.IN_RESPONSE
    assert incident.closed_at is None and incident.resolved_at is None and incident.contained_at is None
    event = incident.events.last()
    assert (event.kind, event.from_status, event.to_status, event.text) == (
        EventKind.REOPENED, Status.CLOSED, Status.IN_RESPONSE, "Mã độc quay lại")
    assert audited(incident, "transition").count() == 6


def test_reopen_from_resolved(world, report):
    incident = report()
    for status in FORWARD[:-1]:
        incident = services.do_transition(incident, status, acting_user=world.analyst, cancel_open_tasks=True)
    incident = services.do_transition(incident, Status.IN_RESPONSE, acting_user=world.coordinator, reason="Chưa xử lý hết")
    assert incident.status == Status.IN_RESPONSE


# --- Coordination -----------------------------------------------------------------------


def test_assign_responder(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    assignment = services.do_assign_responder(incident, world.responder_org, acting_user=world.admin)
    assert (assignment.responder, assignment.assigned_by) == (world.responder_org, world.admin)
    event = incident.events.last()
    assert event.kind == EventKind.ASSIGNMENT and event.data["responder_code"] == "RESP"
    entry = audited(assignment, "create").get()
    assert entry.organization_id == str(world.department.pk)


@pytest.mark.parametrize("who", ["analyst", "dept_analyst", "auditor", "responder", "other_admin", "nobody"])
def test_assign_refused_for_others_than_coordinator_and_admins(world, report, who):
    incident = report(org=world.department, user=world.dept_analyst)
    before = state()
    with pytest.raises(Forbidden):
        services.do_assign_responder(incident, world.responder_org, acting_user=getattr(world, who))
    assert state() == before


def test_assign_refused_for_bad_targets_and_states(world, report):
    incident = report()
    before = state()
    with pytest.raises(ValidationError):
        services.do_assign_responder(incident, world.province, acting_user=world.coordinator)  # not a responder
    assert state() == before
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    assert exc.value.status == 409
    assert state() == before
    closed = report(reports_given=True)
    closed = walk(closed, FORWARD, world.analyst)
    with pytest.raises(Refused) as exc:
        services.do_assign_responder(closed, world.responder_org, acting_user=world.coordinator)
    assert exc.value.status == 409


def test_comments(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    for user in (world.dept_analyst, world.analyst, world.coordinator, world.responder):
        event = services.do_add_comment(incident, f"Ghi chú của {user.email}", acting_user=user)
        assert audited(event, "create").get().after["text"] == f"Ghi chú của {user.email}"
    assert incident.events.filter(kind=EventKind.COMMENT).count() == 4
    before = state()
    for user in (world.auditor, world.other_admin, world.nobody):
        with pytest.raises(Forbidden):
            services.do_add_comment(incident, "x", acting_user=user)
    with pytest.raises(ValidationError):
        services.do_add_comment(incident, "   ", acting_user=world.analyst)
    assert state() == before


def test_tasks(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    due = timezone.now() + dt.timedelta(days=1)
    task = services.do_add_task(incident, {"title": "Cô lập máy chủ", "owner": world.responder, "due_at": due},
                                acting_user=world.dept_analyst)
    assert (task.owner, task.due_at, task.status) == (world.responder, due, TaskStatus.OPEN)
    assert audited(task, "create").exists()
    task = services.do_set_task_status(task, TaskStatus.DONE, acting_user=world.responder)
    assert task.status == TaskStatus.DONE
    entry = audited(task, "update").get()
    assert (entry.before["status"], entry.after["status"]) == (TaskStatus.OPEN, TaskStatus.DONE)
    assert incident.events.filter(kind=EventKind.TASK).count() == 2

    before = state()
    with pytest.raises(ValidationError) as exc:  # the owner must be able to see the incident
        services.do_add_task(incident, {"title": "x", "owner": world.other_admin}, acting_user=world.dept_analyst)
    assert "owner" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.do_add_task(incident, {"title": ""}, acting_user=world.dept_analyst)
    with pytest.raises(Forbidden):
        services.do_add_task(incident, {"title": "x"}, acting_user=world.auditor)
    with pytest.raises(ValidationError):
        services.do_set_task_status(task, "lost", acting_user=world.dept_analyst)
    assert state() == before
    assert audit.verify().ok


def test_closed_incident_refuses_task_changes_until_reopened(world, report):
    """The walkthrough: a closed incident still took new tasks and task status changes (its evidence and
    observables were already refused). Now 409, nothing written; reopening opens the tasks again."""
    incident = report(reports_given=True)
    task = services.do_add_task(incident, {"title": "Cô lập máy chủ"}, acting_user=world.analyst)
    incident = walk(incident, FORWARD, world.analyst)
    before = state()
    for call in (lambda: services.do_add_task(incident, {"title": "Việc mới"}, acting_user=world.analyst),
                 lambda: services.do_add_task(incident, {"title": "Việc mới"}, acting_user=world.coordinator),
                 lambda: services.do_set_task_status(task, TaskStatus.DONE, acting_user=world.analyst)):
        with pytest.raises(Refused) as exc:
            call()
        assert exc.value.status == 409 and exc.value.code == "closed"
    # (Closing cancelled the task still open: see test_open_tasks_on_close.py.)
    assert state() == before and Task.objects.get(pk=task.pk).status == TaskStatus.CANCELLED
    with pytest.raises(Forbidden):  # someone outside still hears "no access", not "closed"
        services.do_add_task(incident, {"title": "x"}, acting_user=world.other_admin)
    incident = services.do_transition(incident, Status.IN_RESPONSE, acting_user=world.analyst, reason="Tái nhiễm")
    assert services.do_set_task_status(task, TaskStatus.DONE, acting_user=world.analyst).status == TaskStatus.DONE


# --- Classification (triage) ------------------------------------------------------------------


def test_triage_confirms_or_corrects_the_classification(world, report):
    """The walkthrough: the page said triage "confirms its category and severity", but triage was a bare status
    change and nothing could ever correct the category, severity or TLP. `do_triage` does both in one step."""
    incident = report(category="undetermined", severity="medium")
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    before = state()
    with pytest.raises(Forbidden):  # responders do not triage
        services.do_triage(incident, {"severity": "critical"}, acting_user=world.responder)
    with pytest.raises(ValidationError) as exc:  # one bad value refuses everything
        services.do_triage(incident, {"category": "ransomware-ish", "severity": "critical", "tlp": "purple"},
                           acting_user=world.coordinator)
    assert set(exc.value.message_dict) == {"category", "tlp"}
    assert state() == before
    triage_due = deadlines.incident_sla_due_at(incident, "triage")
    incident = services.do_triage(incident, {"category": "infected-system", "severity": "critical", "tlp": "red"},
                                  acting_user=world.coordinator)
    assert (incident.status, incident.category, incident.severity, incident.tlp) == (
        Status.TRIAGED, "infected-system", "critical", "red")
    assert deadlines.incident_sla_due_at(incident, "triage") < triage_due  # the SLA of the severity now assessed
    lines = list(incident.events.order_by("at", "id").values_list("kind", "data"))
    assert lines[-4] == (EventKind.RECLASSIFIED, {"changes": {
        "category": ["undetermined", "infected-system"], "severity": ["medium", "critical"], "tlp": ["amber", "red"]}})
    assert lines[-3][0] == EventKind.STATUS
    assert lines[-2][0] == EventKind.TASK and lines[-2][1]["category"] == "infected-system"  # its standard tasks
    # The responder was assigned before: its task is done at once, saying why (test_walk_coord_fixes.py).
    assert lines[-1][0] == EventKind.TASK and lines[-1][1]["because"] == "responder_assigned"
    entry = audited(incident, "update").latest("seq")
    assert (entry.before["severity"], entry.after["severity"]) == ("medium", "critical")
    with pytest.raises(Refused) as exc:  # triaged already
        services.do_triage(incident, {}, acting_user=world.coordinator)
    assert exc.value.status == 409


def test_triage_without_changes_writes_no_classification_line(world, report):
    incident = report()
    incident = services.do_triage(incident, {"category": incident.category, "severity": "high"},
                                  acting_user=world.analyst)
    assert incident.status == Status.TRIAGED
    assert not incident.events.filter(kind=EventKind.RECLASSIFIED).exists()


def test_reclassify_later_with_a_reason_by_the_reporting_side_only(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    incident = services.do_transition(incident, Status.TRIAGED, acting_user=world.dept_analyst)
    incident, changes = services.do_reclassify(incident, {"severity": "critical", "category": "", "tlp": None},
                                               acting_user=world.coordinator, reason="Lan sang 3 đơn vị")
    assert changes == {"severity": ["high", "critical"]} and incident.category == "infected-system"
    event = incident.events.get(kind=EventKind.RECLASSIFIED)
    assert event.text == "Lan sang 3 đơn vị" and event.actor == world.coordinator
    before = state()
    _same, changes = services.do_reclassify(incident, {"severity": "critical"}, acting_user=world.dept_analyst)
    assert changes == {} and state() == before  # nothing changed, nothing written
    for user in (world.responder, world.auditor):
        with pytest.raises(Forbidden):
            services.do_reclassify(incident, {"severity": "low"}, acting_user=user)
    with pytest.raises(Forbidden):  # cannot see it at all
        services.do_reclassify(incident, {"severity": "low"}, acting_user=world.other_admin)
    with pytest.raises(ValidationError) as exc:
        services.do_reclassify(incident, {"severity": "low"}, acting_user=world.dept_analyst, reason="x" * 5001)
    assert "reason" in exc.value.message_dict
    assert state() == before
    closed = report(reports_given=True)
    closed = walk(closed, FORWARD, world.analyst)
    with pytest.raises(Refused) as exc:
        services.do_reclassify(closed, {"severity": "low"}, acting_user=world.analyst)
    assert exc.value.status == 409 and exc.value.code == "closed"


# --- Later report stages ------------------------------------------------------------------


def test_report_stages_in_order_with_their_fields(world, report):
    now = timezone.now()
    incident = report(now=now, detected_at=now - dt.timedelta(hours=1))
    assert deadlines.incident_next_stage(incident).code == "notification"

    before = state()
    with pytest.raises(Refused) as exc:  # the final report needs the notification first
        services.do_submit_stage(incident, "final", {"root_cause": "x", "mitigation": "y"}, acting_user=world.analyst)
    assert exc.value.status == 409
    with pytest.raises(ValidationError) as exc:  # required fields of the notification
        services.do_submit_stage(incident, "notification", {"services_disrupted": "Thư điện tử"}, acting_user=world.analyst)
    assert "people_affected" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.do_submit_stage(incident, "notification", {"severity": "meh", "services_disrupted": "a",
                                                            "people_affected": 1}, acting_user=world.analyst)
    assert "severity" in exc.value.message_dict
    for stage in ("initial", "bogus"):
        with pytest.raises(Refused) as exc:
            services.do_submit_stage(incident, stage, {}, acting_user=world.analyst)
        assert exc.value.status == 400
    for who in ("auditor", "responder", "other_admin"):
        with pytest.raises(Forbidden):
            services.do_submit_stage(incident, "notification", {}, acting_user=getattr(world, who))
    assert state() == before

    at = now + dt.timedelta(hours=80)  # 81 h after detection: late (due at 72 h)
    incident = services.do_submit_stage(
        incident, "notification", {"services_disrupted": "Thư điện tử", "people_affected": 0, "severity": "critical"},
        acting_user=world.analyst, now=at)
    assert incident.notified_at == at and incident.severity == "critical"
    stages = deadlines.incident_schedule(incident)
    assert stages[1].late is True
    assert deadlines.incident_next_stage(incident).due_at == deadlines.add_delay(at, months=1)
    entry = audited(incident, "update").get()
    assert entry.before["notified_at"] is None and entry.after["severity"] == "critical"
    assert incident.events.last().kind == EventKind.STAGE

    with pytest.raises(Refused) as exc:
        services.do_submit_stage(incident, "notification", {}, acting_user=world.analyst)
    assert exc.value.status == 409
    incident = walk(incident, FORWARD[:3], world.analyst)
    incident = services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst,  # the end of the response
                                      cancel_open_tasks=True)
    incident = services.do_submit_stage(incident, "final", {"root_cause": "Mật khẩu yếu", "mitigation": "Đổi mật khẩu"},
                                        acting_user=world.coordinator)
    assert incident.final_report_at is not None and deadlines.incident_next_stage(incident) is None


# --- SLA due times in SQL agree with the Python ones ------------------------------------------


def test_sla_due_times_in_the_database_agree_with_python(world, report):
    now = timezone.now().replace(microsecond=0)
    incidents = {sev: report(severity=sev, now=now, title=sev) for sev in ("low", "medium", "high", "critical")}
    rows = {i.title: i for i in deadlines.annotate_sla_due(Incident.objects.all())}
    for sev, incident in incidents.items():
        for measure in deadlines.SLA_MEASURES:
            assert getattr(rows[sev], f"{measure}_due_at") == deadlines.incident_sla_due_at(incident, measure)

    def missed(measure, at):
        return set(deadlines.sla_missed(Incident.objects.all(), measure, at).values_list("title", flat=True))

    assert missed("triage", now + dt.timedelta(hours=1)) == set()                       # exactly at the SLA
    assert missed("triage", now + dt.timedelta(hours=1, seconds=1)) == {"critical"}
    assert missed("triage", now + dt.timedelta(hours=5)) == {"critical", "high"}
    assert missed("contain", now + dt.timedelta(hours=25)) == {"critical"}
    # Triaged late: still a missed SLA after the fact; triaged in time: not.
    services.do_transition(incidents["critical"], Status.TRIAGED, acting_user=world.analyst,
                           now=now + dt.timedelta(hours=2))
    services.do_transition(incidents["high"], Status.TRIAGED, acting_user=world.analyst,
                           now=now + dt.timedelta(hours=4))
    assert missed("triage", now + dt.timedelta(hours=30)) == {"critical", "medium"}
    for title in ("critical", "high", "medium"):
        incident = Incident.objects.get(title=title)
        assert (title in missed("triage", now + dt.timedelta(hours=30))) == deadlines.sla_overdue(
            incident, "triage", now + dt.timedelta(hours=30))
