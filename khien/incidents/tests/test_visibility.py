"""Who sees which incident: exactly through `Incident.objects.visible_to` (and the rows tied to it)."""
import pytest

from khien.conftest import _org

from khien.core.roles import Action
from khien.incidents import services
from khien.incidents.models import Incident, IncidentEvent, ResponderAssignment, Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def incidents(world, report):
    """One incident in each tree: the ministry's department, the province; the department's is assigned to RESP."""
    dept = report(org=world.department, user=world.dept_analyst, title="Department")
    prov = report(org=world.province, user=world.other_admin, title="Province")
    services.do_assign_responder(dept, world.responder_org, acting_user=world.coordinator)
    services.do_add_task(dept, {"title": "Thu thập nhật ký"}, acting_user=world.dept_analyst)
    return dept, prov


def seen(user):
    return set(Incident.objects.visible_to(user).values_list("title", flat=True))


def test_each_user_sees_exactly_what_they_should(world, incidents):
    assert seen(world.coordinator) == {"Department", "Province"}
    assert seen(world.dept_analyst) == {"Department"}        # reporting organization
    for user in (world.admin, world.analyst, world.auditor, world.trainee):
        assert seen(user) == {"Department"}                  # its parent organization's people
    assert seen(world.responder) == {"Department"}           # assigned responder
    assert seen(world.other_admin) == {"Province"}           # the other tree only
    assert seen(world.nobody) == set()


def test_unassigned_responder_sees_nothing(world, report):
    report(org=world.department, user=world.dept_analyst, title="Department")
    assert seen(world.responder) == set()


def test_several_assignments_do_not_repeat_rows(world, incidents):
    dept, _prov = incidents
    unit = _org("RESP-2", "responder", parent=world.responder_org)
    services.do_assign_responder(dept, unit, acting_user=world.coordinator)
    # The responder's scope (RESP and its units) matches both assignments: still one row.
    assert list(Incident.objects.visible_to(world.responder).values_list("title", flat=True)) == ["Department"]
    assert Incident.objects.visible_to(world.responder).count() == 1
    assert Task.objects.visible_to(world.responder).count() == 1


def test_rows_of_an_incident_follow_its_visibility(world, incidents):
    dept, prov = incidents
    for model in (IncidentEvent, ResponderAssignment, Task):
        assert model.objects.visible_to(world.other_admin).filter(incident=dept).count() == 0
        assert model.objects.visible_to(world.nobody).count() == 0
    assert IncidentEvent.objects.visible_to(world.responder).filter(incident=dept).exists()
    assert not IncidentEvent.objects.visible_to(world.responder).filter(incident=prov).exists()
    assert Task.objects.visible_to(world.admin).filter(incident=dept).count() == 1


def test_responders_only_view(world, incidents):
    """Other actions go through the reporting organization only: a responder may not CHANGE the incident row."""
    dept, _prov = incidents
    assert not Incident.objects.restrict(world.responder, Action.CHANGE).filter(pk=dept.pk).exists()
    assert Incident.objects.restrict(world.dept_analyst, Action.CHANGE).filter(pk=dept.pk).exists()
    assert not Incident.objects.restrict(world.auditor, Action.CHANGE).filter(pk=dept.pk).exists()
