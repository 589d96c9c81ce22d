"""The intelligence forms' checkbox lists (intel.forms.CheckboxPicker) in a real browser (headless Chromium):
two provinces ticked through the filter box, a plain click on one more keeps those ticked (a <select multiple>
kept only the one clicked), the count follows; the short list of sectors has no filter; the TLP:RED recipients
tick as well and the "who will see it" box counts them; the page fits 360 px; without JavaScript the boxes post
the same warning. Screenshots go to /tmp/fixC/ and test-artifacts/screenshots/intel_pickers_*.png."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

EXTRA = Path("/tmp/fixC")


def shot(page, name):
    for folder in (SCREENSHOTS, EXTRA):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"intel_pickers_{name}.png"), full_page=True)


def _places():
    """An organization in Hà Nội, one in Huế, one in the banking sector: who the warning reaches."""
    from khien.conftest import _org
    from khien.registry.models import Province, Sector

    hanoi, hue = Province.objects.get(code="01"), Province.objects.get(code="46")
    banking = Sector.objects.get(code="banking")
    in_hanoi, in_hue, bank = _org("HN-ORG", "enterprise", province=hanoi), _org("HUE-ORG", "enterprise", province=hue), \
        _org("BANK", "enterprise")
    bank.sectors.set([banking])
    return hanoi, hue, banking, {in_hanoi.pk, in_hue.pk, bank.pk}


def hint_fits(page, selector):
    """The filter box's placeholder is whole in the box (its text no wider than the box's inside)."""
    width, room = page.evaluate("""(selector) => { const el = document.querySelector(selector), s = getComputedStyle(el);
        const ctx = document.createElement('canvas').getContext('2d'); ctx.font = s.font;
        return [ctx.measureText(el.placeholder).width,
                el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)]; }""", selector)
    assert width <= room, (selector, width, room)
    return True


def _label(picker, model_obj):
    return picker.locator(f"label.org-option:has(input[value='{model_obj.pk}'])")


def test_two_provinces_ticked_through_the_filter_and_a_click_drops_none(live_server, flushable_audit_log, world,
                                                                          browser):  # noqa: F811
    from khien.intel.models import EarlyWarning
    from khien.registry.models import Province

    hanoi, hue, banking, reached = _places()
    third = Province.objects.get(code="48")  # Đà Nẵng
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    sign_in_coordinator(page, base, world.coordinator)
    page.goto(f"{base}/intel/warnings/new/")

    # The short list of sectors: every box in sight, no filter; a click ticks one, the count says so.
    sectors = page.locator("#id_sectors[data-picker]")
    expect(sectors.locator("input[type=search]")).to_have_count(0)
    _label(sectors, banking).click()
    expect(sectors.locator(f"input[value='{banking.pk}']")).to_be_checked()
    expect(sectors.locator("[data-org-count]")).to_contain_text("1")

    # The provinces: the filter finds Hà Nội without accents, then Huế; the first stays ticked and in sight.
    provinces = page.locator("#id_provinces[data-picker]")
    count = provinces.locator("[data-org-count]")
    box = provinces.locator("input[type=search]")
    expect(box).to_be_visible()
    expect(count).to_contain_text("0")
    box.fill("ha noi")
    visible = provinces.locator("label.org-option:visible")
    expect(visible).to_have_count(1)
    visible.first.click()
    expect(count).to_contain_text("1")
    box.fill("hue")
    expect(visible).to_have_count(2)  # Huế, and Hà Nội: ticked, it stays in sight
    _label(provinces, hue).click()
    for province in (hanoi, hue):
        expect(provinces.locator(f"input[value='{province.pk}']")).to_be_checked()
    expect(count).to_contain_text("2")
    box.press("Enter")  # does not send the warning
    assert not EarlyWarning.objects.exists()
    box.fill("")
    expect(visible).to_have_count(Province.objects.count())

    # A plain click on a third province ticks it and drops neither; a second click unticks it alone.
    third_box = provinces.locator(f"input[value='{third.pk}']")
    _label(provinces, third).click()
    expect(third_box).to_be_checked()
    expect(count).to_contain_text("3")
    _label(provinces, third).click()
    expect(third_box).not_to_be_checked()
    for province in (hanoi, hue):
        expect(provinces.locator(f"input[value='{province.pk}']")).to_be_checked()
    expect(count).to_contain_text("2")
    expect(sectors.locator(f"input[value='{banking.pk}']")).to_be_checked()
    shot(page, "warning_1366")

    # At 360 px: nothing wider than the screen; the filters' hints are whole.
    page.set_viewport_size({"width": 360, "height": 780})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for selector in ("#id_provinces_filter", "#id_organizations_filter"):
        assert hint_fits(page, selector)
    provinces.scroll_into_view_if_needed()
    page.screenshot(path=str(EXTRA / "intel_pickers_warning_360_view.png"))  # the lists as a phone shows them
    shot(page, "warning_360")

    page.set_viewport_size({"width": 1366, "height": 900})
    page.fill("#id_title", "Dò quét các cổng dịch vụ công")
    page.uncheck("#id_auto_match")
    page.click("#warning-form button[type=submit]:not([name])")
    page.wait_for_selector("#warning-form", state="detached")
    warning = EarlyWarning.objects.get()
    assert set(warning.targets.values_list("organization_id", flat=True)) == reached
    assert not watch.console_errors and not watch.external, (watch.console_errors, watch.external)


def test_two_red_recipients_ticked_through_the_filter_are_counted_and_stored(live_server, flushable_audit_log,
                                                                              world, browser):  # noqa: F811
    from khien.conftest import _org
    from khien.intel import services
    from khien.intel.models import StixObject, StixRecipient

    collection = services.do_create_collection({"title": "Nguồn tin quốc gia", "owner": world.ncsc,
                                                "kind": "national"}, acting_user=world.coordinator)
    services.do_set_collection_member(collection, world.ministry, can_read=True, can_write=True,
                                      acting_user=world.coordinator)
    for i in range(30):
        _org(f"DN{i:02d}", "enterprise")
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/intel/indicators/new/")
    page.fill("#id_name", "Máy chủ điều khiển")
    page.select_option("#id_value_kind", "domain")
    page.fill("#id_value", "c2.evil-example.vn")
    page.select_option("#id_collection", str(collection.pk))
    recipients = page.locator("#id_recipients[data-picker]")
    expect(recipients).to_be_hidden()
    page.select_option("#id_tlp", "red")
    expect(recipients).to_be_visible()
    count = recipients.locator("[data-org-count]")
    box = recipients.locator("input[type=search]")
    expect(page.locator("#audience-count")).to_be_visible()
    # The count for TLP:RED with no recipient yet (the producer's own), once its refresh has replaced the count of
    # the TLP the form opened with (read too early, the test compared with that one).
    from khien.intel import tlp
    from khien.registry.models import Organization

    before = Organization.objects.filter(tlp.audience_q(
        "red", producer_ids=[services.producer_for(world.analyst, collection)], collections=[collection])).count()
    expect(page.locator("#audience-count")).to_have_attribute("data-count", str(before))
    box.fill("DN07")
    recipients.locator("label.org-option:visible", has_text="DN07").click()
    box.fill("DN12")
    recipients.locator("label.org-option:visible", has_text="DN12").click()
    expect(count).to_contain_text("2")
    expect(recipients.locator("input:checked")).to_have_count(2)
    # "Who will see it" follows the ticks: the two recipients more.
    expect(page.locator("#audience-count")).to_have_attribute("data-count", str(before + 2))
    box.fill("")
    shot(page, "red_recipients")
    page.click("#indicator-form button[type=submit]")
    page.wait_for_selector("#object-name")
    obj = StixObject.objects.get(data__name="Máy chủ điều khiển")
    assert set(StixRecipient.objects.filter(object=obj).values_list("organization__code", flat=True)) == {
        "DN07", "DN12"}
    assert not watch.console_errors and not watch.external, (watch.console_errors, watch.external)


def test_a_reports_objects_are_ticked_through_the_filter(live_server, flushable_audit_log, world,
                                                         browser):  # noqa: F811
    from khien.intel import services
    from khien.intel.models import StixObject

    from .conftest import indicator

    collection = services.do_create_collection({"title": "Nguồn tin quốc gia", "owner": world.ncsc,
                                                "kind": "national"}, acting_user=world.coordinator)
    services.do_set_collection_member(collection, world.ministry, can_read=True, can_write=True,
                                      acting_user=world.coordinator)
    objs = [indicator(f"198.51.100.{n}", tlp="green", name=f"Máy chủ {n:02d}") for n in range(1, 21)]
    services.do_add_objects(collection, objs, acting_user=world.analyst)
    base = live_server.url
    page = browser.new_page(viewport={"width": 360, "height": 780}, locale="vi-VN")
    watch = Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/intel/reports/new/")
    picker = page.locator("#id_object_refs[data-picker]")
    box = picker.locator("input[type=search]")
    box.fill("may chu 07")
    picker.locator("label.org-option:visible", has_text="Máy chủ 07").click()
    box.fill("may chu 13")
    picker.locator("label.org-option:visible", has_text="Máy chủ 13").click()
    box.fill("")
    picker.locator("label.org-option", has_text="Máy chủ 02").click()  # a plain click: the others stay
    expect(picker.locator("input:checked")).to_have_count(3)
    expect(picker.locator("[data-org-count]")).to_contain_text("3")
    # Ticked, each moved at once under "Chosen (3)", in the order of the list.
    expect(picker.locator("[data-org-chosen] input:checked")).to_have_count(3)
    expect(picker.locator("[data-org-chosen] legend")).to_have_text("Đã chọn (3)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # On a phone the list does not scroll inside the page (its scrollbar was hidden there): the page scrolls.
    assert page.evaluate("getComputedStyle(document.querySelector('#id_object_refs .org-options')).overflowY") == \
        "visible"
    assert hint_fits(page, "#id_object_refs_filter")
    shot(page, "report_objects_360")
    page.fill("#id_name", "Ba máy chủ")
    page.select_option("#id_collection", str(collection.pk))
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#object-name")
    report = StixObject.objects.get(data__name="Ba máy chủ")
    assert sorted(report.data["object_refs"]) == sorted(objs[n - 1]["id"] for n in (2, 7, 13))
    assert not watch.console_errors and not watch.external, (watch.console_errors, watch.external)


def test_without_javascript_the_ticked_provinces_post_the_same_warning(live_server, flushable_audit_log, world,
                                                                        browser):  # noqa: F811
    from khien.intel.models import EarlyWarning

    hanoi, hue, banking, reached = _places()
    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="vi-VN", java_script_enabled=False)
    page = context.new_page()
    sign_in_coordinator(page, base, world.coordinator)
    page.goto(f"{base}/intel/warnings/new/")
    provinces = page.locator("#id_provinces[data-picker]")
    expect(provinces.locator("input[type=search]")).to_be_hidden()  # the filter needs JavaScript
    expect(provinces.locator("[data-org-count]")).to_be_hidden()  # and the count, which would not follow
    _label(provinces, hanoi).click()
    _label(provinces, hue).click()
    _label(page.locator("#id_sectors"), banking).click()
    expect(provinces.locator("input:checked")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "warning_nojs_360")
    page.uncheck("#id_auto_match")
    page.click("#warning-form button[type=submit]:not([name])")  # refused: no title; the ticks are kept, first
    chosen = page.locator("#id_provinces [data-org-chosen]")
    expect(chosen).to_contain_text("(2)")
    expect(chosen.locator("input:checked")).to_have_count(2)
    assert not EarlyWarning.objects.exists()
    page.fill("#id_title", "Dò quét các cổng dịch vụ công")
    page.click("#warning-form button[type=submit]:not([name])")
    page.wait_for_selector("#warning-form", state="detached")
    assert set(EarlyWarning.objects.get().targets.values_list("organization_id", flat=True)) == reached
    context.close()
