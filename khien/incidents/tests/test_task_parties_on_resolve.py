"""Whose tasks a workflow step ends, and who hears of each party's tasks (a responder's walkthrough).

1. Resolving ends only the tasks of the parties the person resolving acts for (`services.task_parties`): a
   responder's own work, not the reporting organization's (check the backups, reset the passwords) nor the
   coordinator's (share the IoCs) — those stay open, and the page and the notices say so; closing ends every task
   and each party is told which of its tasks were cancelled.
2. The responder organization's (and the coordinator's) standard tasks that nobody holds reach its people: a notice
   listing them, a "To do" line, the task list's "For my organization, nobody in charge" filter.
3. The urgent assignment notice gives the triage and containment due times.
4. Every incident notice writes a time as the pages do (`texts.shown_time`: 07/12/2026 13:47).
"""
import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from khien.conftest import _org, _user
from khien.core.errors import Refused
from khien.core.models import Notification
from khien.core.roles import Role
from khien.core.texts import shown_time
from khien.incidents import deadlines, services
from khien.incidents.models import OPEN_TASK_STATUSES, Status, Task, TaskParty, TaskStatus
from khien.incidents.worklist import waiting_work

from .conftest import give_reports

pytestmark = pytest.mark.django_db

REPORTER_CODES = {"check-backups", "reset-credentials", "report-ncsc"}
COORDINATOR_CODES = {"share-iocs"}


def _step(incident, statuses, user, **kwargs):
    for status in statuses:
        incident = services.do_transition(incident, status, acting_user=user, **kwargs)
    return incident


def open_codes(incident, party=None):
    tasks = Task.objects.filter(incident=incident, status__in=OPEN_TASK_STATUSES).exclude(template_code="")
    if party:
        tasks = tasks.filter(party=party)
    return set(tasks.values_list("template_code", flat=True))


def status_notice(user, to_status):
    """The user's latest status notice of the step to `to_status` (None: not told)."""
    with translation.override("en"):
        found = [n for n in Notification.objects.filter(recipient=user, kind="incidents.status").order_by("created_at")
                 if n.shown_title.endswith(f"→ {Status(to_status).label}")]
    return found[-1] if found else None


def english_body(notice) -> str:
    with translation.override("en"):
        return notice.shown_body


@pytest.fixture
def contained(world, report):
    """The ministry's malware incident triaged by the coordinator (its standard tasks planned), the responder
    company assigned, contained by the responder."""
    incident = report()
    incident = _step(incident, [Status.TRIAGED], world.coordinator)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    incident = _step(incident, [Status.IN_RESPONSE, Status.CONTAINED], world.responder)
    assert REPORTER_CODES <= open_codes(incident, TaskParty.REPORTER)
    assert COORDINATOR_CODES <= open_codes(incident, TaskParty.COORDINATOR)
    assert open_codes(incident, TaskParty.RESPONDER)
    Notification.objects.all().delete()
    return incident


# 1. Resolving ends the resolver's parties' tasks only.

def test_the_responder_resolving_cancels_its_own_tasks_and_leaves_the_others_open(world, contained):
    responder_open = open_codes(contained, TaskParty.RESPONDER)
    with pytest.raises(Refused) as refused:
        services.do_transition(contained, Status.RESOLVED, acting_user=world.responder)
    # The question counts the responder's own tasks only.
    assert refused.value.code == "open_tasks" and str(len(responder_open)) in refused.value.message
    incident = services.do_transition(contained, Status.RESOLVED, acting_user=world.responder, cancel_open_tasks=True)
    assert incident.status == Status.RESOLVED
    assert not open_codes(incident, TaskParty.RESPONDER)
    assert Task.objects.filter(incident=incident, template_code__in=responder_open,
                               status=TaskStatus.CANCELLED).count() == len(responder_open)
    # Neither the reporting organization's tasks nor the coordinator's are cancelled by the responder.
    assert REPORTER_CODES <= open_codes(incident, TaskParty.REPORTER)
    assert COORDINATOR_CODES <= open_codes(incident, TaskParty.COORDINATOR)


def test_the_reporting_organization_is_told_which_of_its_tasks_are_still_open(world, contained):
    services.do_transition(contained, Status.RESOLVED, acting_user=world.responder, cancel_open_tasks=True)
    body = english_body(status_notice(world.analyst, Status.RESOLVED))
    assert "Still open for your organization (finish or cancel them):" in body
    assert "Check that the backups are intact" in body and "Reset passwords" in body
    assert "Tasks cancelled with this step:" not in body  # none of the ministry's were cancelled
    # The coordinator, whose task stays open, hears of it too; the responder, who resolved, does not.
    body = english_body(status_notice(world.coordinator, Status.RESOLVED))
    assert "Still open for your organization" in body and "Share the indicators of compromise" in body
    assert status_notice(world.responder, Status.RESOLVED) is None


def test_with_only_other_parties_tasks_open_the_responder_is_not_asked(world, contained):
    Task.objects.filter(incident=contained, party=TaskParty.RESPONDER).update(status=TaskStatus.DONE)
    incident = services.do_transition(contained, Status.RESOLVED, acting_user=world.responder)
    assert incident.status == Status.RESOLVED
    assert REPORTER_CODES <= open_codes(incident, TaskParty.REPORTER)


def test_the_coordinator_resolving_ends_every_partys_tasks_and_each_party_is_told_its_own(world, contained):
    other_coordinator = _user("coordinator2@test.vn", world.ncsc, Role.NATIONAL_COORDINATOR)
    incident = services.do_transition(contained, Status.RESOLVED, acting_user=world.coordinator,
                                      cancel_open_tasks=True)
    assert open_codes(incident) == {"lessons-learned"}  # after: resolved
    reporter = english_body(status_notice(world.analyst, Status.RESOLVED))
    responder = english_body(status_notice(world.responder, Status.RESOLVED))
    coordinator = english_body(status_notice(other_coordinator, Status.RESOLVED))
    for body in (reporter, responder, coordinator):
        assert "Tasks cancelled with this step:" in body
    # Each party reads its own tasks by name, not the others'.
    assert "Check that the backups are intact" in reporter and "Reset passwords" in reporter
    assert "Share the indicators of compromise" in coordinator and "backups" not in coordinator
    assert "Isolate the affected hosts" in responder and "backups" not in responder
    assert "Share the indicators" not in reporter and "Isolate the affected hosts" not in reporter


def test_closing_by_the_reporting_side_cancels_what_is_left_and_tells_each_party(world, contained):
    incident = services.do_transition(contained, Status.RESOLVED, acting_user=world.analyst, cancel_open_tasks=True)
    # The reporting side resolved: the responder's tasks stay open, and the responder is told so.
    assert open_codes(incident, TaskParty.RESPONDER)
    assert not (REPORTER_CODES - {"report-ncsc"}) & open_codes(incident, TaskParty.REPORTER)
    body = english_body(status_notice(world.responder, Status.RESOLVED))
    assert "Still open for your organization (finish or cancel them):" in body
    incident = give_reports(incident, world.analyst)
    Notification.objects.all().delete()
    with pytest.raises(Refused):
        services.do_transition(incident, Status.CLOSED, acting_user=world.analyst)
    incident = services.do_transition(incident, Status.CLOSED, acting_user=world.analyst, cancel_open_tasks=True)
    assert not open_codes(incident)
    body = english_body(status_notice(world.responder, Status.CLOSED))
    assert "Tasks cancelled with this step:" in body
    body = english_body(status_notice(world.coordinator, Status.CLOSED))
    assert "Tasks cancelled with this step:" in body and "Share the indicators of compromise" in body


def test_a_task_added_by_hand_is_its_person_in_charges_side(world, contained):
    Task.objects.filter(incident=contained, party=TaskParty.REPORTER).update(status=TaskStatus.DONE)
    theirs = services.do_add_task(contained, {"title": "Phân tích mẫu mã độc", "owner": world.responder},
                                  acting_user=world.analyst)
    anyones = services.do_add_task(contained, {"title": "Cô lập máy chủ"}, acting_user=world.analyst)
    ours = services.do_add_task(contained, {"title": "Báo lãnh đạo", "owner": world.admin},
                                acting_user=world.analyst)
    assert services.task_party(theirs, contained) == TaskParty.RESPONDER
    assert services.task_party(ours, contained) == TaskParty.REPORTER
    assert services.task_party(anyones, contained) == ""
    incident = services.do_transition(contained, Status.RESOLVED, acting_user=world.analyst, cancel_open_tasks=True)
    statuses = dict(Task.objects.filter(pk__in=[theirs.pk, anyones.pk, ours.pk]).values_list("title", "status"))
    assert statuses == {"Phân tích mẫu mã độc": TaskStatus.OPEN, "Cô lập máy chủ": TaskStatus.CANCELLED,
                        "Báo lãnh đạo": TaskStatus.CANCELLED}
    assert incident.status == Status.RESOLVED


def test_the_confirmation_lists_what_is_cancelled_and_what_stays_open(world, contained, as_user):
    client = as_user(world.responder)
    client.cookies["khien_language"] = "en"
    url = reverse("incidents:incident_transition", args=[contained.pk])
    page = client.post(url, {"status": "resolved"})
    assert page.status_code == 200
    html = page.content.decode()
    confirm = html[html.index('id="open-tasks-confirm"'):html.index('id="open-tasks-left-list"')]
    left = html[html.index('id="open-tasks-left-list"'):]
    left = left[:left.index("</ul>")]
    assert "These tasks of other parties stay open" in html
    assert "Reporting organization" in left and "National coordinator" in left
    assert "Reporting organization" not in confirm.split('id="open-tasks-left"')[0].split("open-task-list", 1)[1]
    assert "Responder organization" in confirm
    assert "told which" in html
    done = client.post(url, {"status": "resolved", "cancel_open_tasks": "1"})
    assert done.status_code == 302
    assert REPORTER_CODES <= open_codes(contained, TaskParty.REPORTER)


# 2. The responder's (and the coordinator's) tasks nobody holds reach their people.

@pytest.fixture
def triaged_then_assigned(world, report):
    incident = report()
    incident = _step(incident, [Status.TRIAGED], world.analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return incident


def test_the_assigned_responder_is_told_of_its_tasks_nobody_holds(world, triaged_then_assigned):
    ours = Task.objects.filter(incident=triaged_then_assigned, party=TaskParty.RESPONDER, owner=None,
                               status__in=OPEN_TASK_STATUSES)
    assert ours.count() >= 4
    [told] = Notification.objects.filter(recipient=world.responder, kind="incidents.tasks_for_responder")
    with translation.override("en"):
        assert f"{ours.count()} tasks for your organization" in told.shown_title
        body = told.shown_body
    first = ours.order_by("due_at").first()
    assert shown_time(first.due_at) in body
    # Not the reporting organization (its own notice lists its own tasks), nor another responder.
    assert not Notification.objects.filter(kind="incidents.tasks_for_responder").exclude(
        recipient=world.responder).exists()


def test_triage_after_the_assignment_tells_the_responder_once(world, report):
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    _step(incident, [Status.TRIAGED], world.analyst)
    assert Notification.objects.filter(recipient=world.responder, kind="incidents.tasks_for_responder").count() == 1


def test_the_responders_to_do_and_filter_show_exactly_its_tasks(world, triaged_then_assigned, as_user):
    incident = triaged_then_assigned
    ours = set(Task.objects.filter(incident=incident, party=TaskParty.RESPONDER, owner=None,
                                   status__in=OPEN_TASK_STATUSES).values_list("pk", flat=True))
    [item] = [i for i in waiting_work(world.responder) if "reporter_open=1" in i.url]
    assert item.count == len(ours)
    page = as_user(world.responder).get("/incidents/tasks/?reporter_open=1")
    assert {row["task"].pk for row in page.context["rows"]} == ours
    # The reporting side's filter keeps its own party's tasks only.
    page = as_user(world.analyst).get("/incidents/tasks/?reporter_open=1")
    assert {row["task"].party for row in page.context["rows"]} == {TaskParty.REPORTER}
    # Another responder company, not assigned, has none; an auditor neither.
    other = _user("responder@resp2.test.vn", _org("RESP2", "responder"), Role.RESPONDER)
    assert not [i for i in waiting_work(other) if "reporter_open=1" in i.url]
    assert not [i for i in waiting_work(world.auditor) if "reporter_open=1" in i.url]


def test_the_coordinators_tasks_nobody_holds(world, triaged_then_assigned, as_user):
    theirs = set(Task.objects.filter(incident=triaged_then_assigned, party=TaskParty.COORDINATOR, owner=None,
                                     status__in=OPEN_TASK_STATUSES).values_list("pk", flat=True))
    assert theirs
    [item] = [i for i in waiting_work(world.coordinator) if "reporter_open=1" in i.url]
    assert item.count == len(theirs)
    # The analyst triaged: the coordinator was told of its tasks.
    assert Notification.objects.filter(recipient=world.coordinator, kind="incidents.tasks_for_coordinator").exists()
    assert not Notification.objects.filter(recipient=world.analyst, kind="incidents.tasks_for_coordinator").exists()


# 3. The assignment notice gives the deadlines.

def test_the_assignment_notice_gives_the_triage_and_containment_due_times(world, report,
                                                                          django_capture_on_commit_callbacks):
    world.responder.language = "en"
    world.responder.save(update_fields=["language"])
    incident = report()
    with django_capture_on_commit_callbacks(execute=True):
        services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    [notice] = Notification.objects.filter(recipient=world.responder, kind="incidents.assigned")
    triage = shown_time(deadlines.incident_sla_due_at(incident, "triage"))
    contain = shown_time(deadlines.incident_sla_due_at(incident, "contain"))
    with translation.override("en"):
        body = notice.shown_body
    assert f"Triage is due by {triage}." in body and f"Containment is due by {contain}." in body
    [email] = [m for m in mail.outbox if world.responder.email in m.to]
    assert f"Containment is due by {contain}." in email.body  # in the reader's language


def test_once_triaged_the_assignment_notice_gives_containment_only(world, report):
    incident = _step(report(), [Status.TRIAGED], world.analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    [notice] = Notification.objects.filter(recipient=world.responder, kind="incidents.assigned")
    with translation.override("en"):
        body = notice.shown_body
    assert "Triage is due" not in body and "Containment is due by" in body


# 4. One time format in the notices.

def test_the_task_notices_write_the_date_first(world, report):
    incident = _step(report(), [Status.TRIAGED], world.coordinator)
    [told] = Notification.objects.filter(recipient=world.analyst, kind="incidents.tasks_for_reporter")
    first = (Task.objects.filter(incident=incident, party=TaskParty.REPORTER, owner=None)
             .exclude(due_at=None).order_by("due_at").first())
    with translation.override("en"):
        body = told.shown_body
    assert f"due at {shown_time(first.due_at)}" in body
    from django.utils import timezone
    assert timezone.localtime(first.due_at).strftime("%H:%M %d/%m/%Y") not in body
