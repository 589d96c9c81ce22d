"""Workflow rules and notices found by a walkthrough: the final report after a reopen, standard tasks due after the
legal deadline of their report stage, status and severity notices that did not say who or which deadlines moved,
repeated shares and a wider TLP, the escalation journal line in one language, and the escalation mailed to the
person who had just filed the late report."""
import datetime as dt

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from khien.core import notifications
from khien.core.errors import Refused
from khien.core.models import AuditEntry, Notification
from khien.core.texts import render_data
from khien.incidents import deadlines, jobs, journal, notices, observables, services
from khien.incidents.models import EventKind, IncidentEvent, Status, Task
from khien.intel import services as intel_services
from khien.intel.models import StixObject, Tlp

from .conftest import walk

pytestmark = pytest.mark.django_db

NOTIFICATION = {"services_disrupted": "Thư điện tử", "people_affected": 0}


@pytest.fixture
def feed(world):
    return intel_services.do_create_collection({"title": "MIN feed", "owner": world.ministry, "kind": "group"},
                                               acting_user=world.coordinator)


def _name(user) -> str:
    return notifications.person_name(user)


# --- 1. After a reopen, the final report is given again before closing ------------------------------------------


def test_a_reopen_asks_the_final_report_again_and_closing_waits_for_it(world, report, api):
    incident = walk(report(), [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED,
                               Status.CLOSED], world.analyst)
    first_final, notified = incident.final_report_at, incident.notified_at
    assert first_final is not None
    incident = services.do_transition(incident, Status.IN_RESPONSE, acting_user=world.analyst,
                                      reason="Máy thứ hai bị mã hóa")
    incident.refresh_from_db()
    # The final report is to give again; the detailed notification (the incident's start) stays given.
    assert incident.final_report_at is None and incident.notified_at == notified
    assert deadlines.incident_next_stage(incident).code == "final"
    reopened = IncidentEvent.objects.get(incident=incident, kind=EventKind.REOPENED)
    assert reopened.data["reports_asked_again"] == {"final": first_final.isoformat()}
    with translation.override("en"):
        assert journal.headline(reopened, journal.stage_names(incident.policy)) == (
            "Reopened → In response · to be given again: Final report")
    client = api(world.analyst)
    # A second detailed notification is still refused; the final report waits for the end of the response.
    response = client.post(f"/api/incidents/{incident.pk}/stage/", {"stage": "notification", **NOTIFICATION},
                           format="json")
    assert response.status_code == 409 and response.json()["code"] == "stage_given"
    response = client.post(f"/api/incidents/{incident.pk}/stage/",
                           {"stage": "final", "root_cause": "x", "mitigation": "y"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "stage_too_early"
    incident = walk(incident, [Status.CONTAINED], world.analyst)
    incident = services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst, cancel_open_tasks=True)
    # Closing with the earlier version only is refused, nothing changed.
    with pytest.raises(Refused) as refused:
        services.do_transition(incident, Status.CLOSED, acting_user=world.analyst, cancel_open_tasks=True)
    assert refused.value.code == "reports_missing"
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    # The new version: the earlier one stays in the journal (its line) and the audit log (its fields).
    response = client.post(f"/api/incidents/{incident.pk}/stage/", {
        "stage": "final", "root_cause": "Mật khẩu yếu và máy thứ hai chưa vá", "mitigation": "Vá, đổi mật khẩu"},
        format="json")
    assert response.status_code == 200, response.content
    incident.refresh_from_db()
    assert incident.final_report_at > first_final
    lines = list(IncidentEvent.objects.filter(incident=incident, kind=EventKind.STAGE, data__stage="final")
                 .order_by("at", "id"))
    assert len(lines) == 2 and "version" not in lines[0].data and lines[1].data["version"] == 2
    with translation.override("en"):
        assert journal.headline(lines[1], journal.stage_names(incident.policy)).endswith("Final report (version 2)")
    entry = AuditEntry.objects.filter(object_id=str(incident.pk), after__root_cause__startswith="Mật khẩu yếu và")\
        .latest("seq")
    assert entry.before["root_cause"] == "Mật khẩu yếu"  # the earlier version
    incident = services.do_transition(incident, Status.CLOSED, acting_user=world.analyst, cancel_open_tasks=True)
    assert incident.status == Status.CLOSED


def test_a_reopen_before_any_final_report_asks_nothing_more(world, report):
    incident = walk(report(), [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED], world.analyst)
    incident = services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst, cancel_open_tasks=True)
    incident = services.do_transition(incident, Status.IN_RESPONSE, acting_user=world.analyst, reason="Chưa xong")
    assert IncidentEvent.objects.get(incident=incident, kind=EventKind.REOPENED).data == {}


# --- 2. A task done by a report stage is never due after the stage's deadline ----------------------------------


def test_the_notification_task_is_due_by_the_legal_deadline_after_a_late_triage(world, report):
    now = timezone.now()
    detected = now - dt.timedelta(hours=40)  # triage 40 h after detection: 48 h later would be past the 72 h
    incident = report(detected_at=detected, now=now - dt.timedelta(hours=30))
    services.do_transition(incident, Status.TRIAGED, acting_user=world.analyst, now=now)
    task = Task.objects.get(incident=incident, template_code="report-ncsc")
    assert task.due_at == detected + dt.timedelta(hours=72)
    assert "cập nhật" not in task.description  # a second notification is refused: no "update it" promised
    other = Task.objects.get(incident=incident, template_code="preserve-evidence")  # not tied to a stage
    assert other.due_at == now + dt.timedelta(hours=4)


def test_the_final_report_task_is_brought_forward_when_its_deadline_becomes_known(world, report):
    t0 = dt.datetime(2026, 2, 2, 8, 0, tzinfo=dt.timezone.utc)  # February: one month (28 days) < 720 hours
    incident = report(now=t0, detected_at=t0 - dt.timedelta(hours=2))
    incident = services.do_transition(incident, Status.TRIAGED, acting_user=world.analyst, now=t0)
    lessons = Task.objects.get(incident=incident, template_code="lessons-learned")
    assert lessons.due_at == t0 + dt.timedelta(hours=720)  # the final report's deadline is not known yet
    services.do_update_task(lessons, {"owner": world.admin}, acting_user=world.analyst)
    services.do_submit_stage(incident, "notification", NOTIFICATION, acting_user=world.analyst,
                             now=t0 + dt.timedelta(hours=1))
    incident.refresh_from_db()
    final_due = next(s for s in deadlines.incident_schedule(incident) if s.code == "final").due_at
    lessons.refresh_from_db()
    assert lessons.due_at == final_due < t0 + dt.timedelta(hours=720)
    line = IncidentEvent.objects.filter(incident=incident, kind=EventKind.TASK, data__action="changed",
                                        data__fields=["due_at"]).get()
    assert line.data["due_at"][1] == final_due.isoformat()
    assert Notification.objects.filter(recipient=world.admin, kind="incidents.task",
                                       title__contains=incident.reference).count() == 2  # given, then moved
    # A task due before the deadline is left as it is.
    assert Task.objects.get(incident=incident, template_code="preserve-evidence").due_at == t0 + dt.timedelta(hours=4)


# --- 3. A status change says who made it ------------------------------------------------------------------------


def test_a_status_notice_names_who_changed_it(world, report):
    incident = report()
    services.do_transition(incident, Status.TRIAGED, acting_user=world.analyst, reason="Đã xác minh")
    notice = Notification.objects.get(kind="incidents.status", recipient=world.admin)
    assert notice.body == f"{incident.title}\nNgười thay đổi: {_name(world.analyst)}.\nĐã xác minh"
    assert not Notification.objects.filter(kind="incidents.status", recipient=world.analyst).exists()


# --- 4. A severity raised at triage says why and which deadlines moved ------------------------------------------


def test_a_severity_raised_at_triage_names_the_reason_and_the_moved_deadlines(world, report):
    incident = report(severity="medium")
    policy = incident.policy.data
    moved = {m: (deadlines.sla_due_at("medium", m, incident.reported_at, policy),
                 deadlines.sla_due_at("critical", m, incident.reported_at, policy)) for m in ("triage", "contain")}
    services.do_triage(incident, {"severity": "critical"}, reason="Lây lan sang 40 máy", acting_user=world.analyst)
    notice = Notification.objects.get(kind="incidents.severity", recipient=world.admin)
    assert notice.urgent and "Lây lan sang 40 máy" in notice.body
    with translation.override("en"):
        shown = render_data(notice.texts["body"])
    for what, (old, new) in moved.items():
        label = {"triage": "triage", "contain": "containment"}[what]
        assert f"The {label} deadline moved: {notices.when_text(old)} → {notices.when_text(new)}." in shown
    event = IncidentEvent.objects.get(incident=incident, kind=EventKind.RECLASSIFIED)
    assert event.text == "Lây lan sang 40 máy"  # the journal keeps the reason too


def test_a_lowered_severity_at_triage_tells_nobody_urgently(world, report):
    incident = report(severity="high")
    services.do_triage(incident, {"severity": "low"}, reason="Chỉ một máy", acting_user=world.analyst)
    assert not Notification.objects.filter(kind="incidents.severity").exists()


# --- 5. Sharing: 201 only when something was shared, skipped values listed; a wider TLP is confirmed -----------


def test_sharing_again_answers_200_with_the_skipped_values(world, report, feed, api):
    incident = report(observables=[("domain", "c2.example-demo.vn")])
    observable = incident.observables.get()
    client = api(world.analyst)
    body = {"observables": [str(observable.pk)], "tlp": "amber", "collection": str(feed.pk)}
    response = client.post(f"/api/incidents/{incident.pk}/observables/share/", body, format="json")
    assert response.status_code == 201
    answer = response.json()
    assert [o["value"] for o in answer["shared"]] == ["c2.example-demo.vn"] and answer["skipped"] == []
    assert answer["shared"][0]["indicator"].startswith("indicator--") and len(answer["observables"]) == 1
    response = client.post(f"/api/incidents/{incident.pk}/observables/share/", body, format="json",
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    answer = response.json()
    assert answer["shared"] == []
    assert answer["skipped"] == [{"id": str(observable.pk), "kind": "domain", "value": "c2.example-demo.vn",
                                  "reason": "already_shared",
                                  "message": "Already shared from this incident as an active indicator of your "
                                             "organization."}]


def test_a_tlp_wider_than_the_incidents_is_refused_unless_confirmed(world, report, feed, api):
    incident = report(observables=[("domain", "c2.example-demo.vn")])  # TLP:AMBER
    observable = incident.observables.get()
    client = api(world.analyst)
    counts = (StixObject.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ValidationError) as refused:
        observables.do_share_observables(incident, [observable], tlp=Tlp.CLEAR, collection=feed,
                                         acting_user=world.analyst)
    assert "TLP:AMBER" in refused.value.message_dict["tlp"][0]
    body = {"observables": [str(observable.pk)], "tlp": "clear", "collection": str(feed.pk)}
    response = client.post(f"/api/incidents/{incident.pk}/observables/share/", body, format="json",
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "The incident is marked TLP:AMBER" in str(response.json())
    assert (StixObject.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.count()) == counts
    observable.refresh_from_db()
    assert observable.shared_at is None
    # Confirmed: shared, and the journal keeps that it was.
    response = client.post(f"/api/incidents/{incident.pk}/observables/share/", {**body, "confirm_downgrade": True},
                           format="json")
    assert response.status_code == 201
    event = IncidentEvent.objects.get(incident=incident, kind=EventKind.OBSERVABLE, data__action="shared")
    assert event.data["tlp"] == "clear" and event.data["tlp_downgrade_confirmed"] is True


def test_a_tlp_as_strict_or_stricter_needs_no_confirmation(world, report, feed):
    incident = report(observables=[("domain", "c2.example-demo.vn"), ("domain", "c3.example-demo.vn")])
    first, second = incident.observables.order_by("value")
    assert observables.do_share_observables(incident, [first], tlp=Tlp.AMBER, collection=feed,
                                            acting_user=world.analyst).total == 1
    assert observables.do_share_observables(incident, [second], tlp=Tlp.RED, collection=feed,
                                            acting_user=world.analyst).total == 1
    event = IncidentEvent.objects.filter(incident=incident, kind=EventKind.OBSERVABLE, data__action="shared").first()
    assert "tlp_downgrade_confirmed" not in event.data


# --- 6. The escalation journal line reads in its reader's language --------------------------------------------


def test_the_escalation_line_reads_in_the_readers_language(world, report, as_user):
    t0 = timezone.now() - dt.timedelta(hours=1)
    incident = report(now=t0, severity="low", detected_at=t0 - dt.timedelta(hours=30), late_reason="Mất điện")
    jobs.check_deadlines(t0 + dt.timedelta(minutes=5))
    event = IncidentEvent.objects.get(incident=incident, kind=EventKind.ESCALATION)
    due = notices.when_text(deadlines.incident_report_due_at(incident))
    assert "báo cáo ban đầu" in event.text  # stored in the platform's language
    with translation.override("en"):
        assert journal.note_text(event, {}, None) == (
            f"{incident.reference}: the initial report was given late (due {due}).")
    with translation.override("vi"):
        assert journal.note_text(event, {}, None) == event.text
    client = as_user(world.admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the switch in the header
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "the initial report was given late" in page and "báo cáo ban đầu được gửi trễ" not in page
    # A line stored before the texts were kept reads as stored.
    event.data = {"keys": event.data["keys"]}
    with translation.override("en"):
        assert journal.note_text(event, {}, None) == event.text


# --- 7. The person who filed the late report is not sent its escalation -----------------------------------------


def test_the_late_reports_escalation_is_not_mailed_to_who_filed_it(world, report):
    t0 = timezone.now() - dt.timedelta(hours=1)
    incident = report(now=t0, severity="low", detected_at=t0 - dt.timedelta(hours=30), late_reason="Mất điện")
    jobs.check_deadlines(t0 + dt.timedelta(minutes=5))
    told = set(Notification.objects.filter(kind="incidents.escalation").values_list("recipient__email", flat=True))
    assert world.coordinator.email in told and world.admin.email in told
    assert world.analyst.email not in told  # filed it, gave the reason
    assert incident.created_by == world.analyst


def test_the_filer_still_hears_of_other_missed_deadlines(world, report):
    t0 = timezone.now() - dt.timedelta(hours=3)
    # Critical: triage is due 1 h after the report; checked 2 h later, both deadlines are missed at once.
    report(now=t0, severity="critical", detected_at=t0 - dt.timedelta(hours=30), late_reason="Mất điện")
    jobs.check_deadlines(t0 + dt.timedelta(hours=2))
    told = set(Notification.objects.filter(kind="incidents.escalation").values_list("recipient__email", flat=True))
    assert {world.analyst.email, world.admin.email, world.coordinator.email} <= told
