"""The campaign page and the events export in a real browser (headless Chromium through Playwright), 1366 px wide.

An opened decision ("Make an early warning") takes the whole row: it used to open in a column about 400 px wide
beside the small "Make an incident" and "Dismiss" boxes, its title cut and its lists tiny. A click on an events
download says the file is being prepared (a large one takes a while to start). Screenshots go to
test-artifacts/screenshots/telemetry_campaign_*.png.
"""
import pytest
from playwright.sync_api import expect

from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)
from khien.telemetry import correlation
from khien.telemetry.models import Campaign
from khien.telemetry.tests.test_correlation import hit_at  # noqa: F401 (fixture)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 900}


def test_an_opened_decision_takes_the_whole_row(live_server, flushable_audit_log, world, intel, hit_at, browser):
    from khien.incidents import content

    content.load_all()
    for org in (world.ministry, world.province, world.department):
        hit_at(org)
    correlation.correlate()
    campaign = Campaign.objects.get()
    base = live_server.url
    page = browser.new_page(viewport=LAPTOP, locale="vi-VN")
    watch = Watch(page, base)
    sign_in_coordinator(page, base, world.coordinator)
    page.goto(f"{base}/telemetry/campaigns/{campaign.pk}/")
    row = page.locator("#campaign-actions").bounding_box()
    closed = page.locator("#make-warning").bounding_box()
    assert closed["width"] < row["width"] / 2  # closed: a button among the others, on one row
    assert page.locator("#make-incident").bounding_box()["y"] == closed["y"]
    page.click("#make-warning > summary")
    expect(page.locator("#make-warning textarea[name=summary]")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "telemetry_campaign_warning.png"), full_page=True)
    opened = page.locator("#make-warning").bounding_box()
    assert opened["width"] >= row["width"] - 2  # the whole row
    incident = page.locator("#make-incident").bounding_box()
    assert incident["y"] >= opened["y"] + opened["height"]  # the other decisions wrap below it
    summary = page.locator("#make-warning textarea[name=summary]").bounding_box()
    organizations = page.locator("#make-warning [data-org-picker]").bounding_box()
    assert summary["width"] > 700 and organizations["width"] > 700  # readable, not a 400 px column
    assert campaign.value in page.input_value("#make-warning textarea[name=summary]")
    assert not watch.console_errors and not watch.external


def test_a_download_says_the_file_is_being_prepared(live_server, flushable_audit_log, world, intel, hit_at,
                                                    browser):
    hit_at(world.ministry)
    base = live_server.url
    page = browser.new_page(viewport=LAPTOP, locale="vi-VN", accept_downloads=True)
    watch = Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/telemetry/events/")
    status = page.locator("#event-export-status")
    expect(status).to_be_empty()
    csv_link = page.locator("#event-export a[data-export]", has_text="CSV")
    with page.expect_download() as download:
        csv_link.click()
    assert download.value.suggested_filename.endswith(".csv")
    expect(status).to_have_text(page.locator("#event-export").get_attribute("data-busy"))
    expect(csv_link).to_have_attribute("aria-disabled", "true")
    page.screenshot(path=str(SCREENSHOTS / "telemetry_campaign_export.png"))
    assert not watch.console_errors and not watch.external
