"""On a 360 px phone the alerts list and a source's dead letters fit the screen: each alert's severity, status,
organization and source are in sight (not past the screen's edge), and a dead letter's raw record is readable
(not squeezed to two characters a line), its whole text folded in a box that scrolls by itself. At 1366 px the
pages stay tables."""
import json

import pytest
from django.urls import reverse

from khien.registry.tests.test_browser import SCREENSHOTS, browser, login  # noqa: F401
from khien.telemetry import services

from .test_alert_page_round1 import three_producers  # noqa: F401
from .test_matching import ecs

pytestmark = pytest.mark.browser

FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def _in_sight(page, selector) -> bool:
    """The element is visible and inside the screen's width."""
    box = page.locator(selector).first.bounding_box()
    width = page.evaluate("() => window.innerWidth")
    return box is not None and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= width + 1


def test_alert_list_and_dead_letters_fit_a_phone(live_server, flushable_audit_log, world, browser, make_source):
    source, _key = make_source(world.ministry, "ecs")
    broken = b'{"broken": "' + b"raw record with some words and a long tail " * 12
    services.ingest_batch(source, [ecs("203.0.113.7", rule="r1"), ecs("203.0.113.8", rule="r2", n=1), broken,
                                   b'not json at all'])
    base = live_server.url
    alerts, letters = reverse("telemetry:alerts"), reverse("telemetry:source_dead_letters", args=[source.name])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (360, 1366):
        context = browser.new_context(viewport={"width": width, "height": 800}, locale="vi-VN")
        page = context.new_page()
        login(page, base, world.analyst)
        assert page.goto(base + alerts).status == 200
        page.screenshot(path=str(SCREENSHOTS / f"telemetry_alerts_{width}.png"), full_page=True)
        assert page.evaluate(FITS), (width, page.evaluate("() => document.documentElement.scrollWidth"))
        for cell in ("[data-severity]", "[data-status]", "[data-organization]", "[data-source]", "td a"):
            assert _in_sight(page, f"#alert-table tbody tr {cell}"), (width, cell)
        # The tick box stays usable.
        page.locator("#alert-table tbody input[name=alerts]").first.check()

        assert page.goto(base + letters).status == 200
        page.screenshot(path=str(SCREENSHOTS / f"telemetry_dead_letters_{width}.png"), full_page=True)
        assert page.evaluate(FITS), (width, page.evaluate("() => document.documentElement.scrollWidth"))
        raw = page.locator("#dead-letter-table tr:has(details) [data-raw]").first
        assert _in_sight(page, "#dead-letter-table [data-raw]") and _in_sight(page, "#dead-letter-table [data-reason]")
        # The raw record reads as lines of text, not a column of two characters.
        assert raw.locator("code").bounding_box()["width"] >= 250, width
        page.locator("#dead-letter-table details.tele-raw summary").first.click()
        pre = page.locator("#dead-letter-table details.tele-raw pre").first
        assert pre.is_visible() and _in_sight(page, "#dead-letter-table details.tele-raw pre")
        page.screenshot(path=str(SCREENSHOTS / f"telemetry_dead_letters_{width}_open.png"), full_page=True)
        assert page.evaluate(FITS)
        if width == 1366:  # a table on a desktop: the header row is shown
            assert page.locator("#dead-letter-table thead th").first.is_visible()
            page.goto(base + alerts)
            assert page.locator("#alert-table thead th").nth(2).is_visible()
        context.close()
    assert json  # the module reads records as JSON lines


def test_an_alerts_indicator_hits_fit_a_phone(live_server, flushable_audit_log, world, browser, three_producers):
    """The hits of one event on three producers' indicators: each row names its indicator, producer and TLP; the
    one MIN's analyst may not see stays nameless; the page fits 360 px."""
    alert, ids = three_producers
    base = live_server.url
    for width in (360, 1366):
        context = browser.new_context(viewport={"width": width, "height": 800}, locale="vi-VN")
        page = context.new_page()
        login(page, base, world.analyst)
        assert page.goto(base + reverse("telemetry:alert", args=[alert.pk])).status == 200
        page.locator("#alert-hits").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"telemetry_alert_hits_{width}.png"), full_page=True)
        assert page.evaluate(FITS), (width, page.evaluate("() => document.documentElement.scrollWidth"))
        assert page.locator("#alert-hits tbody tr").count() == 3
        assert page.locator("#alert-hits tr[data-indicator=hidden]").count() == 1
        assert _in_sight(page, f"#alert-hits tr[data-indicator='{ids['ncsc']}'] .tlp")
        assert ids["red"] not in page.content()
        context.close()


def test_the_matching_badge_of_the_alerts_list_fits_a_phone(live_server, flushable_audit_log, world, browser,
                                                             three_producers):
    """A province's analyst read "1 sự kiện khớp chỉ" cut at the screen's edge: the badge wraps instead (on the narrowest phones too)."""
    base = live_server.url
    context = browser.new_context(viewport={"width": 320, "height": 800}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.analyst)
    assert page.goto(base + reverse("telemetry:alerts") + "?hits=1").status == 200
    page.screenshot(path=str(SCREENSHOTS / "telemetry_alerts_hits_320.png"), full_page=True)
    assert page.evaluate(FITS), page.evaluate("() => document.documentElement.scrollWidth")
    assert _in_sight(page, "#alert-table [data-hit-badge]")
    context.close()
