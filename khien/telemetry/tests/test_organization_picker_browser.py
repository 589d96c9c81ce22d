"""The early warning's organizations in a real browser (headless Chromium through Playwright): on a campaign's
page the organizations it hit start ticked, and a plain click on one more organization keeps them ticked (the old
<select multiple> kept only the one clicked). The filter box narrows the list by code or name, without accents;
the count of those chosen follows the clicks; the page fits 1366 px and 360 px; without JavaScript the boxes
are all there. Screenshots go to test-artifacts/screenshots/telemetry_org_picker_*.png."""
import pytest
from playwright.sync_api import expect

from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.intel.models import WarningTarget
from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser  # noqa: F401 (fixture)
from khien.telemetry import correlation
from khien.telemetry.models import Campaign
from khien.telemetry.tests.test_correlation import hit_at  # noqa: F401 (fixture)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

LONG_NAME = "Trung tâm Giám sát An toàn không gian mạng quốc gia phía Nam (chi nhánh Hà Nội số 2)"


def _many_organizations():
    """Enough organizations for the groups to be long, one with a long name written with accents."""
    from khien.conftest import _org
    from khien.registry.models import Organization

    for i in range(40):
        _org(f"DN{i:02d}", "enterprise")
    longest = _org("LONG", "enterprise")
    Organization.objects.filter(pk=longest.pk).update(name_vi=LONG_NAME, name_en=LONG_NAME)
    return longest


def _box(page, org):
    return page.locator(f"#make-warning input[name=organizations][value='{org.pk}']")


def test_a_click_on_one_more_organization_keeps_those_ticked(live_server, flushable_audit_log, world, intel,
                                                              hit_at, browser):  # noqa: F811
    from khien.incidents import content

    content.load_all()
    longest = _many_organizations()
    hit = (world.ministry, world.province, world.department)
    for org in hit:
        hit_at(org)
    correlation.correlate()
    campaign = Campaign.objects.get()
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    sign_in_coordinator(page, base, world.coordinator)
    page.goto(f"{base}/telemetry/campaigns/{campaign.pk}/")
    page.click("#make-warning > summary")
    picker = page.locator("#make-warning [data-org-picker]")
    count = picker.locator("[data-org-count]")
    expect(count).to_contain_text("3")
    for org in hit:
        expect(_box(page, org)).to_be_checked()
    chosen = picker.locator("[data-org-chosen]")
    expect(chosen.locator("input[type=checkbox]")).to_have_count(3)

    # One more organization, with a plain click on its name, in its folded group.
    responder = _box(page, world.responder_org)
    picker.locator(f"details[data-org-group]:has(input[value='{world.responder_org.pk}']) > summary").click()
    picker.locator(f"label[for='{responder.get_attribute('id')}']").click()
    expect(responder).to_be_checked()
    for org in hit:
        expect(_box(page, org)).to_be_checked()  # the campaign's organizations are still ticked
    expect(count).to_contain_text("4")

    # The filter narrows the list (without accents), the ticked ones stay in sight; emptied, all are back.
    box = picker.locator("input[type=search]")
    expect(box).to_be_visible()
    visible = picker.locator("label.org-option:visible")
    every = visible.count()
    box.fill("ha noi so 2")
    expect(visible).to_have_count(4 + 1)  # the 4 ticked and LONG
    expect(picker.locator(f"label[for='{_box(page, longest).get_attribute('id')}']")).to_be_visible()
    expect(picker.locator("label.org-option", has_text="DN07")).to_be_hidden()
    expect(picker.locator("[data-org-shown]")).not_to_be_empty()
    box.press("Enter")  # does not send the warning
    assert Campaign.objects.get().warning_id is None
    _box(page, longest).check()
    expect(count).to_contain_text("5")
    box.fill("")
    expect(picker.locator("label.org-option", has_text="DN07")).to_be_attached()
    assert visible.count() >= every  # the groups opened are open again
    expect(picker.locator(f"label[for='{_box(page, longest).get_attribute('id')}']")).to_be_visible()  # and LONG's
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "telemetry_org_picker_1366.png"), full_page=True)
    width = picker.evaluate("el => el.getBoundingClientRect().width")
    assert width > 700, width

    # At 360 px: nothing wider than the screen.
    page.set_viewport_size({"width": 360, "height": 780})
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 360, overflow
    page.locator("#make-warning [data-org-picker]").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "telemetry_org_picker_360.png"), full_page=True)

    # Sent: the warning goes to the five ticked.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.click("#make-warning button[type=submit]")
    page.wait_for_load_state("networkidle")
    campaign.refresh_from_db()
    assert campaign.warning_id is not None
    reached = set(WarningTarget.objects.filter(warning_id=campaign.warning_id).values_list("organization_id",
                                                                                          flat=True))
    assert reached == {o.pk for o in hit} | {world.responder_org.pk, longest.pk}
    assert not watch.console_errors and not watch.external, (watch.console_errors, watch.external)


def test_without_javascript_every_organization_is_a_box(live_server, flushable_audit_log, world, browser):  # noqa: F811
    _many_organizations()
    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="vi-VN", java_script_enabled=False)
    page = context.new_page()
    sign_in_coordinator(page, base, world.coordinator)
    page.goto(f"{base}/intel/warnings/new/")
    picker = page.locator("[data-org-picker]")
    expect(picker.locator("input[type=search]")).to_be_hidden()  # the filter needs JavaScript
    expect(picker.locator("[data-org-count]")).to_be_hidden()  # and the count, which would not follow the ticks
    assert picker.locator("input[type=checkbox][name=organizations]").count() > 40
    group = picker.locator("details[data-org-group]", has_text="DN07")
    group.locator("summary").click()
    picker.locator("label.org-option", has_text="DN07").click()
    picker.locator("label.org-option", has_text="DN08").click()
    expect(picker.locator("input:checked")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "telemetry_org_picker_nojs_360.png"), full_page=True)
    context.close()
