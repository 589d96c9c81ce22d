"""The organizations whose information systems an incident names (`models.affected_q`) are told when they are named
(`notices.systems_named`) and then of each status change of the incident (contained, resolved, closed…), one notice a
step, in their language; never under TLP:RED or AMBER+STRICT (which they cannot read); not of comments."""
import pytest

from khien.core.models import Notification
from khien.incidents import services
from khien.incidents.models import Status

from .test_affected_organizations import _national, national  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

KIND = "incidents.affected_status"


def _steps(w, *statuses):
    for status in statuses:
        services.do_transition(w.incident, status, acting_user=w.coordinator, cancel_open_tasks=True)
        w.incident.refresh_from_db()


def test_affected_organizations_hear_of_each_status_change_once(world, national):  # noqa: F811
    w = national
    _steps(w, Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED)
    for person in (w.dept_analyst, w.other_admin):
        told = Notification.objects.filter(kind=KIND, recipient=person).order_by("created_at", "pk")
        assert told.count() == 3, person.email  # one a step, not one per field the step changes
        last = told.last()
        assert w.incident.reference in last.title and last.texts  # shown in the reader's language
        assert last.url.endswith(f"/incidents/{w.incident.pk}/")
        with_language = last.texts["title"]
        assert with_language  # a Text: rendered per reader
    # The reporting side, the coordinator, read-only people and those who read it whole hear of it otherwise.
    assert not Notification.objects.filter(kind=KIND, recipient__in=[w.coordinator, w.auditor, w.unrelated,
                                                                     w.analyst]).exists()
    # A comment tells them nothing (too noisy): they read the journal on the page.
    before = Notification.objects.filter(recipient=w.other_admin).count()
    services.do_add_comment(w.incident, "Điều phối: đã chặn ở biên.", acting_user=w.coordinator)
    assert Notification.objects.filter(recipient=w.other_admin).count() == before


@pytest.mark.parametrize("tlp", ["red", "amber_strict"])
def test_no_status_notice_under_a_marking_they_may_not_read(world, make_system, incident_content, tlp):
    system = make_system(world.department, name="Cổng", code="SYS-D1-X")
    incident = _national(world, [system], [world.department], tlp=tlp)
    services.do_transition(incident, Status.TRIAGED, acting_user=world.coordinator)
    assert not Notification.objects.filter(kind=KIND).exists()
