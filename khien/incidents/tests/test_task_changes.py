"""A task's description, person in charge and due time changed after it was added (journaled, audited, the new
person in charge told), and who can be put in charge of a task at all: those who may work on it, not auditors or
trainees."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry, Notification, User
from khien.incidents import journal, services
from khien.incidents.forms import TaskEditForm, TaskForm
from khien.incidents.models import EventKind, IncidentEvent, Status, Task

from .conftest import walk

pytestmark = pytest.mark.django_db

URL = "/api/incidents/"


def state():
    return (Task.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.exclude(action="login").count(),
            Notification.objects.count(),
            list(Task.objects.order_by("pk").values_list("owner", "due_at", "description")))


def local_input(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def task(world, report):
    """A task of the department's incident, with the RESP responder assigned."""
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return services.do_add_task(incident, {"title": "Cô lập máy chủ", "description": "Máy chủ thư điện tử"},
                                acting_user=world.dept_analyst)


# --- Who can be in charge (item: only people whose role can act on a task) ------------------------------------


def test_the_people_who_can_be_in_charge_are_those_who_may_work_on_the_incident(world, report):
    incident = report()  # the ministry's
    people = set(services.task_people(incident))
    assert people == {world.coordinator, world.admin, world.analyst}
    everyone = User.objects.filter(is_active=True)
    assert people == {u for u in everyone if services.may_participate(u, incident)}  # the same rule
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    people = set(services.task_people(incident))
    assert world.responder in people and world.auditor not in people and world.trainee not in people
    assert people == {u for u in User.objects.filter(is_active=True) if services.may_participate(u, incident)}
    # A unit's incident: the people of the parent organization's line who may change work on it too.
    unit = report(org=world.department, user=world.dept_analyst)
    assert set(services.task_people(unit)) == {world.coordinator, world.admin, world.analyst, world.dept_analyst}


def test_the_person_in_charge_choice_lists_no_auditor_or_trainee(world, report):
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    for form in (TaskForm(incident=incident),
                 TaskEditForm(task=services.do_add_task(incident, {"title": "x"}, acting_user=world.analyst))):
        offered = set(form.fields["owner"].queryset)
        assert offered == {world.coordinator, world.admin, world.analyst, world.responder}


def test_an_auditor_or_trainee_cannot_be_put_in_charge(world, report, task):
    before = state()
    for person in (world.auditor, world.trainee, world.other_admin, world.nobody):
        with pytest.raises(ValidationError) as exc:
            services.do_add_task(task.incident, {"title": "x", "owner": person}, acting_user=world.dept_analyst)
        assert "owner" in exc.value.message_dict
        with pytest.raises(ValidationError):
            services.do_update_task(task, {"owner": person}, acting_user=world.dept_analyst)
    assert state() == before


def test_the_page_offers_only_those_who_may_work_on_the_task(world, as_user, task):
    page = as_user(world.dept_analyst).get(f"/incidents/{task.incident.pk}/").content.decode()
    assert f'value="{world.responder.pk}"' in page and f'value="{world.admin.pk}"' in page
    assert f'value="{world.auditor.pk}"' not in page and f'value="{world.trainee.pk}"' not in page


# --- Description, person in charge, due time: the services --------------------------------------------------


def test_a_task_has_a_description(world, task):
    assert task.description == "Máy chủ thư điện tử"
    before = state()
    with pytest.raises(ValidationError) as exc:
        services.do_add_task(task.incident, {"title": "x", "description": "x" * 5001}, acting_user=world.dept_analyst)
    assert "description" in exc.value.message_dict
    assert state() == before


def test_changing_the_person_in_charge_is_journaled_audited_and_told(world, task):
    task, changed = services.do_update_task(task, {"owner": world.responder}, acting_user=world.dept_analyst)
    assert changed == ["owner"] and task.owner == world.responder
    line = task.incident.events.filter(kind=EventKind.TASK).latest("at", "id")
    assert line.data == {"task_id": str(task.pk), "action": "changed", "fields": ["owner"],
                         "owner": [None, world.responder.email]}
    assert line.actor == world.dept_analyst and line.text == "Cô lập máy chủ"
    assert str(world.responder) in journal.headline(line)  # named, not by e-mail
    entry = AuditEntry.objects.filter(object_id=str(task.pk), action="update").get()
    assert (entry.before["owner_id"], entry.after["owner_id"]) == (None, str(world.responder.pk))
    [note] = Notification.objects.filter(kind="incidents.task")
    assert note.recipient == world.responder and "Cô lập máy chủ" in note.title
    # Taking it oneself: nobody is told.
    services.do_update_task(task, {"owner": world.dept_analyst}, acting_user=world.dept_analyst)
    assert Notification.objects.filter(kind="incidents.task").count() == 1


def test_changing_the_due_time_and_description(world, task):
    due = timezone.now().replace(microsecond=0) + dt.timedelta(hours=6)
    task, changed = services.do_update_task(task, {"due_at": due, "description": "Kèm ảnh bộ nhớ",
                                                   "owner": None}, acting_user=world.responder)
    assert changed == ["due_at", "description"]  # the owner was already nobody: no change
    assert (task.due_at, task.description) == (due, "Kèm ảnh bộ nhớ")
    line = task.incident.events.filter(kind=EventKind.TASK).latest("at", "id")
    assert line.data["fields"] == ["due_at", "description"] and line.data["due_at"] == [None, due.isoformat()]
    assert "description" not in line.data  # the text is in the audit log, not repeated in the journal
    entry = AuditEntry.objects.filter(object_id=str(task.pk), action="update").get()
    assert (entry.before["description"], entry.after["description"]) == ("Máy chủ thư điện tử", "Kèm ảnh bộ nhớ")
    # Cleared again.
    task, changed = services.do_update_task(task, {"due_at": None}, acting_user=world.responder)
    assert changed == ["due_at"] and task.due_at is None


def test_no_change_writes_nothing(world, task):
    before = state()
    task, changed = services.do_update_task(task, {"owner": None, "due_at": None,
                                                   "description": " Máy chủ thư điện tử "},
                                            acting_user=world.dept_analyst)
    assert changed == [] and state() == before


def test_bad_changes_are_refused_and_write_nothing(world, task):
    before = state()
    naive = dt.datetime(2026, 12, 24, 9, 0)
    for data, field in (({"due_at": naive}, "due_at"), ({"due_at": "tomorrow"}, "due_at"),
                        ({"description": "x" * 5001}, "description"), ({"title": "Việc khác"}, "title"),
                        ({"owner": world.auditor, "due_at": naive}, "owner")):
        with pytest.raises(ValidationError) as exc:
            services.do_update_task(task, data, acting_user=world.dept_analyst)
        assert field in exc.value.message_dict
    assert state() == before


def test_who_may_change_a_task(world, task, report):
    before = state()
    for user in (world.auditor, world.trainee):
        with pytest.raises(Forbidden):
            services.do_update_task(task, {"description": "x"}, acting_user=user)
    with pytest.raises(Forbidden):  # another organization does not even see it
        services.do_update_task(task, {"description": "x"}, acting_user=world.other_admin)
    assert state() == before
    for user in (world.responder, world.coordinator, world.admin):
        services.do_update_task(task, {"description": f"bởi {user.email}"}, acting_user=user)
    assert Task.objects.get(pk=task.pk).description == f"bởi {world.admin.email}"


def test_a_closed_incidents_tasks_do_not_change(world, report):
    incident = report(reports_given=True)
    task = services.do_add_task(incident, {"title": "x"}, acting_user=world.analyst)
    incident = walk(incident, (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED), world.analyst)
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_update_task(task, {"description": "y"}, acting_user=world.analyst)
    assert (exc.value.status, exc.value.code) == (409, "closed")
    assert state() == before


# --- The page -------------------------------------------------------------------------------------------------


def edit_data(task, **values):
    prefix = f"t{task.pk.hex[:8]}-"
    data = {"owner": str(task.owner_id or ""), "due_at": local_input(task.due_at) if task.due_at else "",
            "description": task.description}
    data.update(values)
    return {prefix + key: value for key, value in data.items()}


def test_editing_a_task_through_the_page(world, as_user, task):
    base = f"/incidents/{task.incident.pk}/tasks/{task.pk}/edit/"
    client = as_user(world.dept_analyst)
    due = local_input(timezone.now() + dt.timedelta(days=1))
    response = client.post(base, edit_data(task, owner=str(world.responder.pk), due_at=due, description="Mới"))
    assert response.status_code == 302 and response["Location"].endswith(f"#task-{task.pk}")
    task.refresh_from_db()
    assert (task.owner, local_input(task.due_at), task.description) == (world.responder, due, "Mới")
    page = client.get(f"/incidents/{task.incident.pk}/").content.decode()
    assert "Mới" in page and world.responder.email in page


def test_sending_the_edit_form_back_unchanged_changes_nothing(world, as_user, task):
    """The page shows the due time to the minute: a due time with seconds sent back unchanged is no change."""
    due = timezone.now() + dt.timedelta(hours=5, seconds=17)
    task, _changed = services.do_update_task(task, {"due_at": due}, acting_user=world.dept_analyst)
    client = as_user(world.dept_analyst)
    before = state()
    assert client.post(f"/incidents/{task.incident.pk}/tasks/{task.pk}/edit/", edit_data(task)).status_code == 302
    assert state() == before


def test_bad_or_refused_edits_through_the_page(world, as_user, task):
    base = f"/incidents/{task.incident.pk}/tasks/{task.pk}/edit/"
    before = state()
    client = as_user(world.dept_analyst)
    assert client.post(base, edit_data(task, due_at="soon")).status_code == 400
    assert client.post(base, edit_data(task, owner=str(world.auditor.pk))).status_code == 400
    assert client.post(base, edit_data(task, description="x" * 5001)).status_code == 400
    assert as_user(world.auditor).post(base, edit_data(task, description="y")).status_code == 403
    assert as_user(world.other_admin).post(base, edit_data(task, description="y")).status_code == 404
    assert state() == before


# --- The API --------------------------------------------------------------------------------------------------


def test_editing_a_task_over_the_api(world, api, task):
    url = f"{URL}{task.incident.pk}/tasks/{task.pk}/"
    analyst, auditor, other = api(world.dept_analyst), api(world.auditor), api(world.other_admin)
    before = state()
    assert auditor.patch(url, {"description": "y"}, format="json").status_code == 403
    assert other.patch(url, {"description": "y"}, format="json").status_code == 404
    bad_owner = analyst.patch(url, {"owner": world.auditor.email}, format="json")
    nobody = analyst.patch(url, {"owner": "no-such-person@test.vn"}, format="json")
    assert bad_owner.status_code == nobody.status_code == 400 and bad_owner.json() == nobody.json()
    assert analyst.patch(url, {"title": "Khác"}, format="json").status_code == 400  # not changed here
    assert analyst.patch(url, {"status": "done"}, format="json").status_code == 400  # its own endpoint
    assert analyst.patch(url, {"due_at": "soon"}, format="json").status_code == 400
    assert state() == before
    response = analyst.patch(url, {"owner": world.responder.email, "due_at": "2026-12-24T09:00:00+07:00"},
                             format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["owner"] == world.responder.email and body["description"] == "Máy chủ thư điện tử"
    assert body["due_at"].startswith("2026-12-24T")
    response = analyst.patch(url, {"owner": None, "due_at": None, "description": "Xong phần thu thập"},
                             format="json")
    assert response.status_code == 200 and response.json()["owner"] is None and response.json()["due_at"] is None
    assert response.json()["description"] == "Xong phần thu thập"


def test_adding_a_task_with_a_description_over_the_api(world, api, task):
    client = api(world.responder)
    response = client.post(f"{URL}{task.incident.pk}/tasks/", {"title": "Phân tích", "description": "Ảnh RAM"},
                           format="json")
    assert response.status_code == 201
    assert (response.json()["description"], response.json()["party"], response.json()["template_code"]) == (
        "Ảnh RAM", "", "")


def test_a_task_given_to_an_auditor_under_the_earlier_rule_can_still_be_edited(world, as_user, task):
    """Before, anyone who could see the incident could be put in charge: such a task keeps its person in charge
    when its description changes, and cannot be given to them again once taken away."""
    Task.objects.filter(pk=task.pk).update(owner=world.auditor)
    task.refresh_from_db()
    client = as_user(world.dept_analyst)
    base = f"/incidents/{task.incident.pk}/tasks/{task.pk}/edit/"
    assert client.post(base, edit_data(task, description="Bổ sung")).status_code == 302
    task.refresh_from_db()
    assert (task.owner, task.description) == (world.auditor, "Bổ sung")
    services.do_update_task(task, {"owner": world.analyst}, acting_user=world.dept_analyst)
    with pytest.raises(ValidationError):
        services.do_update_task(task, {"owner": world.auditor}, acting_user=world.dept_analyst)
