"""The incident page in a browser: long unbroken text in the report card wraps inside the card (a pasted phishing URL
in the description was clipped at its edge), and a printed incident page keeps its header (title, reference, status,
TLP) and leaves out the input forms."""
import pytest
from django.urls import reverse

from khien.registry.tests.test_browser import SCREENSHOTS, browser, login  # noqa: F401

pytestmark = pytest.mark.browser

URL = "http://phishing.example.invalid/" + "a" * 250

# Each value of the report card that runs past the card's right edge, or scrolls inside itself.
OVERFLOWING = """() => {
  const card = document.querySelector('#facts').getBoundingClientRect();
  return [...document.querySelectorAll('#facts dl.facts dd')]
    .filter(dd => dd.getBoundingClientRect().right > card.right + 1 || dd.scrollWidth > dd.clientWidth + 1)
    .map(dd => dd.textContent.slice(0, 40));
}"""

VISIBLE = "(nodes) => nodes.filter(n => n.getClientRects().length > 0).length"  # shown: not under display: none


def test_long_unbroken_text_wraps_inside_the_report_card(live_server, flushable_audit_log, world, browser, report):
    incident = report(description="Liên kết lừa đảo " + URL, services_disrupted="x" * 300)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = context.new_page()
    login(page, live_server.url, world.analyst)
    page.goto(live_server.url + reverse("incidents:incident_detail", args=[incident.pk]))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "incident_long_description.png"), full_page=True)
    assert page.evaluate(OVERFLOWING) == []
    context.close()


def test_a_printed_incident_page_keeps_its_header_without_the_forms(live_server, flushable_audit_log, world, browser,
                                                                     report):
    incident = report(tlp="red")
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = context.new_page()
    login(page, live_server.url, world.analyst)
    page.goto(live_server.url + reverse("incidents:incident_detail", args=[incident.pk]))
    assert page.locator("main form").count() >= 5  # on screen: the workflow, tasks, observables, evidence, journal
    page.emulate_media(media="print")
    assert page.locator("h1").is_visible() and incident.reference in page.locator("h1").inner_text()
    assert page.locator("#status-badges .badge").first.is_visible()
    assert page.locator(".incident-head .badge.tlp-red").is_visible()
    assert page.locator("#pdf-report").is_hidden()
    assert page.eval_on_selector_all("main form", VISIBLE) == 0
    assert page.eval_on_selector_all("main button", VISIBLE) == 0
    page.pdf(path=str(SCREENSHOTS / "incident_print.pdf"))
    context.close()
