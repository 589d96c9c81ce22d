"""The main pages on a phone (390 px wide, headless Chromium through Playwright), signed in as the national coordinator
who sees every menu entry: the page never scrolls sideways (the new-indicator and new-report forms did: a field
spanning two columns of a one-column grid, a fieldset as wide as a hash in its longest choice), every menu entry is
on the screen (the menu used to scroll sideways with no sign of "Incidents" and "Monitoring" beyond the edge), and
the monitoring dashboard's charts fit the width: a few hours named under the hourly bars, donuts named in a legend.
Screenshots go to test-artifacts/screenshots/phone-*.png."""
import pytest
from django.urls import reverse

from khien.conftest import TEST_PASSWORD
from khien.core.tests.test_header_browser import SCREENSHOTS, browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SHA256 = "7c71634229d63af0128a3970787eba0f955076ac18993e82cc3b70305c93316b"
PAGES = ["registry:dashboard", "registry:organization_list", "registry:system_list", "registry:system_create",
         "registry:isac_list", "intel:search", "intel:indicator_create", "intel:report_create", "intel:warning_inbox",
         "incidents:incident_list", "incidents:incident_create", "telemetry:dashboard", "core:audit",
         "core:notifications"]

LAYOUT = """() => {
  const width = document.documentElement.clientWidth;
  const menu = [...document.querySelectorAll('.mainnav a')];
  return {width: width, scrollWidth: document.documentElement.scrollWidth,
          links: menu.length,
          offscreen: menu.filter(a => { const r = a.getBoundingClientRect(); return r.left < 0 || r.right > width; })
                         .map(a => a.textContent.trim())};
}"""

CHARTS = """() => {
  const option = key => echarts.getInstanceByDom(document.querySelector(`[data-tele-chart=${key}]`)).getOption();
  const hourly = option('hourly'), severity = option('severity');
  return {hours: hourly.xAxis[0].data.length, interval: hourly.xAxis[0].axisLabel.interval,
          sliceLabels: severity.series[0].label.show, legend: severity.legend.length > 0};
}"""


def sign_in_coordinator(page, base, user):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="phone test", confirmed=True)
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("input[name=token]")
    page.fill("input[name=token]", f"{totp(device.bin_key):06d}")
    page.press("input[name=token]", "Enter")
    page.wait_for_url(f"{base}/")


def test_the_main_pages_fit_a_phone(live_server, flushable_audit_log, world, browser):
    from khien.intel import services

    from khien.intel.tests.conftest import indicator

    # A choice of the new-report form as long as a SHA-256 hash, unbroken.
    national = services.do_create_collection({"title": "Kênh chia sẻ quốc gia", "owner": world.ncsc, "kind": "national"},
                                             acting_user=world.coordinator)
    services.do_add_objects(national, [indicator(
        SHA256, tlp="green", name=f"Tệp thu thập thông tin đăng nhập: {SHA256}",
        pattern=f"[file:hashes.'SHA-256' = '{SHA256}']")], acting_user=world.coordinator)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    context = browser.new_context(viewport=PHONE, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    sign_in_coordinator(page, base, world.coordinator)
    wider, menu_cut = {}, {}  # every page's faults, not only the first one's
    for name in PAGES:
        response = page.goto(base + reverse(name))
        assert response.status == 200, (name, response.status)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SCREENSHOTS / f"phone-{name.replace(':', '-')}.png"), full_page=True)
        layout = page.evaluate(LAYOUT)
        assert layout["links"] == 10, (name, layout)  # the coordinator's whole menu, the import page's too
        if layout["scrollWidth"] > layout["width"]:
            wider[name] = layout["scrollWidth"]
        if layout["offscreen"]:
            menu_cut[name] = layout["offscreen"]
    assert not wider, f"wider than the 390 px screen: {wider}"
    assert not menu_cut, f"menu entries off the screen: {menu_cut}"

    page.goto(base + reverse("telemetry:dashboard"))
    page.wait_for_load_state("networkidle")
    if page.evaluate("typeof window.echarts") == "undefined":
        pytest.skip("ECharts is not installed (make setup-dev): the dashboard shows tables, not charts")
    charts = page.evaluate(CHARTS)
    # 48 hours, one in 12 named (two lines each): four names in 340 px, not eight run together
    assert charts["hours"] == 48 and charts["interval"] >= 11, charts
    assert charts["sliceLabels"] is False and charts["legend"], charts
    context.close()


def test_pages_with_a_hidden_column_header_fit_a_360_px_phone(live_server, flushable_audit_log, world, make_system,
                                                               browser):
    """A commune officer's 360 px phone: the tokens page and an organization's page with its members table were
    539 and 598 px wide — a column header hidden for the eyes (kept for screen readers) was placed outside the
    table's own sideways-scrolling box; the system page's dossier file box stuck out by 4 px."""
    from khien.core import services as core_services

    core_services.do_create_api_token(world.coordinator, acting_user=world.coordinator, name="SIEM của tỉnh")
    system = make_system(world.ministry)
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    base = live_server.url
    sign_in_coordinator(page, base, world.coordinator)
    wider = {}
    for path in (reverse("core:tokens"), reverse("registry:organization_detail", args=[world.ministry.pk]),
                 reverse("registry:system_detail", args=[system.pk])):
        response = page.goto(base + path)
        assert response.status == 200, (path, response.status)
        page.wait_for_load_state("networkidle")
        layout = page.evaluate(LAYOUT)
        if layout["scrollWidth"] > layout["width"]:
            wider[path] = layout["scrollWidth"]
            page.screenshot(path=str(SCREENSHOTS / f"phone360-{len(wider)}.png"), full_page=True)
    context.close()
    assert not wider, f"wider than the 360 px screen: {wider}"
