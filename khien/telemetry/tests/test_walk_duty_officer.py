"""The national coordinator's night-shift duty officer at the wall dashboard.

Walkthrough: the count "Disconnected (21)" included 11 systems whose sources never sent anything while the
notification said 10; the list of systems to follow up mixed lost and never-connected ones, with no source name and
no one to call; the source page named its organization without a link or a contact; indicator campaigns all had
severity 0 and the campaign tables could not be ranked by seriousness; a campaign warned of disappeared from the
dashboard while still active; the dashboard's refresh had no way to say the session had ended.
"""
import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.core.models import Notification
from khien.intel.models import Tlp
from khien.registry.models import Organization
from khien.telemetry import correlation, health, services
from khien.telemetry.models import Alert, AlertSource, Campaign, CampaignKind, CampaignStatus
from khien.telemetry.tests.test_matching import ecs, intel  # noqa: F401 (fixture)
from khien.telemetry.views import HOURS, dashboard_data

from .conftest import sample_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def night(world, make_system, make_source):
    """A source that sent then fell silent (two level-3+ systems), one registered that never sent, a bare system."""
    Organization.objects.filter(pk=world.department.pk).update(hotline="0243 555 0101", duty_officer="Trần Thị Trực",
                                                               duty_officer_phone="0912 000 111")
    lost_a = make_system(world.department, approved_level=4, operational_status="in_operation")
    lost_b = make_system(world.department, approved_level=3, operational_status="in_operation")
    never_sys = make_system(world.ministry, approved_level=3, operational_status="in_operation")
    bare = make_system(world.ministry, approved_level=5, operational_status="in_operation")
    gone, _ = make_source(org=world.department, format="wazuh")
    fresh, _ = make_source(org=world.ministry, format="cef")
    services.do_set_source_systems(gone, [lost_a, lost_b], acting_user=world.admin)
    services.do_set_source_systems(fresh, [never_sys], acting_user=world.admin)
    services.ingest_batch(gone, sample_lines("wazuh_alerts.ndjson"))
    AlertSource.objects.filter(pk=gone.pk).update(last_event_at=timezone.now() - dt.timedelta(hours=3))
    return lost_a, lost_b, never_sys, bare, gone, fresh


def test_a_source_that_never_sent_is_not_lost_and_the_counts_agree(night, world, as_user):
    lost_a, lost_b, never_sys, bare, gone, fresh = night
    states = {s.code: s.monitoring for s in health.monitored_systems(world.admin)}
    assert states == {lost_a.code: "disconnected", lost_b.code: "disconnected", never_sys.code: "never_sent",
                      bare.code: "no_source"}
    health.notify_source_health()
    told = Notification.objects.get(recipient=world.coordinator, kind="telemetry.source_health")
    page = as_user(world.admin).get(reverse("telemetry:sources") + "?monitoring=not_connected").content.decode()
    lost_tab = re.search(r'mon-disconnected">[^<]+</span> \((\d+)\)', page).group(1)
    # One rule: the page's "Disconnected" count and the coordinator's notification name the same two systems.
    assert lost_tab == "2" and told.title.startswith("2 ") and never_sys.code not in told.body
    assert re.search(r'mon-never_sent">[^<]+</span> \(1\)', page)
    # Still not connected, all three kinds: the dashboard's figure.
    assert dashboard_data(world.admin)["kpis"]["systems_disconnected"] == 4


def test_the_not_connected_list_gives_one_call_per_source_with_its_contacts(night, world, as_user):
    lost_a, lost_b, never_sys, bare, gone, fresh = night
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    page = client.get(reverse("telemetry:sources") + "?monitoring=not_connected").content.decode()
    lost = page[page.index('id="monitoring-lost"'):page.index('id="monitoring-never"')]
    assert lost.count(f">{gone.name}</a>") == 1  # one row: both systems under their source
    assert lost_a.code in lost and lost_b.code in lost
    assert reverse("registry:organization_detail", args=[world.department.pk]) in lost
    assert "0243 555 0101" in lost and "Trần Thị Trực" in lost and "0912 000 111" in lost
    never = page[page.index('id="monitoring-never"'):page.index('id="monitoring-table"')]
    assert fresh.name in never and never_sys.code in never and lost_a.code not in never
    bare_rows = page[page.index('id="monitoring-table"'):]
    assert bare.code in bare_rows and reverse("registry:organization_detail", args=[world.ministry.pk]) in bare_rows
    assert lost_a.code not in bare_rows and never_sys.code not in bare_rows
    # Each state alone too.
    only_lost = client.get(reverse("telemetry:sources") + "?monitoring=disconnected").content.decode()
    assert 'id="monitoring-lost"' in only_lost and 'id="monitoring-never"' not in only_lost


def test_the_source_page_links_its_organization_and_gives_its_contact(night, world, as_user):
    lost_a, lost_b, never_sys, bare, gone, fresh = night
    page = as_user(world.admin).get(reverse("telemetry:source", args=[gone.name])).content.decode()
    facts = page[page.index('id="source-organization"'):]
    assert reverse("registry:organization_detail", args=[world.department.pk]) in facts[:600]
    assert "0243 555 0101" in facts[:1200] and "0912 000 111" in facts[:1200]


def test_an_indicator_campaign_takes_the_highest_severity_of_its_alerts(world, intel, make_source):
    value = intel.values[Tlp.GREEN]
    for org, severity in ((world.ministry, 3), (world.department, 9), (world.province, 5)):
        services.ingest_batch(make_source(org, "ecs")[0], [ecs(value, severity=severity)])
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.INDICATOR)
    highest = max(Alert.objects.values_list("severity", flat=True))
    assert campaign.severity == highest > 0


def _campaign(key, severity, orgs, status=CampaignStatus.OPEN, seen=dt.timedelta(minutes=5)):
    now = timezone.now()
    return Campaign.objects.create(kind=CampaignKind.RULE, key=key, title=key, rule_name=key, severity=severity,
                                   organization_count=orgs, count=10, status=status, first_seen=now - seen,
                                   last_seen=now - seen)


def test_campaigns_are_ranked_by_severity_and_decided_ones_stay_while_active(world, coordinator_client):
    _campaign("low-wide", 3, 20)
    _campaign("critical-narrow", 9, 3)
    _campaign("critical-wide", 9, 8)
    _campaign("warned-active", 7, 5, status=CampaignStatus.WARNED)
    _campaign("incident-over", 10, 5, status=CampaignStatus.INCIDENT, seen=dt.timedelta(days=10))
    _campaign("dismissed", 10, 5, status=CampaignStatus.DISMISSED)
    rows = dashboard_data(world.coordinator)["campaigns"]
    assert [re.search("“(.+)”", c["title"]).group(1) for c in rows] == [
        "critical-wide", "critical-narrow", "warned-active", "low-wide"]
    assert [c["severity"] for c in rows] == [9, 9, 7, 3] and rows[2]["status"] == "warned"
    assert dashboard_data(world.coordinator)["kpis"]["campaigns"] == 3  # the figure counts the open ones
    coordinator_client.cookies["khien_language"] = "en"
    page = coordinator_client.get(reverse("telemetry:dashboard")).content.decode()
    assert "cs-warned" in page and 'class="sev sev-critical">Critical (9)<' in page  # in words, with its number
    listing = coordinator_client.get(reverse("telemetry:campaigns")).content.decode()
    assert re.findall(r"“([a-z-]+)”", listing) == ["dismissed", "incident-over", "critical-wide",
                                                        "critical-narrow", "warned-active", "low-wide"]
    assert "<th>Severity</th>" in listing or "<th>Mức độ nghiêm trọng</th>" in listing


def test_the_refresh_says_when_the_session_has_ended(world, client, as_user):
    answer = client.get(reverse("telemetry:dashboard_data"))
    assert answer.status_code == 401 and answer.json()["login_url"].startswith(reverse("core:login"))
    assert as_user(world.admin).get(reverse("telemetry:dashboard_data")).status_code == 200


def test_the_current_hour_is_marked_in_progress(world):
    hourly = dashboard_data(world.admin)["hourly"]
    assert hourly["in_progress"] == HOURS - 1 == len(hourly["labels"]) - 1


def test_an_organization_is_told_to_check_its_own_tool_not_to_call_itself(night, world, as_user):
    """A province's analyst read "call the source's organization" beside their own organization's name: their own
    lost source is theirs to mend; a unit's below them is still a call, with its contacts."""
    lost_a, lost_b, never_sys, bare, gone, fresh = night
    url = reverse("telemetry:sources") + "?monitoring=disconnected"
    for_unit = as_user(world.dept_analyst)
    for_unit.cookies["khien_language"] = "en"
    lost = for_unit.get(url).content.decode()
    lost = lost[lost.index('id="monitoring-lost-title"'):]
    assert "Your organization: check the tool that sends" in lost and "0243 555 0101" not in lost
    assert "then fell silent: call the source" not in lost and "Your organization's own: check" in lost
    # The ministry above the unit: the same source is someone else's, to call.
    for_ministry = as_user(world.admin)
    for_ministry.cookies["khien_language"] = "en"
    above = for_ministry.get(url).content.decode()
    above = above[above.index('id="monitoring-lost-title"'):]
    assert "Your organization: check" not in above and "0243 555 0101" in above
    # No source at all: the ministry is told to register one.
    none = for_ministry.get(reverse("telemetry:sources") + "?monitoring=not_connected").content.decode()
    assert "No source: register a source that watches these systems" in none


def test_the_coordinator_is_still_told_whom_to_call(night, coordinator_client):
    coordinator_client.cookies["khien_language"] = "en"
    national = coordinator_client.get(reverse("telemetry:sources") + "?monitoring=not_connected").content.decode()
    assert "No source: call the system's owner" in national and "then fell silent: call the source" in national
