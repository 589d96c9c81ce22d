"""Source health in a real browser (headless Chromium through Playwright).

A ministry administrator opens the live dashboard (charts drawn by the local
ECharts), follows the "not connected" figure to the sources page, where each
source shows its rate and a 24-hour chart and the level-3+ systems are listed
by monitoring state, then opens a disconnected system, whose layer-4 box shows
the live state and the gap. Pages load nothing from another origin and raise
no console error. Screenshots go to test-artifacts/screenshots/telemetry_*.png.
"""
import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)
from khien.telemetry import services
from khien.telemetry.models import AlertSource

from .conftest import sample_lines

pytestmark = pytest.mark.browser


def shot(page, name):
    page.screenshot(path=str(SCREENSHOTS / f"telemetry_{name}.png"), full_page=True)


def test_source_health_from_dashboard_to_system(live_server, flushable_audit_log, world, make_system, make_source,
                                                 browser):
    watched = make_system(world.ministry, approved_level=3, layer4_status="in_place", operational_status="in_operation")
    dark = make_system(world.ministry, approved_level=4, layer4_status="in_place", operational_status="in_operation")
    live, _ = make_source(org=world.ministry, format="wazuh")
    quiet, _ = make_source(org=world.ministry, format="cef")
    services.do_set_source_systems(live, [watched], acting_user=world.admin)
    services.do_set_source_systems(quiet, [dark], acting_user=world.admin)
    accepted = services.ingest_batch(live, sample_lines("wazuh_alerts.ndjson")).accepted
    # `quiet` sent, then fell silent three hours ago: `dark` is lost (a source that never sent loses nothing).
    AlertSource.objects.filter(pk=quiet.pk).update(last_event_at=timezone.now() - dt.timedelta(hours=3))

    base = live_server.url
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    login(page, base, world.admin)

    page.goto(f"{base}/telemetry/")
    page.wait_for_selector('[data-tele-chart="sources"] canvas')  # drawn by the platform's own ECharts
    shot(page, "dashboard")
    page.click('a.kpi[href*="monitoring=not_connected"]')  # disconnected and source-less systems alike

    expect(page.locator("#source-table")).to_contain_text(live.name)
    row = page.locator("#source-table tr", has_text=live.name)
    expect(row.locator("svg.spark polyline")).to_have_count(1)
    expect(row).to_contain_text(str(accepted))
    # Disconnected: under its silent source, the one call to make.
    expect(page.locator("#monitoring-lost")).to_contain_text(dark.code)
    expect(page.locator("#monitoring-lost")).to_contain_text(quiet.name)
    expect(page.locator("#monitoring")).not_to_contain_text(watched.code)
    shot(page, "sources")
    page.click("#monitoring .tele-tabs a[href*='monitoring=connected']")
    expect(page.locator("#monitoring-table")).to_contain_text(watched.code)

    page.goto(f"{base}/telemetry/sources/")
    page.click(f"#monitoring-lost a:has-text('{dark.code}')")
    expect(page.locator("#live-monitoring .badge.mon-disconnected")).to_be_visible()
    expect(page.locator("#live-monitoring")).to_contain_text(quiet.name)
    expect(page.locator(".gapbox")).to_contain_text("(lớp 4)")
    shot(page, "system")

    assert watch.external == [], watch.external
    assert watch.console_errors == [], watch.console_errors
    assert watch.failed == [], watch.failed


def test_an_administrator_registers_a_source_in_the_browser(live_server, flushable_audit_log, world, make_system,
                                                             browser):
    """From the Sources page: register a CEF source keeping local time, read its key once, choose the systems
    it watches. Screenshots: telemetry_source_new.png (the form), telemetry_source_key.png (the key)."""
    from khien.telemetry.models import AlertSource

    watched = make_system(world.ministry, approved_level=3, operational_status="in_operation")
    base = live_server.url
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    Watch(page, base)
    login(page, base, world.admin)
    page.goto(f"{base}/telemetry/sources/")
    page.click("#register-source")
    page.select_option("#id_organization", label=f"MIN — {world.ministry.name_vi}")
    page.fill("#id_name", "fortigate-min-hq")
    page.select_option("#id_format", "cef")
    page.select_option("#id_time_zone", "Asia/Ho_Chi_Minh")
    shot(page, "source_new")
    page.click("#source-form button[type=submit]")
    key = page.locator("#key-value").inner_text()
    assert key.startswith("khs_")
    expect(page.locator("#source-summary")).to_contain_text("Asia/Ho_Chi_Minh")
    page.check(f"#source-systems input[value='{watched.pk}']")
    shot(page, "source_key")
    page.click("#source-systems button[type=submit]")
    expect(page.locator("#source-systems input[value='%s']" % watched.pk)).to_be_checked()
    expect(page.locator("#new-key")).to_have_count(0)  # the key is not shown again
    source = AlertSource.objects.get(name="fortigate-min-hq")
    assert list(source.systems.all()) == [watched] and source.key_hash != key
    # A new key asks first, saying what breaks: dismissed, the key stays; accepted, the new key is shown once and
    # a reload neither shows it again nor gives another one.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#rotate-key button[type=submit]")
    expect(page.locator("#rotate-key")).to_be_visible()
    assert asked and "fortigate-min-hq" in asked[0]
    source.refresh_from_db()
    assert source.prefix == key[:12]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rotate-key button[type=submit]")
    new_key = page.locator("#key-value").inner_text()
    assert new_key.startswith("khs_") and new_key != key
    page.reload()
    expect(page.locator("#source-summary")).to_be_visible()
    expect(page.locator("#new-key")).to_have_count(0)
    source.refresh_from_db()
    assert source.prefix == new_key[:12]


def test_an_analyst_triages_alerts_and_reports_one_as_an_incident(live_server, flushable_audit_log, world,
                                                                  make_source, browser):
    """The alert list opens on the open alerts; tick all, mark them false positives in one step; the
    "False positive" tab shows them; another alert is reported as an incident from its page, which lands on
    the incident. Screenshots: telemetry_alerts_triage.png, telemetry_alert_detail.png."""
    from khien.incidents import content
    from khien.incidents.models import Incident
    from khien.telemetry.models import Alert, AlertStatus

    content.load_all()
    source, _key = make_source(org=world.ministry, format="wazuh")
    services.ingest_batch(source, sample_lines("wazuh_alerts.ndjson"))
    total = Alert.objects.count()
    assert total >= 3
    base = live_server.url
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/telemetry/alerts/")
    expect(page.locator("#alert-status-tabs a[aria-current=page]")).to_have_text("Đang mở")
    expect(page.locator("#alert-table [data-alert-status=new]")).to_have_count(total)
    page.check("#alert-pick-all")  # the platform's own script ticks the page
    expect(page.locator("#alert-table input[name=alerts]:checked")).to_have_count(total)
    page.uncheck("#alert-table tbody tr:first-child input[name=alerts]")
    page.select_option("#alert-bulk select[name=status]", "false_positive")
    page.fill("#alert-bulk textarea[name=note]", "Máy quét lỗ hổng nội bộ")
    shot(page, "alerts_triage")
    page.click("#alert-triage-submit")
    expect(page.locator(".messages")).to_contain_text(f"Đã đặt {total - 1} cảnh báo thành “Cảnh báo nhầm”")
    expect(page.locator("#alert-table [data-alert-status]")).to_have_count(1)  # the one left open
    page.click("#alert-table tbody tr:first-child td a")
    page.select_option("#alert-incident select[name=severity]", "high")
    # The samples are dated days ago: the 24-hour report is late, and the form asks why.
    page.fill("#alert-incident textarea[name=late_reason]", "Mẫu cảnh báo cũ được xem lại")
    shot(page, "alert_detail")
    page.click("#alert-incident button[type=submit]")
    incident = Incident.objects.get()
    expect(page).to_have_url(f"{base}/incidents/{incident.pk}/")
    expect(page.locator("body")).to_contain_text(incident.reference)
    assert incident.severity == "high" and incident.organization == world.ministry
    assert Alert.objects.filter(status=AlertStatus.FALSE_POSITIVE).count() == total - 1
    assert Alert.objects.filter(status=AlertStatus.ESCALATED, incident=incident).count() == 1
    page.goto(f"{base}/telemetry/alerts/?status=false_positive")
    expect(page.locator("#alert-table [data-alert-status=false_positive]")).to_have_count(total - 1)


def test_an_analyst_suppresses_a_harmless_cause_and_an_administrator_lifts_it(live_server, flushable_audit_log,
                                                                              world, make_source, browser):
    """From an alert's page: suppress repeats of the internal scanner for 30 days; the source's page lists the
    suppression, and its administrator lifts it. Screenshots: telemetry_alert_suppressed.png,
    telemetry_source_suppressions.png."""
    from khien.telemetry.models import Alert, AlertStatus, AlertSuppression

    source, _key = make_source(org=world.ministry, format="wazuh")
    services.ingest_batch(source, sample_lines("wazuh_alerts.ndjson"))
    alert = Alert.objects.order_by("-severity").first()
    base = live_server.url
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/telemetry/alerts/{alert.pk}/")
    page.fill("#alert-suppress textarea[name=reason]", "Máy quét lỗ hổng nội bộ 10.0.5.9")
    page.fill("#alert-suppress input[name=days]", "30")
    # (No full-page screenshot between filling and clicking: Chromium then drops the click.)
    page.click("#alert-suppress button[type=submit]")
    expect(page.locator("#alert-status [data-alert-status=false_positive]")).to_be_visible()
    expect(page.locator("#alert-suppression")).to_contain_text("Máy quét lỗ hổng nội bộ 10.0.5.9")
    expect(page.locator("#alert-suppress")).to_have_count(0)
    shot(page, "alert_suppressed")
    suppression = AlertSuppression.objects.get()

    page.context.clear_cookies()
    login(page, base, world.admin)
    page.goto(f"{base}/telemetry/sources/{source.name}/")
    row = page.locator(f"#source-suppressions tr[data-suppression='{suppression.pk}']")
    expect(row).to_contain_text("Máy quét lỗ hổng nội bộ 10.0.5.9")
    shot(page, "source_suppressions")
    row.locator("button[type=submit]").click()
    expect(page.locator("#source-suppressions")).to_contain_text("Không có")
    assert AlertSuppression.objects.get().lifted_by == world.admin
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.FALSE_POSITIVE  # what was marked stays


def test_an_analyst_adds_alerts_to_an_incident_from_the_list(live_server, flushable_audit_log, world, make_source,
                                                             browser):
    """One alert reported as an incident; two more ticked on the list and added to it by its reference; the
    incident's page lists the three, linked, and its journal says so. Screenshot: telemetry_incident_alerts.png."""
    from khien.incidents import content
    from khien.telemetry import triage
    from khien.telemetry.models import Alert, AlertStatus

    content.load_all()
    source, _key = make_source(org=world.ministry, format="wazuh")
    services.ingest_batch(source, sample_lines("wazuh_alerts.ndjson"))
    first, *others = Alert.objects.order_by("-severity", "pk")[:3]
    incident = triage.do_alert_to_incident(first, acting_user=world.analyst,
                                           data={"late_reason": "Mẫu cảnh báo cũ (ngày trước)"})
    base = live_server.url
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/telemetry/alerts/")
    for alert in others:
        page.check(f"#alert-table input[value='{alert.pk}']")
    page.fill("#alert-bulk input[name=incident]", incident.reference)
    page.click("#alert-join-submit")
    expect(page.locator(".messages")).to_contain_text(f"Đã gộp 2 cảnh báo vào sự cố {incident.reference}")
    assert Alert.objects.filter(incident=incident, status=AlertStatus.ESCALATED).count() == 3
    page.goto(f"{base}/incidents/{incident.pk}/")
    expect(page.locator("#alerts tbody tr")).to_have_count(3)
    expect(page.locator("#journal")).to_contain_text("Đã gộp 2 cảnh báo từ SOC")
    page.locator("#alerts").screenshot(path=str(SCREENSHOTS / "telemetry_incident_alerts.png"))
    page.click(f"#alerts a[href='/telemetry/alerts/{others[0].pk}/']")
    expect(page.locator("#alert-incident-link")).to_contain_text(incident.reference)


def test_an_analyst_hunts_an_address_from_an_alert_in_the_events(live_server, flushable_audit_log, world,
                                                                  make_source, browser):
    """From an alert's events, the source address opens the events search for that address; a raw record opens
    in place; a wrong address is refused with a message. Screenshot: telemetry_events.png."""
    from django.db.models import Q

    from khien.telemetry.models import Event

    source, _key = make_source(org=world.ministry, format="wazuh")
    services.ingest_batch(source, sample_lines("wazuh_alerts.ndjson"))
    event = Event.objects.exclude(src_ip=None).order_by("time", "id").first()
    alert = event.alert
    base = live_server.url
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/telemetry/alerts/{alert.pk}/")
    page.click(f"a[title='Các sự kiện có địa chỉ này']:text-is('{event.src_ip}') >> nth=0")
    expect(page.locator("h1")).to_have_text("Sự kiện")
    expect(page.locator("#event-search input[name=ip]")).to_have_value(event.src_ip)
    rows = page.locator("#event-table tbody tr[data-event]")
    expect(rows).to_have_count(Event.objects.filter(Q(src_ip=event.src_ip) | Q(dst_ip=event.src_ip)).count())
    page.locator(f"tr[data-event='{event.id}'] details summary").click()
    expect(page.locator(f"tr[data-event='{event.id}'] pre")).to_be_visible()
    shot(page, "events")
    page.fill("#event-search input[name=ip]", "999.1.1.1")
    page.click("#event-search button[type=submit]")
    expect(page.locator("#event-errors")).to_contain_text("IPv4")
    expect(page.locator("#event-table tbody tr[data-event]")).to_have_count(0)


def test_a_click_on_the_hourly_chart_opens_that_hours_events(live_server, flushable_audit_log, world, make_source,
                                                             browser):
    """The dashboard's events-per-hour bars lead to the events search for their hour."""
    from khien.telemetry.tests.test_matching import ecs

    source, _key = make_source(org=world.ministry, format="ecs")
    services.ingest_batch(source, [ecs(f"198.51.100.{n}", rule=f"now-{n}", n=n) for n in range(1, 4)])
    base = live_server.url
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/telemetry/")
    page.wait_for_selector('[data-tele-chart="hourly"] canvas')
    # The bar of the latest hour with events, where ECharts drew it; low on the bar, and again if the click came
    # while the bars were still growing (their drawing is animated).
    bar = """() => {
        const el = document.querySelector('[data-tele-chart="hourly"]');
        el.scrollIntoView({block: "center"});  // a click outside the viewport reaches nothing
        const chart = echarts.getInstanceByDom(el);
        // The current hour's bar is an item with its own style (drawn as in progress): its value is in it.
        const values = chart.getOption().series[0].data.map(d => (d !== null && typeof d === "object") ? d.value : d);
        let i = values.length - 1;
        while (i > 0 && !values[i]) { i--; }
        const [px, py] = chart.convertToPixel({seriesIndex: 0}, [i, values[i] / 4]);
        const box = el.getBoundingClientRect();
        return [box.left + px, box.top + py];
    }"""
    for attempt in range(5):
        page.wait_for_timeout(500)
        page.mouse.click(*page.evaluate(bar))
        try:
            page.wait_for_url("**/telemetry/events/**", timeout=3000)
            break
        except PlaywrightTimeout:
            continue
    assert "/telemetry/events/" in page.url
    expect(page.locator("#event-table tbody tr[data-event]")).to_have_count(3)
    expect(page.locator("#event-search input[name=until]")).not_to_have_value("")
    assert watch.console_errors == [], watch.console_errors


def test_without_the_charting_library_the_dashboard_shows_its_figures_as_tables(live_server, flushable_audit_log,
                                                                                 world, make_source, browser):
    """Assets not installed (no npm registry reachable): the charts' places hold the same figures, not blank boxes."""
    source, _ = make_source(org=world.ministry, format="wazuh")
    services.ingest_batch(source, sample_lines("wazuh_alerts.ndjson"))
    base = live_server.url
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    page.route("**/vendor/echarts/**", lambda route: route.abort())
    login(page, base, world.admin)
    page.goto(f"{base}/telemetry/")
    sources = page.locator('[data-tele-chart="sources"] table')
    expect(sources).to_be_visible()
    expect(sources).to_contain_text("1")
    expect(page.locator('[data-tele-chart="severity"] table tr')).not_to_have_count(0)
    assert page.locator('[data-tele-chart] canvas').count() == 0
    shot(page, "dashboard_without_charts")
