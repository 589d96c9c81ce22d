"""The duty officer on a phone (390 px): the rule campaign's page links the indicator campaign of the same wave,
already warned, and one tap shares its early warning instead of writing a second one. Screenshot:
test-artifacts/screenshots/telemetry_campaign_related_phone.png."""
import pytest
from playwright.sync_api import expect

from khien.core.tests.test_phone_layout_browser import PHONE, sign_in_coordinator
from khien.intel.models import EarlyWarning
from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)
from khien.telemetry import correlation
from khien.telemetry.models import Campaign, CampaignStatus
from khien.telemetry.tests.test_campaign_related import wave  # noqa: F401 (fixture)
from khien.telemetry.tests.test_correlation import hit_at  # noqa: F401 (fixture)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_a_related_campaign_shares_the_warning_from_a_phone(live_server, flushable_audit_log, world, wave,
                                                            browser):  # noqa: F811
    indicator_campaign, rule_campaign = wave
    correlation.do_campaign_to_warning(indicator_campaign, acting_user=world.coordinator)
    base = live_server.url
    page = browser.new_page(viewport=PHONE, locale="en-GB")
    watch = Watch(page, base)
    sign_in_coordinator(page, base, world.coordinator)
    page.goto(f"{base}/telemetry/campaigns/{rule_campaign.pk}/")
    related = page.locator("#campaign-related")
    expect(related).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing to scroll sideways
    expect(page.locator("#decide-related")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "telemetry_campaign_related_phone.png"), full_page=True)
    related.locator("[data-take-over] button").click()
    page.wait_for_url(f"{base}/telemetry/campaigns/{rule_campaign.pk}/")
    expect(page.locator("#campaign-warning")).to_be_visible()
    rule_campaign.refresh_from_db()
    assert rule_campaign.status == CampaignStatus.WARNED and EarlyWarning.objects.count() == 1
    # The link goes to the other campaign's page.
    page.locator(f'#campaign-related a[href="/telemetry/campaigns/{indicator_campaign.pk}/"]').click()
    page.wait_for_url(f"{base}/telemetry/campaigns/{indicator_campaign.pk}/")
    assert Campaign.objects.count() == 2
    assert not watch.console_errors and not watch.external
