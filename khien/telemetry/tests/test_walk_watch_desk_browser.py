"""The events page in a real browser keeps a date-only range it was opened with: its fields show it, and a search
by another filter keeps it (before, the `datetime-local` fields showed nothing and the next search dropped it)."""
import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from khien.registry.tests.test_browser import Watch, browser, login  # noqa: F401 (fixture)
from khien.telemetry import services

from .test_matching import ecs

pytestmark = pytest.mark.browser


def test_a_date_only_range_stays_through_another_search(live_server, flushable_audit_log, world, make_source,
                                                       browser):
    day = timezone.localdate() - dt.timedelta(days=2)
    afternoon = timezone.make_aware(dt.datetime.combine(day, dt.time(15, 0)))
    source, _key = make_source(org=world.ministry, format="ecs")
    services.ingest_batch(source, [ecs("203.0.113.7", rule="that-day", when=afternoon),
                                   ecs("203.0.113.8", rule="that-day-too", when=afternoon, n=1),
                                   ecs("203.0.113.7", rule="other-day", when=afternoon - dt.timedelta(days=1))])
    base = live_server.url
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/telemetry/events/?since={day.isoformat()}&until={day.isoformat()}")
    expect(page.locator("#event-table tbody tr[data-event]")).to_have_count(2)
    expect(page.locator("#event-search input[name=since]")).to_have_value(f"{day.isoformat()}T00:00")
    expect(page.locator("#event-search input[name=until]")).to_have_value(
        f"{(day + dt.timedelta(days=1)).isoformat()}T00:00")
    page.fill("#event-search input[name=ip]", "203.0.113.7")
    page.click("#event-search button[type=submit]")
    expect(page.locator("#event-table tbody tr[data-event]")).to_have_count(1)
    query = parse_qs(urlparse(page.url).query)
    assert query["since"] == [f"{day.isoformat()}T00:00"] and query["until"], page.url
    assert watch.console_errors == [], watch.console_errors
