"""An ISAC's members ticked in a real browser (headless Chromium): the filter matches the start of words without
accents ("ha" finds Hà Nội and Hải Phòng, not Thanh Hóa; "da nang" finds Đà Nẵng); a box ticked moves at once to
"Chosen (n)" and back to its group when unticked, the keyboard going on down the list; several members ticked are
all saved; at 360 px nothing is wider than the screen, no list scrolls inside the page and the filter's hint is
whole; without JavaScript the boxes save the same. Screenshots go to /tmp/fixPicker/ and
test-artifacts/screenshots/isac_members_*.png."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

EXTRA = Path("/tmp/fixPicker")


def shot(page, name, full_page=True):
    for folder in (SCREENSHOTS, EXTRA):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"isac_members_{name}.png"), full_page=full_page)


def _places():
    """Four provincial committees named as the filter must tell them apart, and enough enterprises for a long list."""
    from khien.conftest import _org

    named = {}
    for code, name in (("HN", "Sở Thông tin Hà Nội"), ("HP", "Sở Thông tin Hải Phòng"),
                       ("TH", "Sở Thông tin Thanh Hóa"), ("DNG", "Sở Thông tin Đà Nẵng")):
        org = _org(code, "province")
        org.name_vi = org.name_en = name
        org.save()
        named[code] = org
    for i in range(30):
        _org(f"DN{i:02d}", "enterprise")
    return named


def _label(picker, org):
    return picker.locator(f"label.org-option:has(input[value='{org.pk}'])")


def _fill_the_isac(page, world):
    page.fill("#id_code", "ISAC-TT")
    page.fill("#id_name_vi", "ISAC thông tin")
    page.select_option("#id_operator", str(world.ministry.pk))


def test_members_are_filtered_by_word_start_moved_live_and_all_saved(live_server, flushable_audit_log, world,
                                                                      browser):  # noqa: F811
    from khien.registry.models import Isac

    named = _places()
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    login(page, base, world.admin)
    page.goto(f"{base}/isacs/new/")
    picker = page.locator("#id_members[data-picker]")
    box = picker.locator("input[type=search]")
    count = picker.locator("[data-org-count]")
    chosen = picker.locator("[data-org-chosen]")
    visible = picker.locator("label.org-option:visible")
    expect(box).to_be_visible()
    expect(chosen).to_have_count(0)

    # The start of words, accents aside.
    box.fill("ha")
    expect(visible).to_have_count(2)
    expect(_label(picker, named["HN"])).to_be_visible()
    expect(_label(picker, named["HP"])).to_be_visible()
    expect(_label(picker, named["TH"])).to_be_hidden()  # "ha" is inside "Thanh" and "Hóa"'s "hoa": no match
    box.fill("da nang")
    expect(visible).to_have_count(1)
    expect(_label(picker, named["DNG"])).to_be_visible()

    # Ticked: at once under "Chosen (1)"; the filter cleared, it stays there, above the groups.
    _label(picker, named["DNG"]).click()
    expect(chosen.locator(f"input[value='{named['DNG'].pk}']")).to_be_checked()
    expect(chosen.locator("legend")).to_have_text("Đã chọn (1)")
    expect(count).to_contain_text("1")
    box.fill("")
    expect(chosen).to_be_visible()
    # Unticked: back in its group, "Chosen" gone.
    _label(picker, named["DNG"]).click()
    expect(chosen).to_be_hidden()
    group = picker.locator("details[data-org-group]", has=page.locator(f"input[value='{named['DNG'].pk}']"))
    expect(group).to_have_count(1)
    expect(count).to_contain_text("0")

    # With the keyboard: the space bar ticks a box, which moves up; the focus goes on to the next one of the list.
    box.fill("so thong tin")
    first = picker.locator("details[data-org-group] label.org-option:visible input").first
    first_value = first.get_attribute("value")
    first.focus()
    page.keyboard.press("Space")
    expect(chosen.locator(f"input[value='{first_value}']")).to_be_checked()
    focused = page.evaluate("document.activeElement.closest('[data-org-chosen]') === null && "
                            "document.activeElement.type === 'checkbox' && !document.activeElement.checked")
    assert focused, "the focus stays in the list, on the next box"
    page.keyboard.press("Space")  # and the next one
    expect(chosen.locator("input:checked")).to_have_count(2)
    expect(chosen.locator("legend")).to_have_text("Đã chọn (2)")
    box.fill("")
    box.fill("RESP")
    _label(picker, world.responder_org).click()
    box.fill("")
    expect(chosen.locator("input:checked")).to_have_count(3)
    expect(count).to_contain_text("3")

    # 1366 px: the long lists scroll in their box with a scrollbar drawn.
    style = page.evaluate("""() => { const s = getComputedStyle(document.querySelector('#id_members .org-options'));
                                     return [s.overflowY, s.scrollbarColor]; }""")
    assert style[0] == "auto" and style[1] not in ("", "auto"), style
    shot(page, "1366")

    # 360 px: nothing wider than the screen, no list scrolling inside the page, the filter's hint whole.
    page.set_viewport_size({"width": 360, "height": 780})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    overflow = page.evaluate("""() => Array.from(document.querySelectorAll('#id_members .org-options'))
                                     .map(el => getComputedStyle(el).overflowY)""")
    assert set(overflow) == {"visible"}, overflow
    hint = page.evaluate("""() => { const el = document.querySelector('#id_members_filter'), s = getComputedStyle(el);
        const ctx = document.createElement('canvas').getContext('2d'); ctx.font = s.font;
        return [ctx.measureText(el.placeholder).width,
                el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)]; }""")
    assert hint[0] <= hint[1], hint
    picker.scroll_into_view_if_needed()
    shot(page, "360_view", full_page=False)
    picker.locator("details[data-org-group]").first.locator("summary").click()  # a group opened: the page scrolls
    shot(page, "360")

    page.set_viewport_size({"width": 1366, "height": 900})
    _fill_the_isac(page, world)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/isacs/*/")
    isac = Isac.objects.get(code="ISAC-TT")
    assert isac.members.count() == 3
    assert world.responder_org in isac.members.all() and first_value in {str(pk) for pk in
                                                                        isac.members.values_list("pk", flat=True)}
    assert not watch.console_errors and not watch.external, (watch.console_errors, watch.external)


def test_without_javascript_the_ticked_members_are_saved(live_server, flushable_audit_log, world,
                                                         browser):  # noqa: F811
    from khien.registry.models import Isac

    named = _places()
    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="vi-VN", java_script_enabled=False)
    page = context.new_page()
    login(page, base, world.admin)
    page.goto(f"{base}/isacs/new/")
    picker = page.locator("#id_members[data-picker]")
    expect(picker.locator("input[type=search]")).to_be_hidden()  # the filter needs JavaScript
    provinces = picker.locator("details[data-org-group]", has=page.locator(f"input[value='{named['HN'].pk}']"))
    provinces.locator("summary").click()
    for code in ("HN", "HP", "TH"):
        _label(picker, named[code]).click()
    expect(picker.locator("input:checked")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "nojs_360")
    page.select_option("#id_operator", str(world.ministry.pk))
    page.click("main form button[type=submit]")  # refused: no code; the ticks are kept, first
    expect(picker.locator("[data-org-chosen] input:checked")).to_have_count(3)
    assert not Isac.objects.exists()
    _fill_the_isac(page, world)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/isacs/*/")
    assert set(Isac.objects.get().members.values_list("code", flat=True)) == {"HN", "HP", "TH"}
    context.close()
