"""The sign-in box on a phone (390 px): the password field is as wide as the e-mail field above it (it kept the
browser's default width, a third narrower, as every password, URL and phone-number field of the forms did).
Screenshot: test-artifacts/screenshots/login-390.png."""
import pytest

from khien.core.tests.test_header_browser import SCREENSHOTS, browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_the_password_field_is_as_wide_as_the_email_field_on_a_phone(live_server, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(live_server.url + "/accounts/login/")
    email = page.locator("input[name=username]").bounding_box()
    password = page.locator("input[name=password]").bounding_box()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "login-390.png"))
    assert abs(password["width"] - email["width"]) <= 1, (email, password)
    assert email["x"] + email["width"] <= 390
