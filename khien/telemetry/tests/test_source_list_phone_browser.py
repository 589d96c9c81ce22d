"""On a 360 px phone the sources page fits the screen: each source is a small block whose status, accepted and
rejected records and dead letters are named and in sight (not past the screen's edge, as the table's columns
were), and a source sending only refused records says so, with the way to its dead letters. At 1366 px the list
stays a table."""
import pytest
from django.urls import reverse

from khien.registry.tests.test_browser import SCREENSHOTS, browser, login  # noqa: F401
from khien.telemetry import services

from .conftest import sample_lines

pytestmark = pytest.mark.browser

FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def _in_sight(page, selector) -> bool:
    """The element is visible and inside the screen's width."""
    box = page.locator(selector).first.bounding_box()
    width = page.evaluate("() => window.innerWidth")
    return box is not None and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= width + 1


def test_the_sources_page_fits_a_phone(live_server, flushable_audit_log, world, browser, make_source,
                                       make_system):
    live, _key = make_source(world.ministry, "wazuh", name="wazuh-ministry-main-siem")
    services.ingest_batch(live, sample_lines("wazuh_alerts.ndjson") + [b"{broken"])
    misfiled, _key = make_source(world.ministry, "suricata", name="ids-misfiled")  # sent Wazuh alerts
    services.ingest_batch(misfiled, sample_lines("wazuh_alerts.ndjson"))
    make_source(world.ministry, "cef", name="firewall-never")
    system = make_system(world.ministry, approved_level=3, operational_status="in_operation")
    services.do_set_source_systems(misfiled, [system], acting_user=world.admin)
    base = live_server.url
    sources = reverse("telemetry:sources")
    dead_letters = reverse("telemetry:source_dead_letters", args=[misfiled.name])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (360, 1366):
        context = browser.new_context(viewport={"width": width, "height": 800}, locale="vi-VN")
        page = context.new_page()
        login(page, base, world.analyst)
        assert page.goto(base + sources).status == 200
        page.screenshot(path=str(SCREENSHOTS / f"telemetry_sources_{width}.png"), full_page=True)
        assert page.evaluate(FITS), (width, page.evaluate("() => document.documentElement.scrollWidth"))
        row = f"#source-table tbody tr:has(a[href$='/{misfiled.name}/'])"
        for cell in ("[data-status]", "[data-accepted]", "[data-rejected]", "[data-rejecting-advice]", "td a"):
            assert _in_sight(page, f"{row} {cell}"), (width, cell)
        assert page.locator(f"{row} [data-status]").get_attribute("data-status") == "rejecting"
        assert page.locator(f"{row} [data-rejecting-advice]").get_attribute("href") == dead_letters
        assert _in_sight(page, "#source-table tbody tr:has(a[href$='/wazuh-ministry-main-siem/']) [data-rejected]")
        # The systems whose sources send only refused records: their call, named and in sight, and the way to
        # the dead letters.
        assert _in_sight(page, "#monitoring-rejecting tbody td a") and _in_sight(page, "#monitoring-rejecting-dead-letters a")
        if width == 360:  # each figure named by its column
            label = page.evaluate("(el) => getComputedStyle(el, '::before').content",
                                  page.locator(f"{row} [data-rejected]").element_handle())
            assert label.strip('"') in ("Đã từ chối", "Rejected")
        else:  # a table on a desktop: the header row is shown
            assert page.locator("#source-table thead th").nth(8).is_visible()
        page.locator(f"{row} [data-rejecting-advice]").click()
        page.wait_for_url(f"{base}{dead_letters}")
        context.close()
