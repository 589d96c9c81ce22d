"""Resolving or closing an incident whose tasks are still open is an explicit choice: the service refuses it
(409, `open_tasks`) unless the caller asks to cancel them, which it then does task by task (journal, audit) in the
same transaction as the step; the page lists the open tasks and asks before cancelling them."""
import pytest
from django.urls import reverse

from khien.core.errors import Refused
from khien.core.models import AuditEntry, Notification
from khien.incidents import services
from khien.incidents.models import EventKind, IncidentEvent, Status, Task, TaskStatus

from .conftest import give_reports, walk

pytestmark = pytest.mark.django_db

URL = "/api/incidents/"


def contained(world, report):
    """The ministry's incident, contained, with its standard tasks (planned at triage): two still open, one done,
    one given to the ministry's administrator (the reporting side's, so that the analyst resolving ends it: another
    party's task stays open, test_task_parties_on_resolve.py)."""
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    incident = walk(incident, [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED], world.analyst)
    Task.objects.filter(incident=incident).delete()  # a known set of tasks, whatever the task list says
    open_one = services.do_add_task(incident, {"title": "Cô lập máy chủ"}, acting_user=world.analyst)
    mine = services.do_add_task(incident, {"title": "Phân tích mẫu mã độc", "owner": world.admin},
                                acting_user=world.analyst)
    services.do_set_task_status(mine, TaskStatus.IN_PROGRESS, acting_user=world.responder)
    done = services.do_add_task(incident, {"title": "Thu thập nhật ký"}, acting_user=world.analyst)
    services.do_set_task_status(done, TaskStatus.DONE, acting_user=world.analyst)
    incident.refresh_from_db()
    return incident, open_one, mine, done


def state(incident):
    incident.refresh_from_db()
    return (incident.status, incident.resolved_at,
            sorted(Task.objects.filter(incident=incident).values_list("title", "status")),
            IncidentEvent.objects.filter(incident=incident).count(), AuditEntry.objects.count())


def test_resolving_with_open_tasks_is_refused_and_changes_nothing(world, report):
    incident, *_ = contained(world, report)
    before = state(incident)
    with pytest.raises(Refused) as refused:
        services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst)
    assert refused.value.code == "open_tasks" and refused.value.status == 409
    assert "2" in refused.value.message  # names how many
    assert state(incident) == before


def test_resolving_with_cancel_open_tasks_cancels_each_in_the_same_step(world, report):
    incident, open_one, mine, done = contained(world, report)
    audits = AuditEntry.objects.count()
    services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst, cancel_open_tasks=True)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    statuses = dict(Task.objects.filter(incident=incident).values_list("title", "status"))
    assert statuses == {"Cô lập máy chủ": TaskStatus.CANCELLED, "Phân tích mẫu mã độc": TaskStatus.CANCELLED,
                        "Thu thập nhật ký": TaskStatus.DONE}
    lines = IncidentEvent.objects.filter(incident=incident, kind=EventKind.TASK, data__status=TaskStatus.CANCELLED)
    assert sorted(line.data["task_id"] for line in lines) == sorted([str(open_one.pk), str(mine.pk)])
    # One audit entry per cancelled task and one for the step.
    assert AuditEntry.objects.count() - audits >= 3
    assert AuditEntry.objects.filter(object_id__in=[str(open_one.pk), str(mine.pk)], action="update",
                                     after__status=TaskStatus.CANCELLED).count() == 2
    # The administrator, in charge of a task someone else cancelled, is told.
    assert Notification.objects.filter(recipient=world.admin, kind="incidents.task_ended").exists()


def test_closing_with_an_open_task_is_refused_too(world, report):
    incident, *_ = contained(world, report)
    services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst, cancel_open_tasks=True)
    incident = give_reports(Task.objects.get(title="Cô lập máy chủ").incident, world.analyst)
    services.do_add_task(incident, {"title": "Báo cáo rút kinh nghiệm"}, acting_user=world.analyst)
    with pytest.raises(Refused) as refused:
        services.do_transition(incident, Status.CLOSED, acting_user=world.analyst)
    assert refused.value.code == "open_tasks"
    services.do_transition(incident, Status.CLOSED, acting_user=world.analyst, cancel_open_tasks=True)
    incident.refresh_from_db()
    assert incident.status == Status.CLOSED
    assert not Task.objects.filter(incident=incident, status__in=[TaskStatus.OPEN, TaskStatus.IN_PROGRESS]).exists()


def test_without_open_tasks_nothing_is_asked(world, report):
    incident, open_one, mine, _done = contained(world, report)
    for task in (open_one, mine):
        services.do_set_task_status(task, TaskStatus.DONE, acting_user=world.analyst)
    services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_the_api_refuses_then_cancels_when_asked(world, report, api):
    incident, *_ = contained(world, report)
    client = api(world.analyst)
    before = state(incident)
    refused = client.post(f"{URL}{incident.pk}/transition/", {"status": "resolved"}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "open_tasks"
    assert state(incident) == before
    done = client.post(f"{URL}{incident.pk}/transition/", {"status": "resolved", "cancel_open_tasks": True},
                       format="json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "resolved"
    assert not Task.objects.filter(incident=incident, status__in=[TaskStatus.OPEN, TaskStatus.IN_PROGRESS]).exists()


def test_the_page_lists_the_open_tasks_and_asks_before_cancelling(world, report, as_user):
    incident, *_ = contained(world, report)
    client = as_user(world.analyst)
    url = reverse("incidents:incident_transition", args=[incident.pk])
    # The step says beforehand that tasks are open.
    assert 'id="step-open-tasks-resolved"' in client.get(reverse("incidents:incident_detail",
                                                                 args=[incident.pk])).content.decode()
    before = state(incident)
    page = client.post(url, {"status": "resolved"})
    assert page.status_code == 200  # a question, not an error
    html = page.content.decode()
    assert 'id="open-tasks-confirm"' in html
    assert "Cô lập máy chủ" in html and "Phân tích mẫu mã độc" in html
    assert 'name="cancel_open_tasks"' in html
    assert reverse("incidents:incident_detail", args=[incident.pk]) in html  # the way back
    assert state(incident) == before
    done = client.post(url, {"status": "resolved", "cancel_open_tasks": "1"})
    assert done.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
