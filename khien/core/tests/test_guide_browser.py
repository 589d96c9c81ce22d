"""The user guide in a real browser (headless Chromium): inside the platform's layout, in Vietnamese and English,
at 1366 px and on a 390 px phone, where the page never scrolls sideways — a wide table or code block scrolls inside
its own box. Screenshots go to test-artifacts/screenshots/."""
import pytest

from khien.conftest import TEST_PASSWORD
from khien.registry.tests.test_browser import SCREENSHOTS, browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_guide_pages_read_at_1366_and_390_px(live_server, flushable_audit_log, world, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    # one reader per language: an account keeps the language it first signed in with
    for language, reader in (("vi", world.analyst), ("en", world.admin)):
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        context.add_cookies([{"name": "khien_language", "value": language, "url": base}])
        page = context.new_page()
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", reader.email)
        page.fill("input[name=password]", TEST_PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_url(f"{base}/")
        page.click("details.usermenu summary")
        page.click("#usermenu-guide")
        page.wait_for_url(f"{base}/guide/")
        page.click('a[href="/guide/registry/"]')
        page.wait_for_url(f"{base}/guide/registry/")
        assert page.evaluate("document.querySelector('#guide-article').lang") == language
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
            for slug in ("registry", "soc-connect"):
                page.goto(f"{base}/guide/{slug}/")
                page.screenshot(path=str(SCREENSHOTS / f"guide-{slug}-{language}-{width}.png"))
                assert not page.evaluate(
                    "document.documentElement.scrollWidth > document.documentElement.clientWidth"), (slug, width)
                boxes = page.evaluate("""[...document.querySelectorAll('#guide-article table, #guide-article pre')]
                    .map(b => ({overflow: getComputedStyle(b).overflowX, right: b.getBoundingClientRect().right}))""")
                assert boxes and all(b["overflow"] == "auto" and b["right"] <= width for b in boxes), (slug, boxes)
        context.close()
