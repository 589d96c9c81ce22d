"""The live dashboard: national for the coordinator, an organization's subtree otherwise."""
import pytest
from django.urls import reverse

from khien.intel.models import Tlp
from khien.telemetry import correlation, services
from khien.telemetry.tests.test_matching import ecs, intel  # noqa: F401 (fixture)
from khien.telemetry.views import dashboard_data
from khien.registry.tests.test_browser import browser  # noqa: F401 (fixture)


@pytest.fixture
def traffic(world, intel, make_source):
    for org, n in ((world.ministry, 4), (world.department, 2), (world.province, 3)):
        source, _k = make_source(org, "ecs")
        services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN], n=i, severity=8) for i in range(n)])
    make_source(world.commune, "wazuh")  # never sent anything
    correlation.correlate()


def test_coordinator_sees_the_nation(world, traffic):
    data = dashboard_data(world.coordinator)
    assert data["kpis"]["events_24h"] == 9 and sum(data["hourly"]["values"]) == 9
    assert len(data["hourly"]["labels"]) == 48
    assert dict(zip(data["severity"]["keys"], data["severity"]["values"]))["high"] == 9
    assert data["kpis"]["hits_24h"] == 9 and data["indicators"]["rows"][0]["organizations"] == 3
    assert data["kpis"]["campaigns"] == 2 and len(data["campaigns"]) == 2  # the indicator and the severe rule
    assert data["kpis"]["sources_live"] == 3 and data["kpis"]["sources_silent"] == 1
    assert sum(data["targeted"]["values"]) == 9
    assert data["kpis"]["alerts_open_high"] == 3  # one alert per source (repeats folded), severity 8, untouched


def test_each_key_figure_opens_the_list_it_counts(world, traffic, as_user, intel, make_source):
    """The hits figure opens the events that hit in the same 24 hours; the not-sending figure the sources that
    are silent or never sent."""
    from khien.telemetry import services as telemetry_services

    quiet, _k = make_source(world.ministry, "ecs")
    telemetry_services.ingest_batch(quiet, [ecs("198.51.100.9", n=99)])  # an event without a hit
    client = as_user(world.analyst)
    data = client.get(reverse("telemetry:dashboard_data")).json()
    events = client.get(data["kpi_links"]["hits_24h"]).content.decode()
    assert events.count("<tr data-event=") == data["kpis"]["hits_24h"] == 6
    assert "198.51.100.9" not in events and "198.51.100.9" in client.get(reverse("telemetry:events")).content.decode()
    assert client.get(reverse("telemetry:events") + "?hit=maybe").status_code == 400
    quiet_again, _k = make_source(world.department, "cef")  # never sent anything
    data = dashboard_data(world.admin)
    listed = as_user(world.admin).get(data["kpi_links"]["sources_silent"].split("#")[0]).content.decode()
    table = listed.split('id="source-table"')[1].split("</table>")[0]
    assert table.count("<tr><td><a") == data["kpis"]["sources_silent"] == 1 and quiet_again.name in table


def test_an_organization_sees_its_subtree_only(world, traffic):
    data = dashboard_data(world.analyst)  # the ministry and its department
    assert data["kpis"]["events_24h"] == 6 and data["kpis"]["hits_24h"] == 6
    assert data["campaigns"] == [] and data["kpis"]["campaigns"] == 0
    assert data["indicators"]["rows"][0]["organizations"] == 2
    assert dashboard_data(world.nobody)["kpis"]["events_24h"] == 0
    assert data["kpis"]["alerts_open_high"] == 2
    from khien.telemetry import triage
    from khien.telemetry.models import Alert

    triage.do_triage_alerts([Alert.objects.filter(organization=world.ministry).get().pk], "resolved",
                            acting_user=world.analyst)
    assert dashboard_data(world.analyst)["kpis"]["alerts_open_high"] == 1


def test_an_event_hitting_a_value_several_producers_report_counts_once(world, intel, make_source):
    """The hit figure and the indicator table agree: one event is one hit, however many indicators name its value."""
    from khien.intel import services as intel_services
    from khien.intel.tests.conftest import indicator

    value = intel.values[Tlp.GREEN]
    again = indicator(value, tlp=Tlp.GREEN)  # a second indicator naming the same IP, as another producer reports it
    intel_services.do_add_objects(intel.collection, [again], acting_user=world.coordinator)
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs(value, n=i) for i in range(2)])
    data = dashboard_data(world.analyst)
    assert data["kpis"]["hits_24h"] == 2
    assert [(row["value"], row["hits"]) for row in data["indicators"]["rows"]] == [(value, 2)]


def test_dashboard_page_and_json(world, traffic, as_user, coordinator_client):
    page = coordinator_client.get(reverse("telemetry:dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="tele-data"' in html and "khien/telemetry.js" in html and 'id="card-campaigns"' in html
    assert "<script>" not in html.replace('<script type="application/json"', "")
    data = as_user(world.other_admin).get(reverse("telemetry:dashboard_data")).json()
    assert data["kpis"]["events_24h"] == 3 and data["campaigns"] == []
    assert 'id="card-campaigns"' not in as_user(world.analyst).get(reverse("telemetry:dashboard")).content.decode()
    assert as_user(world.analyst).get(reverse("telemetry:dashboard")).status_code == 200


@pytest.mark.browser
def test_dashboard_draws_and_links_in_a_browser(live_server, flushable_audit_log, world, intel, make_source, browser):
    """The analyst's dashboard draws its charts (vendored ECharts, no CSP violation, nothing external),
    and the hit badge leads to the alert and its indicator."""
    from playwright.sync_api import expect

    from khien.registry.tests.test_browser import SCREENSHOTS, Watch, login

    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN], rule="c2-beacon", n=i) for i in range(3)])
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    watch = Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/telemetry/")
    expect(page.locator('[data-tele-chart="hourly"] canvas')).to_have_count(1)
    expect(page.locator('[data-tele-chart="severity"] canvas')).to_have_count(1)
    expect(page.locator('[data-kpi="hits_24h"]')).to_have_text("3")
    expect(page.locator("#tele-indicators a")).to_have_text(intel.values[Tlp.GREEN])
    page.screenshot(path=str(SCREENSHOTS / "telemetry_dashboard.png"), full_page=True)
    page.goto(f"{base}/telemetry/alerts/?hits=1")
    page.locator("#alert-table [data-hit-badge]").first.wait_for()
    page.screenshot(path=str(SCREENSHOTS / "telemetry_alerts.png"), full_page=True)
    page.click("#alert-table tbody a")
    page.locator("#alert-indicators").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "telemetry_alert.png"), full_page=True)
    expect(page.locator("#alert-indicators a")).to_have_attribute("href", f"/intel/objects/{intel.ids[Tlp.GREEN]}/")
    assert watch.external == [] and watch.console_errors == [], (watch.external, watch.console_errors)
    context.close()


def test_chart_links_open_the_events_behind_a_bar(world, traffic, coordinator_client):
    """Each hour and each targeted organization of the dashboard links to the events search that gives its count."""
    import re

    data = dashboard_data(world.coordinator)

    def rows(link):
        return len(re.findall(r'<tr data-event="', coordinator_client.get(link).content.decode()))

    for value, link in zip(data["hourly"]["values"], data["hourly"]["links"]):
        if value:
            assert rows(link) == value
    assert len(data["targeted"]["links"]) == len(data["targeted"]["values"])
    ministry = data["targeted"]["links"][data["targeted"]["labels"].index(world.ministry.code)]  # labelled by code
    assert "organization=MIN" in ministry and "severity_min=7" in ministry
    assert rows(ministry) == 6  # the ministry with its department's
