"""The events page on a phone (360 px): each event a small block with every column named (rule, severity,
addresses), not a 940 px table cut at the screen's edge. Screenshot: telemetry_events_360.png."""
import datetime as dt

import pytest
from playwright.sync_api import expect

from khien.registry.tests.test_browser import Watch, browser, login  # noqa: F401 (fixture)
from khien.telemetry import services

from .conftest import sample_lines
from .test_browser import shot

pytestmark = pytest.mark.browser


def test_the_events_page_stacks_each_event_on_a_phone(live_server, flushable_audit_log, world, make_source, browser):
    source, _key = make_source(org=world.ministry, format="suricata")
    services.ingest_batch(source, sample_lines("suricata_eve.ndjson"))
    base = live_server.url
    page = browser.new_page(viewport={"width": 360, "height": 800}, locale="vi-VN")
    Watch(page, base)
    login(page, base, world.analyst)
    from khien.telemetry.models import Event

    first = Event.objects.order_by("time").first().time  # the samples' own times, not the last 24 hours
    since, until = first.strftime("%Y-%m-%dT%H:%M"), (first + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.goto(f"{base}/telemetry/events/?since={since}&until={until}")
    row = page.locator("#event-table tbody tr[data-event]").first
    expect(row).to_be_visible()
    # Nothing wider than the screen; the labels are read from the cells.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for label in ("Quy tắc", "Mức độ nghiêm trọng", "Địa chỉ nguồn", "Địa chỉ đích"):
        cell = row.locator(f"td[data-label='{label}']")
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, label
    row.locator("details summary").click()
    expect(row.locator("pre")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "events_360")
    page.close()
