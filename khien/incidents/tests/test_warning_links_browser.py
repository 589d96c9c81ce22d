"""The warning page and the incident pages linking each other (`khien.incidents.links`) in a real browser (headless
Chromium), at 1366 and 360 px: the province's incident, the national incident naming its systems and the warning are
named and reachable, the boxes fit the page (no sideways scroll). Screenshots go to
test-artifacts/screenshots/incident_links_*.png (and /tmp/fixLink/ when it exists)."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

from .test_warning_links import land, wave  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _shot(page, name):
    page.screenshot(path=str(SCREENSHOTS / f"incident_links_{name}.png"), full_page=True)
    if Path("/tmp/fixLink").is_dir():
        page.screenshot(path=f"/tmp/fixLink/{name}.png", full_page=True)


def test_the_warning_and_the_incidents_link_each_other(live_server, flushable_audit_log, wave, browser):
    s = wave
    base = live_server.url
    context = browser.new_context(locale="vi-VN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    watch = Watch(page, base)
    login(page, base, s.land.prov_analyst)
    for width in (1366, 360):
        page.set_viewport_size({"width": width, "height": 900 if width > 400 else 800})
        page.goto(f"{base}/intel/warnings/{s.warning.pk}/")
        expect(page.locator("#my-incidents-PROV")).to_contain_text(s.own.reference)
        expect(page.locator("#national-incident-PROV")).to_contain_text(s.national.reference)
        expect(page.locator("#report-incident-PROV a")).to_be_visible()
        _shot(page, f"warning_{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.goto(f"{base}/incidents/{s.own.pk}/")
        expect(page.locator("#related")).to_contain_text(s.national.reference)
        expect(page.locator("#related-warnings a")).to_have_count(1)
        _shot(page, f"own_incident_{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.locator("#related-national a").first.click()
        expect(page.locator("#related-own")).to_contain_text(s.own.reference)
        _shot(page, f"national_incident_{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
    assert not watch.external and not watch.console_errors, (watch.external, watch.console_errors)
