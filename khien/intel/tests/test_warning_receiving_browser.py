"""A received early warning in a real browser (headless Chromium through Playwright), at 1366 and 360 px: a SHA-256
in the summary, in an indicator's name and among the indicators wraps inside its card (nothing clipped under the
other card, no sideways scroll); the downloads, the way to report an incident and the related warnings are there.
Screenshots go to test-artifacts/screenshots/intel_warning_receiving_*.png (and /tmp/fixG/ when it exists)."""
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from khien.registry.tests.test_browser import Watch, browser, login  # noqa: F401 (fixture)

from .test_browser import SCREENSHOTS
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def _shot(page, name):
    page.screenshot(path=str(SCREENSHOTS / f"intel_warning_receiving_{name}.png"), full_page=True)
    if Path("/tmp/fixG").is_dir():
        page.screenshot(path=f"/tmp/fixG/warning_{name}.png", full_page=True)


def _inside(page, selector, container):
    """Every element of `selector` ends within the right edge of its `container` ancestor."""
    return page.evaluate("""([selector, container]) => [...document.querySelectorAll(selector)].every(el => {
        const box = el.closest(container).getBoundingClientRect();
        return el.getBoundingClientRect().right <= box.right + 1; })""", [selector, container])


def test_a_received_warning_with_a_long_hash_fits_the_page(live_server, flushable_audit_log, land, browser):
    from khien.intel import services, services_warnings
    from khien.intel.models import Collection, CollectionKind, Tlp
    from khien.telemetry import services as telemetry
    from khien.telemetry.models import Alert, IndicatorHit

    from .conftest import indicator

    w = land.world
    coll = Collection.objects.create(title="National", kind=CollectionKind.NATIONAL, owner=w.ncsc)
    loader = indicator(SHA, name=f"Mã độc tải về {SHA}", tlp=Tlp.GREEN, labels=["c2"],
                       pattern=f"[file:hashes.'SHA-256' = '{SHA}']")
    services.do_add_objects(coll, [loader], acting_user=w.coordinator)
    data = {"title": f"Mã độc {SHA[:12]}… thấy tại 5 tổ chức", "severity": "high",
            "summary": f"Tệp SHA-256 {SHA} được giám sát của 5 tổ chức phát hiện. Tìm giá trị này trong nhật ký.",
            "values": ["vpn-update.songtoi.vn", "45.33.1.2"], "indicator_refs": [loader["id"]]}
    warning = services_warnings.do_issue_warning(data, acting_user=w.coordinator, organizations=[w.ministry])
    services_warnings.do_issue_warning({**data, "title": "Cảnh báo trước về cùng mã độc"}, acting_user=w.coordinator,
                                       organizations=[w.ministry])
    source = telemetry.do_create_source(w.ministry, "wazuh-min", "wazuh", acting_user=w.coordinator)[0]
    now = timezone.now().replace(microsecond=0)
    alert = Alert.objects.create(organization=w.ministry, source=source, key="k1", rule_id="100",
                                 rule_name="Kết nối tới máy chủ điều khiển", first_seen=now, last_seen=now)
    IndicatorHit.objects.create(event_id="ev-1", organization=w.ministry, source=source, indicator_pk=1,
                                indicator_id=loader["id"], kind="sha256", value=SHA, field="hash", time=now,
                                alert=alert)
    base = live_server.url
    context = browser.new_context(locale="vi-VN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    watch = Watch(page, base)
    login(page, base, w.analyst)
    page.goto(f"{base}/intel/warnings/{warning.pk}/")
    expect(page.locator("#warning-downloads a[data-download]")).to_have_count(4)
    expect(page.locator("#report-incident-MIN a")).to_be_visible()
    expect(page.locator("#related-warnings")).to_contain_text("Cảnh báo trước về cùng mã độc")
    _shot(page, "1366")
    for selector in ("dl.facts dd", "#warning-indicators li", "#warning-indicators a", "code.value"):
        assert _inside(page, selector, ".card"), selector
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(f"{base}/intel/warnings/")
    _shot(page, "inbox_1366")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"{base}/intel/warnings/{warning.pk}/")
    _shot(page, "360")
    for selector in ("dl.facts dd", "#warning-indicators li", "code.value"):
        assert _inside(page, selector, ".card"), selector
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(f"{base}/intel/warnings/")
    _shot(page, "inbox_360")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
    assert not watch.external and not watch.console_errors, (watch.external, watch.console_errors)
