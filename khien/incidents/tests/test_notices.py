"""Notifications: assignment (urgent, to the responders), status changes, deadlines due soon or missed, and the
escalation job `incidents.deadlines` — once per deadline, never for incidents on time."""
import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from khien.core.jobs import discover
from khien.core.models import Notification
from khien.incidents import jobs, services
from khien.incidents.models import EventKind, IncidentEvent, Status

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)


def recipients(kind=None, **filters):
    qs = Notification.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    return sorted(qs.filter(**filters).values_list("recipient__email", flat=True))


def test_assignment_notifies_the_responders_urgently(world, report, django_capture_on_commit_callbacks):
    incident = report()
    with django_capture_on_commit_callbacks(execute=True):
        services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    assert recipients("incidents.assigned") == [world.responder.email]
    n = Notification.objects.get(kind="incidents.assigned")
    assert n.urgent and incident.reference in n.title and n.url == f"/incidents/{incident.pk}/"
    assert [m.to for m in mail.outbox] == [[world.responder.email]]  # sent at once on commit


def test_status_change_notifies_reporting_org_and_responders(world, report):
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_transition(incident, Status.TRIAGED, acting_user=world.analyst)
    # Not the analyst who took the step: nobody is told of their own action.
    assert recipients("incidents.status") == sorted([world.admin.email, world.responder.email])
    # Not the province, not the auditor or trainee of the ministry.
    assert not Notification.objects.filter(recipient__in=[world.other_admin, world.auditor, world.trainee]).exists()


def test_reporting_org_is_told_what_others_do_and_nobody_of_their_own_action(world, report):
    """The walkthrough: the coordinator assigned a responder and wrote a note, the reporting analyst heard of
    neither, but got a notification for each status change they made themselves."""
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    told = Notification.objects.get(kind="incidents.responder_assigned", recipient=world.analyst)
    assert world.responder_org.name in told.title and incident.reference in told.title
    assert recipients("incidents.responder_assigned") == sorted([world.admin.email, world.analyst.email])
    assert recipients("incidents.assigned") == [world.responder.email]

    services.do_add_comment(incident, "Đề nghị UBND TP phối hợp cô lập máy chủ.", acting_user=world.coordinator)
    note = Notification.objects.get(kind="incidents.comment", recipient=world.analyst)
    assert "Đề nghị UBND TP phối hợp" in note.body
    assert recipients("incidents.comment") == sorted([world.admin.email, world.analyst.email, world.responder.email])

    for status in (Status.TRIAGED, Status.IN_RESPONSE):
        services.do_transition(incident, status, acting_user=world.analyst)
    assert not Notification.objects.filter(recipient=world.analyst, kind="incidents.status").exists()
    services.do_transition(incident, Status.CONTAINED, acting_user=world.responder)  # by someone else: told
    assert Notification.objects.filter(recipient=world.analyst, kind="incidents.status").count() == 1
    assert not Notification.objects.filter(recipient=world.responder, kind="incidents.status",
                                           title__contains=Status.CONTAINED.label).exists()

    services.do_add_comment(incident, "Đã cô lập.", acting_user=world.analyst)  # one's own note: not told
    assert not Notification.objects.filter(recipient=world.analyst, kind="incidents.comment",
                                           body__contains="Đã cô lập").exists()
    assert Notification.objects.filter(recipient=world.responder, body__contains="Đã cô lập").exists()
    # (The coordinator heard of the new incident itself: test_new_incident_notice.py; and of its own tasks planned
    # at triage: test_task_parties_on_resolve.py.)
    assert not Notification.objects.filter(recipient__in=[world.coordinator, world.other_admin, world.auditor]) \
        .exclude(kind__in=["incidents.reported", "incidents.tasks_for_coordinator"]).exists()


def test_report_stage_given_by_the_coordinator_is_told(world, report):
    incident = report()
    services.do_submit_stage(incident, "notification", {"services_disrupted": "Thư điện tử", "people_affected": 3},
                             acting_user=world.coordinator)
    assert recipients("incidents.stage") == sorted([world.admin.email, world.analyst.email])


def test_refused_transition_notifies_nobody(world, report):
    incident = report()
    with pytest.raises(Exception):
        services.do_transition(incident, Status.TRIAGED, acting_user=world.other_admin)
    assert not Notification.objects.filter(kind="incidents.status").exists()


def test_job_is_registered():
    assert "incidents.deadlines" in discover()


def test_sla_missed_escalates_once(world, report):
    # High severity: triage due 4 h after the report.
    incident = report(now=T0, severity="high", detected_at=T0 - dt.timedelta(hours=1))
    on_time = report(now=T0, severity="low", detected_at=T0 - dt.timedelta(hours=1))  # triage due in 72 h
    at = T0 + dt.timedelta(hours=5)
    summary = jobs.check_deadlines(at)
    assert "escalated 1" in summary
    incident.refresh_from_db()
    on_time.refresh_from_db()
    assert incident.escalated_at == at and "missed:sla:triage" in incident.deadline_notices
    assert on_time.escalated_at is None and not any(k.startswith("missed") for k in on_time.deadline_notices)
    escalations = Notification.objects.filter(kind="incidents.escalation")
    assert world.coordinator.email in recipients("incidents.escalation")
    assert world.analyst.email in recipients("incidents.escalation")
    assert all(incident.reference in n.title for n in escalations)
    count = escalations.count()
    events = IncidentEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION).count()
    assert events == 1
    # A second run (even later) sends nothing more for the same missed deadline.
    jobs.check_deadlines(at + dt.timedelta(minutes=5))
    assert Notification.objects.filter(kind="incidents.escalation").count() == count
    assert IncidentEvent.objects.filter(incident=incident, kind=EventKind.ESCALATION).count() == 1
    incident.refresh_from_db()
    assert incident.escalated_at == at


def test_due_soon_then_missed(world, report, settings):
    settings.KHIEN_INCIDENT_DEADLINE_LEAD_HOURS = 2
    incident = report(now=T0, severity="high", detected_at=T0 - dt.timedelta(hours=1))  # triage due T0+4h
    jobs.check_deadlines(T0 + dt.timedelta(hours=1))  # 3 h before: nothing yet
    assert not Notification.objects.filter(kind__startswith="incidents.deadline").exists()
    jobs.check_deadlines(T0 + dt.timedelta(hours=2, minutes=30))  # 1.5 h before: due soon
    soon = Notification.objects.filter(kind="incidents.deadline_soon")
    assert soon.exists() and {n.recipient.email for n in soon} == {world.admin.email, world.analyst.email}
    assert not Notification.objects.filter(kind="incidents.escalation").exists()
    n_soon = soon.count()
    jobs.check_deadlines(T0 + dt.timedelta(hours=3))
    assert soon.count() == n_soon  # once
    incident.refresh_from_db()
    assert incident.escalated_at is None


def test_triaged_in_time_is_not_escalated(world, report):
    incident = report(now=T0, severity="high", detected_at=T0 - dt.timedelta(hours=1))
    services.do_transition(incident, Status.TRIAGED, acting_user=world.analyst, now=T0 + dt.timedelta(hours=1))
    services.do_submit_stage(incident, "notification", {"services_disrupted": "Không", "people_affected": 0},
                             acting_user=world.analyst, now=T0 + dt.timedelta(hours=2))
    jobs.check_deadlines(T0 + dt.timedelta(hours=6))
    incident.refresh_from_db()
    assert incident.escalated_at is None
    assert not Notification.objects.filter(kind="incidents.escalation").exists()


def test_late_initial_report_and_overdue_stage_escalate(world, report):
    # Detected 30 h before the report: the 24 h initial report was late.
    late = report(now=T0, severity="low", detected_at=T0 - dt.timedelta(hours=30))
    jobs.check_deadlines(T0 + dt.timedelta(minutes=5))
    late.refresh_from_db()
    assert "missed:stage:initial" in late.deadline_notices and late.escalated_at is not None
    # 72 h after detection the detailed notification is overdue: a new escalation line, same escalated_at.
    first = late.escalated_at
    jobs.check_deadlines(T0 + dt.timedelta(hours=43))
    late.refresh_from_db()
    assert "missed:stage:notification" in late.deadline_notices and late.escalated_at == first
    assert IncidentEvent.objects.filter(incident=late, kind=EventKind.ESCALATION).count() == 2


def test_worker_runs_the_job(world, report):
    report(now=timezone.now() - dt.timedelta(hours=10), severity="critical",
           detected_at=timezone.now() - dt.timedelta(hours=11))
    job = discover()["incidents.deadlines"]
    # (the job's own function: run_job closes the database connection, which the test transaction needs)
    assert "escalated 1" in job.func(timezone.now())
    assert Notification.objects.filter(kind="incidents.escalation").exists()


def test_escalated_badge_on_list_and_page(world, report, as_user):
    incident = report(now=T0, severity="critical", detected_at=T0 - dt.timedelta(hours=1))
    jobs.check_deadlines(T0 + dt.timedelta(hours=2))
    client = as_user(world.analyst)
    assert 'class="badge bad escalated"' in client.get("/incidents/").content.decode()
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'class="badge bad escalated"' in page
    # The journal line is the escalation's title and Khiên as its author, no dangling separator.
    assert "Đã chuyển cấp lên cơ quan điều phối</strong>" in page and "Khiên (tự động)" in page


def test_report_stage_due_soon(world, report):
    # Low severity, triaged at once: only the detailed notification (due 72 h after detection) is pending.
    incident = report(now=T0, severity="low", detected_at=T0 - H)
    services.do_transition(incident, Status.TRIAGED, acting_user=world.analyst, now=T0 + dt.timedelta(minutes=10))
    jobs.check_deadlines(T0 + dt.timedelta(hours=68))  # due at T0 + 71 h: not yet within 2 h
    incident.refresh_from_db()
    assert "soon:stage:notification" not in incident.deadline_notices
    jobs.check_deadlines(T0 + dt.timedelta(hours=69, minutes=30))
    incident.refresh_from_db()
    assert "soon:stage:notification" in incident.deadline_notices and incident.escalated_at is None
    n = Notification.objects.get(kind="incidents.deadline_soon", recipient=world.analyst)
    assert incident.reference in n.title and n.urgent


def test_the_person_given_a_task_is_told_and_nobody_of_their_own(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    due = timezone.now() + dt.timedelta(days=1)
    services.do_add_task(incident, {"title": "Cô lập máy chủ", "owner": world.responder, "due_at": due},
                         acting_user=world.dept_analyst)
    [note] = Notification.objects.filter(kind="incidents.task")
    assert note.recipient == world.responder and "Cô lập máy chủ" in note.title and incident.reference in note.title
    assert timezone.localtime(due).strftime("%d/%m/%Y %H:%M") in note.body  # as the pages write it
    services.do_add_task(incident, {"title": "Tự làm", "owner": world.dept_analyst}, acting_user=world.dept_analyst)
    services.do_add_task(incident, {"title": "Chưa giao"}, acting_user=world.dept_analyst)
    assert Notification.objects.filter(kind="incidents.task").count() == 1  # not for oneself, nor for nobody


def test_a_raised_severity_is_told_to_the_reporting_org_and_responders_not_to_who_raised_it(
        world, report, django_capture_on_commit_callbacks):
    incident = report(severity="medium")
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_triage(incident, {}, acting_user=world.analyst)
    Notification.objects.all().delete()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.do_reclassify(incident, {"severity": "critical"}, acting_user=world.coordinator,
                               reason="Lây lan sang 40 máy")
    assert recipients("incidents.severity") == sorted([world.admin.email, world.analyst.email, world.responder.email])
    note = Notification.objects.filter(kind="incidents.severity").first()
    # In the platform's language, with both severities and the reason.
    assert note.urgent and incident.reference in note.title and "Nghiêm trọng" in note.title
    assert "Trung bình" in note.title and "Lây lan sang 40 máy" in note.body
    assert sorted(m.to[0] for m in mail.outbox) == recipients("incidents.severity")  # urgent: e-mailed at once
    # The analyst raising it further is not told of their own action; the coordinator is not a recipient here.
    Notification.objects.all().delete()
    services.do_reclassify(incident, {"severity": "high"}, acting_user=world.analyst, reason="Đã khoanh vùng")
    assert recipients("incidents.severity") == []  # lowered: nobody is told of a lower severity
    services.do_reclassify(incident, {"severity": "critical"}, acting_user=world.analyst)
    assert recipients("incidents.severity") == sorted([world.admin.email, world.responder.email])
    assert not Notification.objects.filter(recipient__in=[world.coordinator, world.auditor, world.trainee,
                                                          world.other_admin], kind="incidents.severity").exists()


def test_a_severity_notice_only_when_the_severity_goes_up(world, report):
    incident = report(severity="low")
    services.do_triage(incident, {"category": "phishing"}, acting_user=world.analyst)  # category only
    assert recipients("incidents.severity") == []
    services.do_reclassify(incident, {"tlp": "red"}, acting_user=world.analyst, reason="Nhạy cảm")
    assert recipients("incidents.severity") == []
    other = report(severity="low")
    services.do_triage(other, {"severity": "high"}, acting_user=world.analyst)  # raised at triage: told too
    assert recipients("incidents.severity") == [world.admin.email]
