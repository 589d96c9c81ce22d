"""The incident page on a phone (390×844) and a laptop (1366×900), in English as the coordinator walked it: the page
never scrolls sideways (it was 461 px wide on a 390 px phone), a wide table scrolls inside its own box and says so,
the tasks' status forms are in sight, and no date is cut short. Screenshots: test-artifacts/screenshots/
incident-coord-*.png."""
import pytest
from django.conf import settings
from django.urls import reverse

from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.incidents import services
from khien.registry.tests.test_browser import SCREENSHOTS, browser  # noqa: F401 (fixture)

from .conftest import give_reports

pytestmark = pytest.mark.browser

# What runs past the right edge of the screen outside a scroll box (what made the page scroll sideways).
PAST_THE_EDGE = """() => {
  const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('main *')]
    .filter(el => el.getClientRects().length && el.getBoundingClientRect().right > w + 1
            && !(el.parentElement && el.parentElement.closest('.table-scroll')))
    .slice(0, 10).map(el => el.tagName + '.' + el.className + '#' + el.id);
}"""

# Each scroll box: whether its table is wider than it, and whether the hint above it shows (incidents.css).
BOXES = """() => [...document.querySelectorAll('.table-scroll')].map(box => {
  const hint = getComputedStyle(box, '::before');
  return {section: box.closest('section').id, wider: box.scrollWidth > box.clientWidth + 1,
          hint: hint.visibility === 'visible' && parseFloat(hint.height) > 0 ? hint.content : ''};
})"""

# Dates of the deadlines and the tasks that do not show whole: wider than their cell, or beyond the visible part of
# their box.
CUT_DATES = """() => [...document.querySelectorAll('#deadlines td.when > .nowrap, #tasks td.when > .nowrap')]
  .filter(span => {
    const r = span.getBoundingClientRect(), cell = span.closest('td').getBoundingClientRect();
    const box = (span.closest('.table-scroll') || document.querySelector('main')).getBoundingClientRect();
    return r.right > cell.right + 1 || r.right > box.right + 1 || r.right > document.documentElement.clientWidth;
  }).map(span => span.textContent)"""


def _busy_incident(world, report):
    """A triaged incident with its reports given, a responder, its standard tasks, observables and a long comment."""
    incident = report(observables=[("domain", "hoadon-dientu.demo-khien.vn"), ("ipv4", "198.51.100.23")])
    incident = give_reports(incident, world.analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_triage(incident, {"category": "infected-system", "severity": "high", "tlp": "amber"},
                       acting_user=world.coordinator)
    services.do_add_comment(incident, "Đã cô lập máy chủ thư điện tử. " * 20, acting_user=world.coordinator)
    return incident


@pytest.mark.parametrize("width, height", [(390, 844), (1366, 900)])
def test_walk_coord_incident_page_fits_the_screen(live_server, flushable_audit_log, world, browser, report,
                                                   width, height):
    incident = _busy_incident(world, report)
    assert incident.tasks.exists()
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}])
    page = context.new_page()
    sign_in_coordinator(page, live_server.url, world.coordinator)
    page.goto(live_server.url + reverse("incidents:incident_detail", args=[incident.pk]))
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"incident-coord-{width}.png"), full_page=True)

    assert page.evaluate(PAST_THE_EDGE) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    boxes = page.evaluate(BOXES)
    assert boxes
    for box in boxes:  # a box that scrolls says so; one that does not, says nothing
        assert ("Scroll sideways" in box["hint"]) == box["wider"], box
    assert page.evaluate(CUT_DATES) == []
    # Each task's status form is on the screen, without scrolling sideways.
    for button in page.locator("#tasks table.tasks form button").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    if width == 1366:
        assert not any(b["wider"] for b in boxes), boxes  # a laptop shows every table whole
    else:
        # Scrolled to its end, a box's hint gives way (hidden in place: the table does not jump).
        wide = page.locator("#observables .table-scroll")
        assert "Scroll sideways" in page.evaluate(BOXES)[[b["section"] for b in boxes].index("observables")]["hint"]
        height = wide.bounding_box()["height"]
        wide.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
        page.wait_for_timeout(200)
        assert page.evaluate(BOXES)[[b["section"] for b in boxes].index("observables")]["hint"] == ""
        assert wide.bounding_box()["height"] == height
        page.screenshot(path=str(SCREENSHOTS / "incident-coord-390-scrolled.png"), full_page=True)
    context.close()
