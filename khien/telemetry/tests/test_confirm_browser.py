"""Deleting dead letters and dismissing a campaign in a real browser (headless Chromium through Playwright): the
dialog asks once — its yes is sent as confirmed=1, so the confirmation page (for browsers without JavaScript,
test_confirm_without_javascript.py) is not shown a second time; its no sends nothing."""
import pytest
from playwright.sync_api import expect

from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.registry.tests.test_browser import Watch, browser, login  # noqa: F401 (fixture)
from khien.telemetry import correlation, services
from khien.telemetry.models import Campaign, CampaignStatus, DeadLetter
from khien.telemetry.tests.test_correlation import hit_at  # noqa: F401 (fixture)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_the_dialog_asks_once_before_deleting_dead_letters(live_server, flushable_audit_log, world, make_source,
                                                           browser):
    source, _key = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [b"{broken %d" % i for i in range(3)])
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    login(page, base, world.admin)
    page.goto(f"{base}/telemetry/sources/{source.name}/dead-letters/")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#dead-letters-form button[value=discard_all]")
    assert asked and DeadLetter.objects.filter(source=source).count() == 3  # "no": nothing sent
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#dead-letters-form button[value=discard_all]")
    expect(page.locator("#dead-letter-table")).to_be_visible()  # back on the list, not on a second question
    expect(page.locator("#confirm-action")).to_have_count(0)
    assert not DeadLetter.objects.filter(source=source).exists()
    assert not watch.console_errors and not watch.external


def test_the_dialog_asks_once_before_dismissing_a_campaign(live_server, flushable_audit_log, world, intel, hit_at,
                                                           browser):
    for org in (world.ministry, world.province, world.department):
        hit_at(org)
    correlation.correlate()
    campaign = Campaign.objects.get()
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    sign_in_coordinator(page, base, world.coordinator)
    page.goto(f"{base}/telemetry/campaigns/{campaign.pk}/")
    page.click("#campaign-dismiss > summary")
    page.fill("#campaign-dismiss textarea[name=reason]", "Quét thử nghiệm")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#campaign-dismiss button[type=submit]")
    expect(page.locator("#campaign-status")).to_have_attribute("data-status", "dismissed")
    expect(page.locator("#confirm-action")).to_have_count(0)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DISMISSED and campaign.decision_note == "Quét thử nghiệm"
    assert not watch.console_errors and not watch.external
