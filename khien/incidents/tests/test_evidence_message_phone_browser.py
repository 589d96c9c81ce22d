"""On a phone (390 px) the message after keeping evidence names its SHA-256, 64 characters without a space: it
wrapped nowhere, ran out of its box and made the whole page 604 px wide (a hospital's on-call officer's walkthrough).
Screenshot: test-artifacts/screenshots/evidence-kept-390.png."""
import pytest
from django.conf import settings
from django.urls import reverse

from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.registry.tests.test_browser import SCREENSHOTS, browser  # noqa: F401 (fixture)

from .conftest import give_reports

pytestmark = pytest.mark.browser


def test_the_evidence_message_wraps_on_a_phone(live_server, flushable_audit_log, world, browser, report, tmp_path):
    incident = give_reports(report(), world.analyst)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "vi", "url": live_server.url}])
    page = context.new_page()
    sign_in_coordinator(page, live_server.url, world.coordinator)
    page.goto(live_server.url + reverse("incidents:incident_detail", args=[incident.pk]))
    evidence = tmp_path / "syslog-his-app01.log"
    evidence.write_text("Dec  6 02:11:09 his-app01 sshd[811]: Failed password for root\n" * 50)
    page.set_input_files("#evidence-form input[type=file]", str(evidence))
    page.click("#evidence-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    message = page.locator(".messages li").first
    assert "SHA-256" in message.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "evidence-kept-390.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = message.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
