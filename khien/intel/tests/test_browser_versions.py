"""The second walkthrough's fixes in a real browser (headless Chromium): the audience box when a TLP is
picked before a collection (no failed request, no console error), revoking an indicator from its page, and
the early-warning form's filterable recipient lists. Nothing is loaded from another origin.
Screenshots go to test-artifacts/screenshots/intel_*.png."""
import pytest
from playwright.sync_api import expect

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

LONG_NAME = "Trung tâm Giám sát An toàn không gian mạng quốc gia phía Nam (chi nhánh Hà Nội số 2)"


def shot(page, name):
    page.screenshot(path=str(SCREENSHOTS / f"intel_{name}.png"), full_page=True)


def test_audience_revoke_and_warning_recipients(live_server, flushable_audit_log, world, browser):
    from khien.conftest import _org
    from khien.intel import services
    from khien.intel.models import StixObject
    from khien.registry.models import Isac, Organization

    from .conftest import indicator

    collections = []
    for title in ("Nguồn tin quốc gia", "Nguồn tin ngành"):
        c = services.do_create_collection({"title": title, "owner": world.ncsc, "kind": "national"},
                                          acting_user=world.coordinator)
        services.do_set_collection_member(c, world.ministry, can_read=True, can_write=True,
                                          acting_user=world.coordinator)
        collections.append(c)
    obj = indicator("45.77.10.20", tlp="green", name="Máy chủ điều khiển")
    services.do_add_objects(collections[0], [obj], acting_user=world.analyst)
    isac = Isac.objects.create(code="FIN-ISAC", name_vi="ISAC tài chính", operator=world.ministry)
    longest = _org("LONG", "enterprise")
    Organization.objects.filter(pk=longest.pk).update(name_vi=LONG_NAME, name_en=LONG_NAME)
    isac.members.set([world.province, longest])

    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation of "Revoke"
    watch = Watch(page, base)

    # 1. A TLP picked before the collection: the box asks for both, no failed request.
    login(page, base, world.analyst)
    page.goto(f"{base}/intel/indicators/new/")
    page.select_option("#id_tlp", "red")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#audience")).to_be_visible()
    assert watch.failed == [] and watch.console_errors == []
    page.select_option("#id_collection", str(collections[0].pk))
    expect(page.locator("#audience-count")).to_be_visible()

    # 2. The producer revokes the indicator from its page.
    page.goto(f"{base}/intel/objects/{obj['id']}/")
    page.click("#revoke-link")
    page.fill("#id_reason", "Dương tính giả")
    page.click("#revoke-form button[type=submit]")
    page.wait_for_selector("#object-name")
    expect(page.locator(".toolbar .badge.bad")).to_be_visible()
    assert StixObject.objects.filter(stix_id=obj["id"]).order_by("-modified").first().revoked
    shot(page, "revoked")

    # 3. The ISAC's operator filters the organizations of the warning form.
    context.clear_cookies()
    login(page, base, world.admin)
    page.goto(f"{base}/intel/warnings/new/")
    field = page.locator("#id_organizations[data-org-picker]")  # checkboxes (intel.forms.OrganizationPicker)
    box = field.locator("input[type=search]")
    expect(box).to_be_visible()
    box.fill("ha noi so 2")  # without accents
    visible = field.locator("label.org-option:visible")
    expect(visible).to_have_count(1)
    expect(visible.first).to_contain_text(f"LONG — {LONG_NAME}")
    visible.first.click()
    expect(field.locator(f"input[value='{longest.pk}']")).to_be_checked()
    expect(field.locator("[data-org-count]")).to_contain_text("1")
    box.fill("")
    # An ISAC's operator is offered its members only (the province and LONG).
    expect(field.locator("input[name=organizations]")).to_have_count(isac.members.filter(is_active=True).count())
    # the whole name fits: the list is as wide as the form
    width = field.evaluate("el => el.getBoundingClientRect().width")
    assert width > 900, width
    expect(page.locator("#id_provinces_filter")).to_be_visible()  # the provinces: checkboxes too, filtered
    shot(page, "warning_form_filter")
    assert watch.external == [] and watch.console_errors == [], (watch.external, watch.console_errors)
    context.close()
