"""The outcome of an action is shown where the person acted. Many actions send the browser back to a part of a long
page (`/systems/<id>/#dossier`, `/organizations/<id>/#members`, `#level`); their message was drawn at the top of the
page, above the screen that the address's anchor opens at, and a refused upload went unseen on a 1366×768 screen.
khien.js moves the message to the start of that part (its live-region role kept, so a screen reader still
announces it); without JavaScript it stays at the top. Headless Chromium; screenshots in test-artifacts/screenshots/."""
import pytest

from khien.registry.tests.test_browser import SCREENSHOTS, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

WHERE = """() => {
  const box = document.getElementById('messages');
  const r = box.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, height: innerHeight, scrolled: scrollY,
          inside: box.closest('#dossier') !== null, role: box.getAttribute('role'), text: box.innerText};
}"""


def _refused_upload(page, base, system):
    page.goto(f"{base}/systems/{system.pk}/")
    page.set_input_files("#dossier input[type=file]", files=[
        {"name": "ho-so-qua-lon.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * (3 * 2**20)}])
    page.click("#dossier button[type=submit]")
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/systems/{system.pk}/#dossier")


def test_a_refused_upload_is_told_beside_the_dossier_on_a_1366_by_768_screen(live_server, flushable_audit_log, world,
                                                                           make_system, browser, settings):
    settings.KHIEN_MAX_UPLOAD_BYTES = 2 * 2**20  # a small limit: the test sends 3 MB, not 21
    system = make_system(world.ministry, purpose="Cổng dịch vụ công của bộ: tiếp nhận và trả kết quả hồ sơ trực tuyến.")
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.admin)
    _refused_upload(page, base, system)
    page.wait_for_timeout(300)  # the browser's own scroll to the anchor, done
    where = page.evaluate(WHERE)
    page.screenshot(path=str(SCREENSHOTS / "message-at-dossier-1366x768.png"))
    assert "Tệp chưa được thêm vào hồ sơ" in where["text"] and "2 MB" in where["text"], where
    assert where["scrolled"] > 0, where  # the page did open at the dossier, below the top
    assert where["inside"] and where["role"] == "alert", where  # beside the upload, still announced
    assert 0 <= where["top"] and where["bottom"] <= where["height"], where  # on the screen
    context.close()

    # Without JavaScript the message stays where the server drew it, at the top of the page.
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN", java_script_enabled=False)
    page = context.new_page()
    login(page, base, world.admin)
    page.goto(f"{base}/systems/{system.pk}/")
    page.set_input_files("#dossier input[type=file]", files=[
        {"name": "ho-so-qua-lon.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * (3 * 2**20)}])
    page.click("#dossier button[type=submit]")
    page.wait_for_load_state("load")
    assert page.locator("#dossier #messages").count() == 0
    assert page.locator("main > #messages").count() == 1
    context.close()


def test_a_message_without_an_anchor_stays_at_the_top(live_server, flushable_audit_log, world, browser):
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.analyst)
    page.goto(f"{base}/me/tokens/")
    page.fill("input[name=name]", "Wazuh")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("load")
    assert page.locator("main > #messages").count() == 1
    assert page.evaluate("() => document.getElementById('messages').getAttribute('role')") == "status"
    context.close()
