"""The page header in a real browser (headless Chromium through Playwright): one row on a 1366 px screen, in
Vietnamese (the longer language) and English, with every menu entry, a long name and many unread notifications;
narrower, the menu takes its own row under the brand and the user's controls, and the page never scrolls sideways.
Screenshots go to test-artifacts/screenshots/."""
import pytest

from khien.registry.tests.test_browser import SCREENSHOTS, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


BOXES = """() => {
  const box = s => { const r = document.querySelector(s).getBoundingClientRect();
                     return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  return {header: box('header.topbar'), brand: box('.brand'), nav: box('.mainnav'), right: box('.topbar-right'),
          links: document.querySelectorAll('.mainnav a').length,
          sideways: document.documentElement.scrollWidth > document.documentElement.clientWidth};
}"""


def busy_admin(world):
    """The header's hardest case: a long Vietnamese name and a three-digit unread count."""
    from khien.core import notifications

    world.admin.full_name = "Nguyễn Thị Thanh Hương Quản Trị Hệ Thống"
    world.admin.save()
    for i in range(120):
        notifications.notify([world.admin], kind="test", title=f"Thông báo {i}")
    return world.admin


def test_the_header_is_one_row_at_1366_px_and_wraps_by_rows_below(live_server, flushable_audit_log, world, browser):
    busy_admin(world)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    for language in ("vi", "en"):
        context = browser.new_context(viewport={"width": 1366, "height": 800})
        context.add_cookies([{"name": "khien_language", "value": language, "url": base}])
        page = context.new_page()
        login(page, base, world.admin)
        for width in (1366, 1280, 1024, 600):
            page.set_viewport_size({"width": width, "height": 800})
            page.goto(f"{base}/audit/")
            page.screenshot(path=str(SCREENSHOTS / f"header-{language}-{width}.png"),
                            clip={"x": 0, "y": 0, "width": width, "height": 160})
            b = page.evaluate(BOXES)
            assert b["links"] == 10  # every entry, the import page's too
            assert not b["sideways"], (language, width)
            if width >= 1366:
                # one row: the menu beside the brand and the user's controls, the header one line high
                assert b["nav"]["top"] < b["brand"]["bottom"] and b["nav"]["top"] < b["right"]["bottom"], b
                assert b["header"]["bottom"] - b["header"]["top"] < 60, b
                # room to spare for a scroll bar (17 px: a browser that shows one leaves the page 1349 px wide)
                assert b["right"]["left"] - b["nav"]["right"] >= 17 + 10, b
            else:
                # the brand and the user's controls on the first row, the whole menu on the next
                assert b["nav"]["top"] >= b["brand"]["bottom"] - 1 and b["right"]["top"] < b["brand"]["bottom"], b
        context.close()
