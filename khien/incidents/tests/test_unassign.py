"""Removing a responder from an incident: the national coordinator (and whoever assigned it, their own assignment
only: test_walk_operator_officer.py); journaled and audited; the responder's
people are told and no longer see the incident; tasks left in the hands of someone who lost access lose their
person in charge."""
import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry, Notification
from khien.incidents import journal, services
from khien.incidents.models import EventKind, Incident, IncidentEvent, ResponderAssignment, Status, Task, TaskStatus

from .conftest import walk

pytestmark = pytest.mark.django_db

URL = "/api/incidents/"


def state():
    return (ResponderAssignment.objects.count(), IncidentEvent.objects.count(), Task.objects.count(),
            AuditEntry.objects.exclude(action="login").count(), Notification.objects.count(),
            list(Task.objects.order_by("pk").values_list("owner", flat=True)))


@pytest.fixture
def assigned(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return incident


def test_the_coordinator_removes_a_responder(world, assigned, django_capture_on_commit_callbacks):
    Notification.objects.all().delete()
    mine = services.do_add_task(assigned, {"title": "Phân tích mã độc", "owner": world.responder},
                                acting_user=world.dept_analyst)
    done = services.do_add_task(assigned, {"title": "Thu thập nhật ký", "owner": world.responder},
                                acting_user=world.dept_analyst)
    services.do_set_task_status(done, TaskStatus.DONE, acting_user=world.responder)
    theirs = services.do_add_task(assigned, {"title": "Đổi mật khẩu", "owner": world.dept_analyst},
                                  acting_user=world.dept_analyst)
    Notification.objects.all().delete()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.do_unassign_responder(assigned, world.responder_org, acting_user=world.coordinator,
                                       reason="Đơn vị khác phụ trách")
    assert not assigned.assignments.exists()
    line = assigned.events.get(kind=EventKind.UNASSIGNMENT)
    assert (line.actor, line.text, line.data["responder_code"]) == (world.coordinator, "Đơn vị khác phụ trách", "RESP")
    assert journal.headline(line).endswith("(RESP)") and world.responder_org.name_vi in journal.headline(line)
    entry = AuditEntry.objects.get(object_type="incidents.responderassignment", action="delete")
    assert entry.before["responder_id"] == str(world.responder_org.pk) and entry.actor_email == world.coordinator.email
    # The responder no longer sees the incident, and is told (urgent, e-mailed at once, no link to a 404).
    assert not Incident.objects.visible_to(world.responder).filter(pk=assigned.pk).exists()
    [note] = Notification.objects.filter(kind="incidents.unassigned")
    assert note.recipient == world.responder and note.urgent and note.url == ""
    assert assigned.reference in note.title and "Đơn vị khác phụ trách" in note.body
    assert [m.to for m in mail.outbox] == [[world.responder.email]]
    # The reporting organization learns it (digest); never the coordinator who did it.
    told = set(Notification.objects.filter(kind="incidents.responder_unassigned").values_list("recipient", flat=True))
    assert told == {world.dept_analyst.pk}  # the department's analyst (the department reported it)
    assert not Notification.objects.filter(recipient=world.coordinator).exists()
    # The open task of the responder has nobody in charge any more (journaled); the finished one keeps its owner.
    assert Task.objects.get(pk=mine.pk).owner is None
    assert Task.objects.get(pk=done.pk).owner == world.responder
    assert Task.objects.get(pk=theirs.pk).owner == world.dept_analyst
    cleared = assigned.events.filter(kind=EventKind.TASK, data__action="changed").get()
    assert cleared.data["owner"] == [world.responder.email, None] and cleared.data["task_id"] == str(mine.pk)
    # Assigned again later: allowed.
    services.do_assign_responder(assigned, world.responder_org, acting_user=world.coordinator)
    assert assigned.assignments.count() == 1


def test_only_the_coordinator_removes_a_responder(world, assigned):
    before = state()
    # The reporting organization's administrator assigns, but asks the coordinator to remove.
    for user in (world.admin, world.dept_analyst, world.responder, world.auditor):
        with pytest.raises(Forbidden):
            services.do_unassign_responder(assigned, world.responder_org, acting_user=user)
    with pytest.raises(Forbidden):  # does not see it
        services.do_unassign_responder(assigned, world.responder_org, acting_user=world.other_admin)
    assert state() == before


def test_bad_removals_write_nothing(world, assigned, report):
    before = state()
    with pytest.raises(ValidationError) as exc:  # not assigned to it
        services.do_unassign_responder(assigned, world.province, acting_user=world.coordinator)
    assert "responder" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.do_unassign_responder(assigned, world.responder_org, acting_user=world.coordinator, reason="x" * 5001)
    assert "reason" in exc.value.message_dict
    assert state() == before
    closed = report(reports_given=True)
    services.do_assign_responder(closed, world.responder_org, acting_user=world.coordinator)
    closed = walk(closed, (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED), world.analyst)
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_unassign_responder(closed, world.responder_org, acting_user=world.coordinator)
    assert (exc.value.status, exc.value.code) == (409, "closed")
    assert state() == before


# --- The page ------------------------------------------------------------------------------------------------


def signed_in(user):
    from django.test import Client

    client = Client()  # its own session: `as_user` would sign the coordinator's client out
    client.force_login(user)
    return client


def test_removing_a_responder_through_the_page(world, coordinator_client, assigned):
    base = f"/incidents/{assigned.pk}/"
    remove = f"{base}assign/{world.responder_org.pk}/remove/"
    admin = signed_in(world.admin)
    assert f'action="{remove}"' not in admin.get(base).content.decode()
    before = state()
    assert admin.post(remove, {"reason": ""}).status_code == 403
    assert signed_in(world.other_admin).post(remove, {"reason": ""}).status_code == 404
    assert state() == before
    page = coordinator_client.get(base).content.decode()
    assert f'action="{remove}"' in page
    assert coordinator_client.post(f"{base}assign/{world.province.pk}/remove/", {"reason": ""}).status_code == 404
    assert coordinator_client.post(remove, {"reason": "x" * 5001}).status_code == 400
    assert state() == before
    response = coordinator_client.post(remove, {"reason": "Đã có đơn vị khác", "confirmed": "1"})
    assert response.status_code == 302 and response["Location"].endswith("#responders")
    assert not assigned.assignments.exists()
    assert assigned.events.get(kind=EventKind.UNASSIGNMENT).text == "Đã có đơn vị khác"


# --- The API ---------------------------------------------------------------------------------------------------


def test_removing_a_responder_over_the_api(world, api, assigned):
    url = f"{URL}{assigned.pk}/unassign/"
    admin, coordinator, other = api(world.admin), api(world.coordinator), api(world.other_admin)
    before = state()
    assert admin.post(url, {"responder": "RESP"}, format="json").status_code == 403
    assert other.post(url, {"responder": "RESP"}, format="json").status_code == 404
    response = coordinator.post(url, {"responder": "PROV"}, format="json")  # not assigned
    assert response.status_code == 400 and "responder" in response.json()
    assert coordinator.post(url, {}, format="json").status_code == 400
    assert state() == before
    response = coordinator.post(url, {"responder": "RESP", "reason": "Trùng"}, format="json")
    assert response.status_code == 200 and response.json()["assignments"] == []
    assert api(world.responder).get(f"{URL}{assigned.pk}/").status_code == 404
