"""Threat intelligence in a real browser (headless Chromium through Playwright).

A ministry analyst creates an indicator, finds its value by search (one result
with two producers: the province had reported the same domain), opens its
detail and downloads nothing from elsewhere; the province's administrator then
acknowledges an early warning from its inbox. Pages load nothing from another
origin and never violate the Content-Security-Policy.
Screenshots go to test-artifacts/screenshots/intel_*.png.
"""
import pytest
from playwright.sync_api import expect

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

DOMAIN = "login-update.demo-threat.vn"


def shot(page, name):
    page.screenshot(path=str(SCREENSHOTS / f"intel_{name}.png"), full_page=True)


def test_create_find_open_and_acknowledge(live_server, flushable_audit_log, world, browser):
    from khien.intel import services, services_warnings
    from khien.intel.models import AckState, StixObject, WarningTarget

    from .conftest import indicator

    national = services.do_create_collection({"title": "Nguồn tin quốc gia", "owner": world.ncsc, "kind": "national"},
                                             acting_user=world.coordinator)
    services.do_set_collection_member(national, world.ministry, can_read=True, can_write=True,
                                      acting_user=world.coordinator)
    services.do_set_collection_member(national, world.province, can_read=True, can_write=True,
                                      acting_user=world.coordinator)
    services.do_add_objects(national, [indicator(DOMAIN, kind="domain-name", tlp="green", confidence=45,
                                                 name="Tên miền lừa đảo (tỉnh báo cáo)")],
                            acting_user=world.other_admin)
    services.do_add_objects(national, [indicator("8.8.8.8", tlp="green", confidence=20,
                                                 name="Máy chủ DNS (nhầm)")], acting_user=world.other_admin)
    warning = services_warnings.do_issue_warning(
        {"title": "Chiến dịch lừa đảo giả mạo cổng dịch vụ công", "severity": "high", "tlp": "amber",
         "summary": "Các tên miền giả mạo đang gửi thư điện tử tới cán bộ.", "values": [DOMAIN]},
        acting_user=world.coordinator, organizations=[world.province], auto_match=False)

    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    watch = Watch(page, base)

    # 1. The ministry analyst creates an indicator.
    login(page, base, world.analyst)
    page.goto(f"{base}/intel/")
    expect(page.locator("#overview")).to_be_visible()
    expect(page.locator(".chart[data-chart=weeks]")).to_be_visible()  # ECharts drew the weekly chart
    shot(page, "home")
    page.click("#new-indicator")
    page.wait_for_selector("#indicator-form")
    page.fill("#id_name", "Tên miền lừa đảo giả mạo cổng dịch vụ công")
    page.select_option("#id_value_kind", "domain")
    expect(page.locator("#id_pattern")).to_be_hidden()  # the expert pattern box only for "STIX pattern"
    page.fill("#id_value", DOMAIN.upper())
    page.fill("#id_confidence", "85")
    page.fill("#id_labels", "phishing, dich-vu-cong")
    expect(page.locator("#id_recipients")).to_be_hidden()
    page.select_option("#id_tlp", "red")
    expect(page.locator("#id_recipients")).to_be_visible()  # recipients appear for TLP:RED
    page.select_option("#id_tlp", "amber")
    shot(page, "indicator_form")
    page.click("#indicator-form button[type=submit]")
    page.wait_for_selector("#object-name")
    created = StixObject.objects.get(data__name="Tên miền lừa đảo giả mạo cổng dịch vụ công")
    assert created.data["pattern"] == f"[domain-name:value = '{DOMAIN}']"
    assert created.producer == world.ministry and created.confidence == 85
    expect(page.locator("#values")).to_contain_text(DOMAIN)

    # 2. ... finds the value: one result, both producers.
    page.goto(f"{base}/intel/")
    page.fill("input[name=q]", DOMAIN)
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("#value-results")
    groups = page.locator("#value-results .valuegroup")
    expect(groups).to_have_count(1)
    rows = groups.first.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(groups.first).to_contain_text("MIN")
    expect(groups.first).to_contain_text("PROV")
    shot(page, "search_value")

    # ... opens its detail from the result.
    groups.first.locator("a", has_text="Tên miền lừa đảo giả mạo cổng dịch vụ công").click()
    page.wait_for_selector("#facts")
    expect(page.locator("#producer")).to_contain_text("MIN")
    expect(page.locator("#download-stix")).to_be_visible()
    shot(page, "object_detail")

    # a warning-listed value is flagged in the results
    page.goto(f"{base}/intel/?q=8.8.8.8")
    expect(page.locator("#value-results .badge.wl")).to_be_visible()
    shot(page, "search_flagged")

    # collections and the allow-list's check box
    page.goto(f"{base}/intel/collections/")
    page.click("#collections a >> nth=0")
    page.wait_for_selector("#members")
    expect(page.locator("#members [data-member=PROV]")).to_be_visible()
    shot(page, "collection_detail")
    page.goto(f"{base}/intel/allowlist/")
    page.fill("input[name=check]", "1.1.1.1")
    page.press("input[name=check]", "Enter")
    # the list by its name in the reader's language; its code only in a title for analysts
    expect(page.locator("#check-result .badge.wl")).to_contain_text("máy chủ phân giải DNS công cộng")
    expect(page.locator('#check-result .badge.wl span[title="public-dns-resolvers"]')).to_have_count(1)
    shot(page, "allowlist")

    # 3. The province's administrator acknowledges the warning from its inbox.
    context.clear_cookies()
    login(page, base, world.other_admin)
    page.goto(f"{base}/intel/warnings/")
    item = page.locator(f"[data-warning='{warning.pk}']")
    expect(item).to_be_visible()
    expect(item.locator(".badge.bad")).to_be_visible()  # not acknowledged yet
    shot(page, "inbox")
    item.locator("input[value=acted]").check()
    item.locator("textarea").fill("Đã chặn tên miền trên tường lửa.")
    item.locator("button[type=submit]").click()
    expect(page.locator(f"[data-warning='{warning.pk}'] .badge.ack-acted")).to_be_visible()
    target = WarningTarget.objects.get(warning=warning, organization=world.province)
    assert (target.state, target.note, target.acknowledged_by) == (AckState.ACTED, "Đã chặn tên miền trên tường lửa.",
                                                                   world.other_admin)
    shot(page, "inbox_answered")
    page.goto(f"{base}/intel/warnings/{warning.pk}/")
    expect(page.locator("#my-answer")).to_contain_text("Đã chặn tên miền")
    shot(page, "warning_detail")

    assert watch.external == [], f"external requests: {watch.external}"
    csp = [e for e in watch.console_errors if "Content Security Policy" in e or "Refused to" in e]
    assert csp == [], f"CSP violations: {csp}"
    assert watch.console_errors == [], f"console errors: {watch.console_errors}"
    assert watch.failed == [], f"failed requests: {watch.failed}"
    context.close()
