"""Tap targets of the page header in a real browser (headless Chromium through Playwright), WCAG 2.2 SC 2.5.8 (Target
Size, Minimum): on a commune officer's phone (360 and 390 px) and on a 1366 px laptop, every control of the header and
of the main menu — the brand, the menu entries, the language buttons, the notifications bell, the user menu and its
entries — is at least 24×24 CSS px and overlaps no other, for a signed-in user and on the sign-in page. The language
buttons, the bell and the user's name were 20 to 22 px high: a thumb on "EN" could land on "VI" or on the bell.
On a phone the user's own controls (languages, bell, name) and the user menu's entries are 44 px high, the size a
finger needs, and stay on the brand's row with a long name and many unread notifications; the menu entries 40 px.
Screenshots go to test-artifacts/screenshots/tap-*.png."""
import pytest

from khien.conftest import TEST_PASSWORD
from khien.core.tests.test_header_browser import SCREENSHOTS, browser, busy_admin  # noqa: F401 (fixture)
from khien.registry.tests.test_browser import login

pytestmark = pytest.mark.browser

MINIMUM = 24    # WCAG 2.2 SC 2.5.8
FINGER = 44     # WCAG SC 2.5.5 (enhanced), Apple and Android guidance: the phone's own controls
MENU_ON_PHONE = 40  # the menu entries: 44 px made the header a third of a 740 px-high screen
PHONES = (360, 390)
WIDTHS = (360, 390, 1366)

# Every control a pointer can reach in the header that is on the screen (a closed user menu's entries are not).
TARGETS = """() => {
  const header = document.querySelector('header.topbar');
  const controls = header.querySelectorAll('a[href], button, summary, input:not([type=hidden]), select, textarea');
  return [...controls].map(e => {
    const r = e.getBoundingClientRect();
    const name = (e.getAttribute('aria-label') || e.textContent || e.getAttribute('title') || e.tagName).trim();
    return {name: `${e.tagName.toLowerCase()} "${name.slice(0, 30)}"`, right_side: !!e.closest('.topbar-right'),
            in_menu: !!e.closest('.usermenu .menu'), in_nav: !!e.closest('.mainnav'),
            brand_bottom: header.querySelector('.brand').getBoundingClientRect().bottom,
            x: r.left, y: r.top, width: r.width, height: r.height};
  }).filter(t => t.width > 0 && t.height > 0);
}"""


def faults(targets, width):
    """What a finger would miss: a control under 24×24 px, two controls overlapping; on a phone one of the user's
    own controls (or user menu entries) under 44 px high, a menu entry under 40 px; the user's controls pushed
    off the brand's row."""
    found = []
    for t in targets:
        if t["width"] < MINIMUM - 0.01 or t["height"] < MINIMUM - 0.01:
            found.append(f"{t['name']} is {t['width']:.1f}×{t['height']:.1f} px")
        if width in PHONES and t["right_side"] and t["height"] < FINGER - 0.01:
            found.append(f"{t['name']} is {t['height']:.1f} px high on a phone")
        if width in PHONES and t["in_nav"] and t["height"] < MENU_ON_PHONE - 0.01:
            found.append(f"{t['name']} is {t['height']:.1f} px high on a phone")
        if t["right_side"] and not t["in_menu"] and t["y"] >= t["brand_bottom"]:
            found.append(f"{t['name']} is below the brand's row")
    for i, a in enumerate(targets):
        for b in targets[i + 1:]:
            if a["in_menu"] != b["in_menu"]:
                continue  # the open user menu lies over the main menu's entries, by design
            across = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            down = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            if across > 0.5 and down > 0.5:
                found.append(f"{a['name']} and {b['name']} overlap")
    return found


def report(found):
    return "\n".join(f"{width} px: {problem}" for width, problems in found.items() for problem in problems)


def check_header(page, label, open_menu=False):
    found = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844 if width in PHONES else 800})
        page.reload()
        page.screenshot(path=str(SCREENSHOTS / f"tap-{label}-{width}.png"),
                        clip={"x": 0, "y": 0, "width": width, "height": 260 if width in PHONES else 120})
        targets = page.evaluate(TARGETS)
        assert targets, label
        problems = faults(targets, width)
        sideways = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
        if sideways:
            problems.append("the page scrolls sideways")
        if open_menu:
            page.click("details.usermenu summary")
            page.screenshot(path=str(SCREENSHOTS / f"tap-{label}-menu-{width}.png"),
                            clip={"x": 0, "y": 0, "width": width, "height": 420})
            menu = [t for t in page.evaluate(TARGETS) if t["in_menu"]]
            assert len(menu) == 6, menu  # tokens, password, two-step, guide, API documentation, sign out
            problems += faults(menu, width)
        if problems:
            found[width] = problems
    return found


def test_the_header_controls_are_big_enough_to_tap_signed_in(live_server, flushable_audit_log, world, browser):
    busy_admin(world)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 844}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.admin)
    page.goto(f"{base}/audit/")
    found = check_header(page, "signed-in", open_menu=True)
    # the name the phone's header cuts to a few letters is whole in the open menu, with the address
    page.set_viewport_size({"width": 360, "height": 844})
    page.reload()
    page.click("details.usermenu summary")
    who = page.locator(".usermenu .menu .who")
    who = who.inner_text() if who.is_visible() else None
    context.close()
    assert not found, report(found)
    assert who and world.admin.full_name in who and world.admin.email in who, who


def test_the_header_controls_are_big_enough_to_tap_on_the_sign_in_page(live_server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 360, "height": 844}, locale="vi-VN")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    found = check_header(page, "sign-in")
    context.close()
    assert not found, report(found)


def test_the_header_controls_are_big_enough_to_tap_before_the_password_change(live_server, world, browser):
    """A session limited to the required password change: the header holds the languages and "Sign out" only."""
    world.analyst.must_change_password = True
    world.analyst.save()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    context = browser.new_context(viewport={"width": 360, "height": 844}, locale="vi-VN")
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", world.analyst.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_load_state("networkidle")
    assert page.locator(".topbar .signout button").count() == 1, page.url
    found = check_header(page, "limited")
    context.close()
    assert not found, report(found)
