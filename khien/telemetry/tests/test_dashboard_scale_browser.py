"""The dashboard of the coordinator and of an organization's analyst in headless Chromium at 1366 and 360 px: the
organization's events by category in the place of the national charts, its warnings awaiting an answer, and the
alert figure at its cap ("more than …") kept through the live refresh. Screenshots:
test-artifacts/screenshots/telemetry_dashboard_scale_*.png."""
import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.intel.models import EarlyWarning, TargetReason, WarningTarget
from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)
from khien.telemetry.models import HIGH_SEVERITY, Alert, HourlyCount
from khien.telemetry.tests.test_capped_counts import severe  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_the_dashboard_of_an_organization_and_of_the_coordinator(live_server, flushable_audit_log, severe, browser):
    world = severe  # noqa: F811
    now = timezone.now()
    for hours in range(0, 30, 3):
        for org, category, n in ((world.ministry, "malware", 30), (world.ministry, "network", 12),
                                 (world.department, "authentication", 8), (world.province, "email", 50)):
            HourlyCount.objects.create(organization=org, category=category, severity=HIGH_SEVERITY,
                                       hour=(now - dt.timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0),
                                       count=n + hours)
    warning = EarlyWarning.objects.create(title="Cảnh báo sớm", organization=world.ncsc, created_by=world.coordinator)
    WarningTarget.objects.create(warning=warning, organization=world.ministry, reason=TargetReason.values[0])
    assert Alert.objects.filter(organization=world.ministry).count() == 8  # above the lowered cap (5)
    base = live_server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for who in ("analyst", "coordinator"):
        for width, name in ((1366, "wide"), (360, "phone")):
            context = browser.new_context(viewport={"width": width, "height": 900}, locale="vi-VN",
                                          timezone_id="Asia/Ho_Chi_Minh")
            page = context.new_page()
            watch = Watch(page, base)
            if who == "analyst":
                login(page, base, world.analyst)
            else:
                sign_in_coordinator(page, base, world.coordinator)
            page.goto(f"{base}/telemetry/")
            page.wait_for_load_state("networkidle")
            if who == "analyst":
                expect(page.locator('[data-tele-chart="categories"] canvas')).to_have_count(1)
                expect(page.locator("#card-provinces")).to_have_count(0)
                expect(page.locator("#card-sectors")).to_have_count(0)
                expect(page.locator('#kpi-warnings [data-kpi="warnings_awaiting"]')).to_have_text("1")
                # Its own 8 alerts, counted up to 5.
                expect(page.locator('[data-kpi="alerts_open_high"]')).to_contain_text("5")
                expect(page.locator('[data-kpi="alerts_open_high"]')).not_to_contain_text("6")
            else:
                expect(page.locator('[data-tele-chart="provinces"] canvas')).to_have_count(1)
                expect(page.locator("#card-categories")).to_have_count(0)
                expect(page.locator("#kpi-warnings")).to_have_count(0)
            # telemetry.js draws the figures from the JSON: "more than 5" (kpi_texts), not the capped count 6.
            assert "6" not in page.locator('[data-kpi="alerts_open_high"]').inner_text()
            page.screenshot(path=str(SCREENSHOTS / f"telemetry_dashboard_scale_{who}_{name}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
            assert watch.external == [] and watch.console_errors == [], (watch.external, watch.console_errors)
            context.close()
