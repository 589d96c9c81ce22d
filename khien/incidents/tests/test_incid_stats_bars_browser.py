"""The statistics page's bars in Chromium: each is reached with Tab, announced by its name and count, and Enter
opens the list of the incidents it counts (as many rows as the bar says); the page fits 1366 and 360 px.
Screenshots: test-artifacts/screenshots/incident_stats_bars_*.png."""
import pytest
from playwright.sync_api import expect

from khien.registry import places
from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

from .test_stats_central import seats  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1366, 360])
def test_a_bar_is_a_link_reached_with_the_keyboard(live_server, flushable_audit_log, world, seats, browser, width):  # noqa: F811
    base = live_server.url
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    watch = Watch(page, base)
    login(page, base, world.analyst)  # the ministry: its line, 3 incidents, all central
    page.goto(f"{base}/incidents/stats/")
    bar = page.locator(f'#bars-by_province a[href*="province={places.CENTRAL}"]')
    assert bar.get_attribute("data-count") == "3"
    # Named by its <title> (read by screen readers, shown as a tooltip): the visible name and count, in words.
    assert bar.locator("title").text_content() == f"{places.label(places.CENTRAL)}: 3 sự cố"
    expect(page.get_by_role("link", name=f"{places.label(places.CENTRAL)}: 3 sự cố")).to_have_count(1)
    box = bar.bounding_box()
    assert box and box["width"] > 0 and box["x"] + box["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"incident_stats_bars_{width}.png"), full_page=True)
    # Tab until the central agencies' bar has the focus, then Enter: the list of its 3 incidents.
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href') || ''").find(f"province={places.CENTRAL}") >= 0 \
                and page.evaluate("!!document.activeElement.closest('#bars-by_province')"):
            break
    else:
        pytest.fail("the bar is not reached with Tab")
    bar.screenshot(path=str(SCREENSHOTS / f"incident_stats_bars_focus_{width}.png"))
    page.keyboard.press("Enter")
    page.wait_for_url("**/incidents/?**")
    assert f"province={places.CENTRAL}" in page.url
    assert page.locator("table.incidents tbody tr").count() == 3
    assert watch.console_errors == [] and watch.external == [] and watch.failed == []
    context.close()
