"""Adding a member in a real browser (headless Chromium, 1366 px): a refused addition (an address that is a member
already, an address that is no address) opens the page at the form, its reason above the row of inputs, the inputs
still on one line."""
import pytest

from khien.registry.tests.test_browser import SCREENSHOTS, browser, login  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser


def test_a_refused_addition_is_shown_where_the_form_is(live_server, flushable_audit_log, world, browser):  # noqa: F811
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.admin)
    for email in (world.auditor.email, "khong-phai-dia-chi"):
        page.goto(f"{base}/organizations/{world.ministry.pk}/")
        form = page.locator("#add-member form")
        form.locator("input[name=email]").fill(email)
        # The browser's own check of the address would stop the second one before the server sees it.
        page.evaluate("() => document.querySelector('#add-member form').noValidate = true")
        form.locator("button[type=submit]").click()
        page.wait_for_load_state("load")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"member_add_refused_{email.split('@')[0]}.png"))
        alert = page.locator("#add-member-errors")
        inputs = [page.locator(f"#add-member form [name={name}]") for name in ("email", "full_name", "role")]
        assert alert.is_visible() and alert.bounding_box()["y"] >= 0, "the reason is in view"
        viewport = page.viewport_size["height"]
        assert all(0 <= i.bounding_box()["y"] < viewport for i in inputs), "the form is in view"
        assert alert.bounding_box()["y"] + alert.bounding_box()["height"] <= inputs[0].bounding_box()["y"]
        tops = [i.bounding_box()["y"] for i in inputs]
        assert max(tops) - min(tops) < 10, f"the inputs stay on one line: {tops}"  # (a select is 2 px taller)
    context.close()
