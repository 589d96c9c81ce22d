"""An organization sees the incidents naming its information systems (`models.affected_q`) as an affected
organization: the statistics count them, and the printed report's scope sentence says so; the home page's "To do"
does not list them as work (it has nothing to do on them but read and comment)."""
import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from khien.incidents import deadlines, worklist
from khien.incidents.models import Incident

from .test_affected_organizations import national  # noqa: F401 (fixture)
from .test_stats_print import _text

pytestmark = pytest.mark.django_db


def test_print_scope_says_it_counts_the_incidents_naming_the_organizations_systems(world, national, as_user):  # noqa: F811
    client = as_user(world.other_admin)  # the province: its mail system is named by the coordinator's incident
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/incidents/stats/").content.decode()
    assert 'id="kpi-total"><div class="value">1<' in page  # counted
    scope = _text(page, "print-scope")
    assert world.province.name in scope
    assert "name their information systems" in scope and "affected organization" in scope


def test_an_affected_organization_is_not_given_the_incident_as_work(world, national):  # noqa: F811
    # The incident is past its triage deadline: work for the coordinator, not for the province it names.
    Incident.objects.filter(pk=national.incident.pk).update(
        reported_at=timezone.now() - dt.timedelta(days=5), detected_at=timezone.now() - dt.timedelta(days=5))
    assert deadlines.past_a_deadline_ids(Incident.objects.filter(pk=national.incident.pk), timezone.now())
    assert Incident.objects.visible_to(world.other_admin).filter(pk=national.incident.pk).exists()

    def deadline_count(user):
        return sum(item.count for item in worklist.waiting_work(user) if "overdue=1" in item.url)

    assert deadline_count(world.other_admin) == 0
    assert deadline_count(world.coordinator) == 1
    for item in worklist.waiting_work(world.other_admin):  # nothing else asks the province to act on it
        assert item.count == 0, item.label
    # The list the count links to (`?overdue=1`) lists the same incidents.
    from django.test import RequestFactory

    from khien.incidents.filters import IncidentFilter

    for user, expected in ((world.other_admin, set()), (world.coordinator, {national.incident.pk})):
        request = RequestFactory().get("/incidents/", {"overdue": "1"})
        request.user = user
        listed = IncidentFilter(request.GET, queryset=Incident.objects.visible_to(user), request=request).qs
        assert set(listed.values_list("pk", flat=True)) == expected, user
