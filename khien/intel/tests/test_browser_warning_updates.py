"""Updating an early warning in a real browser (headless Chromium through Playwright).

An ISAC operator's administrator (MIN operates FIN-ISAC) opens the warning it sent, opens "Update this warning",
writes what changed and moves the reply deadline; a target that had answered reads the update on the warning's
page, marked as answered before it. Nothing is loaded from another origin, no Content-Security-Policy violation.
Screenshots go to test-artifacts/screenshots/intel_warning_update_*.png.
"""
import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from khien.registry.tests.test_browser import Watch, browser, login  # noqa: F401 (fixture)

from .test_browser import shot
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_the_sender_updates_a_warning_and_a_target_reads_it(live_server, flushable_audit_log, land, browser):
    from khien.intel import services_warnings
    from khien.intel.models import AckState, EarlyWarning

    w = land.world
    warning = services_warnings.do_issue_warning(
        {"title": "Chiến dịch dò quét VPN", "summary": "Dò quét cổng VPN từ 45.33.1.1", "severity": "high",
         "respond_by": timezone.now() + dt.timedelta(hours=6)},
        acting_user=w.admin, isacs=[land.isac], auto_match=False)
    services_warnings.do_acknowledge(warning.targets.get(organization=w.province), AckState.NOT_AFFECTED,
                                     acting_user=w.other_admin)
    base = live_server.url
    later = timezone.localtime(timezone.now() + dt.timedelta(days=3)).replace(second=0, microsecond=0)

    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    watch = Watch(page, base)
    login(page, base, w.admin)
    page.goto(f"{base}/intel/warnings/{warning.pk}/")
    page.click("#update-box summary")
    page.fill("#id_text", "Thêm địa chỉ 45.33.9.9; bản vá 7.4.3 đã phát hành.")
    page.fill("#id_respond_by", later.strftime("%Y-%m-%dT%H:%M"))
    shot(page, "warning_update_form")
    page.click("#update-form button[type=submit]")
    expect(page.locator("#update-1")).to_contain_text("bản vá 7.4.3")
    expect(page.locator("#update-1 .update-deadline")).to_contain_text(later.strftime("%d/%m/%Y %H:%M"))
    expect(page.locator("#respond-by")).to_contain_text(later.strftime("%d/%m/%Y %H:%M"))
    expect(page.locator('[data-answered-before-update="PROV"]').first).to_be_visible()
    assert EarlyWarning.objects.get(pk=warning.pk).respond_by == later
    context.close()

    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    target_watch = Watch(page, base)
    login(page, base, w.other_admin)
    page.goto(f"{base}/intel/warnings/")
    expect(page.locator(f"[data-updates='{warning.pk}']")).to_be_visible()
    page.click(f"[data-updates='{warning.pk}']")
    expect(page.locator("#update-1")).to_contain_text("bản vá 7.4.3")
    expect(page.locator("#update-form")).to_have_count(0)
    expect(page.locator('#my-answer [data-answered-before-update="PROV"]')).to_be_visible()
    shot(page, "warning_update_target")
    context.close()
    for seen in (watch, target_watch):
        assert not seen.external and not seen.console_errors, (seen.external, seen.console_errors)
