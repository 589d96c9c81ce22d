"""An organization's dashboard: the national charts (by sector, by province) would draw one bar, its own, so it
shows its events by category instead, the most targeted of its organizations only when it sees several; and a tile
of the early warnings sent to it that nobody has answered yet, opening its warning inbox."""
import datetime as dt

import pytest
from django.utils import timezone

from khien.intel.models import EarlyWarning, TargetReason, WarningTarget
from khien.registry.tests.test_browser import browser  # noqa: F401 (fixture)
from khien.telemetry.models import HourlyCount
from khien.telemetry.views import dashboard_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def counted(world):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=2)
    for org, category, n in ((world.ministry, "malware", 7), (world.department, "network", 3),
                             (world.ministry, "", 2), (world.province, "authentication", 40)):
        HourlyCount.objects.create(organization=org, hour=hour, category=category, severity=8, count=n)
    return world


@pytest.fixture
def warned(world):
    warning = EarlyWarning.objects.create(title="Cảnh báo sớm", organization=world.ncsc, created_by=world.coordinator)
    reason = TargetReason.values[0]
    WarningTarget.objects.create(warning=warning, organization=world.ministry, reason=reason)  # not answered
    WarningTarget.objects.create(warning=warning, organization=world.department, reason=reason, state="received",
                                 acknowledged_at=timezone.now())  # answered
    WarningTarget.objects.create(warning=warning, organization=world.province, reason=reason)  # another's
    return world


def test_an_organization_sees_its_events_by_category_not_by_province(counted):
    data = dashboard_data(counted.analyst)  # MIN and its department: two organizations
    assert data["scale"] == {"national": False, "targeted": True}
    assert data["categories"]["values"] == [7, 3, 2]  # malware, network, no category
    assert "category=malware" in data["categories"]["links"][0] and data["categories"]["links"][2] is None
    assert 40 not in data["categories"]["values"]  # the province's events are not its own
    one = dashboard_data(counted.dept_analyst)  # one organization: no ranking of one
    assert one["scale"] == {"national": False, "targeted": False} and one["categories"]["values"] == [3]
    national = dashboard_data(counted.coordinator)
    assert national["scale"] == {"national": True, "targeted": True} and "warnings_awaiting" not in national["kpis"]


def test_the_page_shows_the_charts_that_mean_something_for_the_reader(counted, as_user, coordinator_client):
    html = coordinator_client.get("/telemetry/").content.decode()  # signed in first (the same test client)
    assert 'id="card-provinces"' in html and 'id="card-sectors"' in html and 'id="card-categories"' not in html
    assert 'id="kpi-warnings"' not in html
    html = as_user(counted.analyst).get("/telemetry/").content.decode()
    assert 'id="card-categories"' in html and 'id="card-targeted"' in html
    assert 'id="card-provinces"' not in html and 'id="card-sectors"' not in html
    html = as_user(counted.dept_analyst).get("/telemetry/").content.decode()
    assert 'id="card-categories"' in html and 'id="card-targeted"' not in html


def test_the_warnings_awaiting_an_answer_tile(warned, as_user):
    data = dashboard_data(warned.analyst)  # MIN's target unanswered, its department's answered
    assert data["kpis"]["warnings_awaiting"] == 1
    assert data["kpi_links"]["warnings_awaiting"] == "/intel/warnings/?pending=1"
    assert dashboard_data(warned.dept_analyst)["kpis"]["warnings_awaiting"] == 0
    assert dashboard_data(warned.other_admin)["kpis"]["warnings_awaiting"] == 1  # the province's own
    html = as_user(warned.analyst).get("/telemetry/").content.decode()
    assert 'id="kpi-warnings"' in html and 'href="/intel/warnings/?pending=1"' in html
    assert 'data-kpi="warnings_awaiting">1<' in html
