"""The wall dashboard in a real browser (headless Chromium) when its refresh fails.

Walkthrough: at night the session ended (8 hours, a shift is 12) or the server went away, and the wall kept showing
"Updated at …" with the last figures, nothing saying they were stale. Now a banner says why (with a link to sign in
again when the session ended) and since when, the "Updated" time turns red, and all of it goes once a refresh
succeeds. Also: on a 1920 × 1080 wall the sectors, provinces, most targeted organizations and campaigns are in view
without scrolling, and the seven key figures on one row. Screenshots go to
test-artifacts/screenshots/telemetry_walk_duty_*.png.
"""
import pytest
from playwright.sync_api import expect

from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

TICK = 31_000  # one refresh (30 s) and a little


def test_the_wall_says_when_its_figures_are_stale(live_server, flushable_audit_log, world, browser):
    base = live_server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    page = context.new_page()
    Watch(page, base)
    sign_in_coordinator(page, base, world.coordinator)
    page.clock.install()
    page.goto(f"{base}/telemetry/")
    page.wait_for_load_state("networkidle")
    banner = page.locator("#tele-stale")
    expect(banner).to_be_hidden()

    # The wall at 1920 × 1080: the cards the duty officer reads first are in view, the key figures on one row.
    for card in ("#card-sectors", "#card-provinces", "#card-targeted", "#card-campaigns"):
        box = page.locator(card).bounding_box()
        assert box["y"] + 120 < 1080 and box["x"] + box["width"] <= 1920, card
    tops = page.eval_on_selector_all(".kpis .kpi", "els => els.map(e => e.getBoundingClientRect().top)")
    assert len(tops) == 7 and len(set(tops)) == 1
    page.screenshot(path=str(SCREENSHOTS / "telemetry_walk_duty_wall_1920.png"))

    # The server out of reach: the banner says so and since when; the figures stay, marked stale.
    page.route("**/telemetry/data/", lambda route: route.abort())
    page.clock.fast_forward(TICK)
    expect(banner).to_be_visible()
    expect(banner.locator('[data-reason="offline"]')).to_be_visible()
    expect(banner.locator('[data-reason="signed_out"]')).to_be_hidden()
    expect(page.locator("#tele-updated")).to_have_class("muted small tele-updated stale")
    expect(page.locator("#tele-stale-ago")).not_to_be_empty()
    page.screenshot(path=str(SCREENSHOTS / "telemetry_walk_duty_offline_1920.png"))

    # Back: the next refresh takes it all away.
    page.unroute("**/telemetry/data/")
    page.clock.fast_forward(TICK)
    expect(banner).to_be_hidden()
    expect(page.locator("#tele-updated")).not_to_have_class("muted small tele-updated stale")

    # The session ended: the banner says so, with a link to sign in again that brings the officer back here.
    context.clear_cookies()
    page.clock.fast_forward(TICK)
    expect(banner.locator('[data-reason="signed_out"]')).to_be_visible()
    link = banner.locator("#tele-sign-in")
    expect(link).to_have_attribute("href", "/accounts/login/?next=/telemetry/")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=str(SCREENSHOTS / "telemetry_walk_duty_signed_out_1366.png"))
    link.click()
    page.wait_for_url(f"{base}/accounts/login/?next=/telemetry/")
    context.close()
