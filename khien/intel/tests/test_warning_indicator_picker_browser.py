"""The early-warning form's stored-indicator picker in a real browser (headless Chromium), at 1366 and 360 px: typing
a value or words of a name lists the indicators found, a tick moves one to "Chosen (n)" at once (kind, value, name,
TLP), the focus goes on to the next one found, Enter searches and never sends, unticking leaves one out, and the
warning sent names those ticked; without JavaScript "Search" sends the form back with boxes to tick. Screenshots go
to test-artifacts/screenshots/intel_indicator_picker_*.png (and /tmp/fixW/)."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser  # noqa: F401 (fixture)

from .test_warning_indicator_picker import SHA, feed  # noqa: F401 (fixture)
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
EXTRA = Path("/tmp/fixW")


def shot(page, name):
    for folder in (SCREENSHOTS, EXTRA):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"intel_indicator_picker_{name}.png"), full_page=True)


def _fits(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_pick_indicators_by_value_and_name_then_send(live_server, flushable_audit_log, land, feed, browser):
    from khien.intel.models import EarlyWarning

    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    sign_in_coordinator(page, base, land.world.coordinator)
    page.goto(f"{base}/intel/warnings/new/")
    picker = page.locator("#indicator-picker")
    search = picker.locator("#id_indicator_q")
    found = picker.locator("#indicator-results label.ip-row")
    chosen = picker.locator("#indicator-chosen label.ip-row")
    expect(picker.locator("#indicator-results")).to_be_hidden()

    # Words of the name: the two the coordinator may see, not the TLP:RED one nor the revoked one.
    search.fill("lockbit")
    expect(found).to_have_count(2)
    expect(picker.locator("#indicator-results")).not_to_contain_text("bí mật")
    search.press("Enter")  # searches, never sends
    expect(found).to_have_count(2)
    expect(picker.locator("#indicator-picker-status")).not_to_contain_text("…")
    assert not EarlyWarning.objects.exists()
    first = found.filter(has_text="45.33.77.1")
    first.locator("input").focus()
    page.keyboard.press("Space")  # by keyboard: ticked, and the focus goes on to the next one found
    # At once among the chosen, with kind, value, name and TLP; the focus on the next one found.
    expect(chosen).to_have_count(1)
    for text in ("45.33.77.1", "Máy chủ điều khiển LockBit", "TLP:GREEN"):
        expect(chosen.first).to_contain_text(text)
    expect(picker.locator("[data-ip-count]")).to_contain_text("1")
    expect(found).to_have_count(1)
    assert page.evaluate("document.activeElement.value") == feed.sha["id"]
    expect(picker.locator("#indicator-picker-status")).to_contain_text("45.33.77.1")

    # A value: the domain and the URL on it.
    search.fill("evil-update.vn")
    expect(found).to_have_count(2)
    found.filter(has_text="https://evil-update.vn/a.exe").locator("input").check()
    expect(chosen).to_have_count(2)
    found.first.locator("input").check()  # the domain
    expect(chosen).to_have_count(3)
    expect(picker.locator("#indicator-results")).to_be_hidden()
    # The one already chosen is not offered again.
    search.fill("45.33.77.1")
    expect(picker.locator("#indicator-picker-status")).to_have_text(picker.get_attribute("data-msg-none"))
    expect(found).to_have_count(0)
    shot(page, "1366")
    assert _fits(page)

    page.set_viewport_size({"width": 360, "height": 800})
    search.fill(SHA[:20])  # part of a hash is no value: found by nothing
    search.fill("Tệp LockBit")
    expect(found).to_have_count(1)
    assert _fits(page)
    picker.scroll_into_view_if_needed()
    page.screenshot(path=str(EXTRA / "intel_indicator_picker_360_view.png"))
    shot(page, "360")
    page.set_viewport_size({"width": 1366, "height": 900})

    # Unticked: left out (struck through, still listed to tick again).
    chosen.filter(has_text="https://evil-update.vn/a.exe").locator("input").uncheck()
    expect(picker.locator("[data-ip-count]")).to_contain_text("2")
    page.fill("#id_title", "Máy chủ điều khiển LockBit")
    page.check(f"#id_sectors input[value='{land.sector.pk}']")
    page.click("#warning-form button[type=submit]:not([name])")
    page.wait_for_selector("#warning-form", state="detached")
    warning = EarlyWarning.objects.get()
    assert warning.indicator_refs == [feed.c2["id"], feed.domain["id"]]
    assert not watch.console_errors and not watch.external, (watch.console_errors, watch.external)


def test_without_javascript_search_offers_boxes(live_server, flushable_audit_log, land, feed, browser):
    from khien.intel.models import EarlyWarning

    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 800}, locale="vi-VN", java_script_enabled=False)
    page = context.new_page()
    sign_in_coordinator(page, base, land.world.coordinator)
    page.goto(f"{base}/intel/warnings/new/")
    page.fill("#id_title", "Máy chủ điều khiển LockBit")
    page.fill("#id_indicator_q", "lockbit")
    page.press("#id_indicator_q", "Enter")  # the form's first button: Search
    page.wait_for_load_state()
    found = page.locator("#indicator-results label.ip-row")
    expect(found).to_have_count(2)
    expect(page.locator("#id_title")).to_have_value("Máy chủ điều khiển LockBit")
    assert not EarlyWarning.objects.exists()
    found.filter(has_text="45.33.77.1").locator("input").check()
    page.fill("#id_indicator_q", "evil-update.vn")
    page.click("#indicator-search")
    page.wait_for_load_state()
    chosen = page.locator("#indicator-chosen label.ip-row")
    expect(chosen).to_have_count(1)
    expect(chosen.first).to_contain_text("TLP:GREEN")
    expect(found).to_have_count(2)
    assert _fits(page)
    shot(page, "nojs_360")
    page.check(f"#id_sectors input[value='{land.sector.pk}']")
    page.click("#warning-form button[type=submit]:not([name])")
    page.wait_for_selector("#warning-form", state="detached")
    assert EarlyWarning.objects.get().indicator_refs == [feed.c2["id"]]
    context.close()
