"""Keyboard and 1024-px laptops, in headless Chromium: the first Tab reaches a "skip to content" link that moves
the focus past the header; a focused control has a ring that shows (3 px, not the browser's 1 px) on the page,
on a red button and on the dark-red header; the main lists and the home page fit a 1024-px screen (a long
dossier file name in the audit log, long incident titles, a system code, two monitoring badges)."""
import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from khien.registry import services
from khien.registry.tests.test_browser import (  # noqa: F401
    SCREENSHOTS, browser, login, pages_wider_than_the_screen, some_systems,
)

pytestmark = pytest.mark.browser

LONG_NAME = "bien-ban-tham-dinh-ho-so-de-xuat-cap-do-" + "x" * 80 + ".pdf"


def _ring(page):
    return page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }""")


def test_the_first_tab_skips_to_the_content_and_focus_shows(live_server, flushable_audit_log, world, browser):
    base = live_server.url
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.admin)
    page.goto(base + reverse("registry:system_list"))
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    link = page.locator("a.skip-link").bounding_box()
    assert link["y"] >= 0 and link["height"] > 10  # in sight once focused
    page.screenshot(path=str(SCREENSHOTS / "skip_link_1024.png"), clip={"x": 0, "y": 0, "width": 600, "height": 120})
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the next stop is in the page, not the header's first link
    assert page.evaluate("() => !!document.activeElement.closest('main') && !document.activeElement.closest('header')")
    style, width, colour = _ring(page)
    assert style == "solid" and width >= 2 and colour == "rgb(29, 78, 216)"
    # A red button: the same ring, outside the button.
    page.focus("main .toolbar a.btn:not(.secondary)") if page.locator("main .toolbar a.btn:not(.secondary)").count() \
        else page.focus("main button.btn")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert _ring(page)[1] >= 2
    # The header: a gold ring on the dark red.
    page.focus("header .mainnav a")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    style, width, colour = _ring(page)
    assert page.evaluate("() => !!document.activeElement.closest('header')")
    assert width >= 2 and colour == "rgb(253, 224, 71)"
    page.screenshot(path=str(SCREENSHOTS / "header_focus_1024.png"), clip={"x": 0, "y": 0, "width": 1024, "height": 120})
    context.close()


def test_the_main_lists_fit_a_1024_pixel_screen(live_server, flushable_audit_log, world, make_system, browser):
    from khien.incidents import content
    from khien.incidents import services as incidents

    some_systems(world, make_system)
    system = services.do_create_system({"code": "HT-BTC-DEMO-001", "name": "Hệ thống quản lý văn bản điều hành",
                                        "owner": world.ministry}, acting_user=world.admin)
    services.do_add_dossier_file(system, SimpleUploadedFile(LONG_NAME, b"%PDF-1.4"), acting_user=world.admin)
    content.load_all()
    for n in range(3):
        incidents.do_report_incident({
            "organization": world.ministry, "detected_at": timezone.now() - dt.timedelta(hours=1 + n),
            "title": f"Cảnh báo “Ransomware note written to several shares” tại Bộ Công an và các đơn vị {n}",
            "category": "infected-system", "severity": "high", "suspected_malicious": True,
            "impact_beyond_organization": False, "description": "Mã độc mã hóa tệp."}, acting_user=world.analyst)
    base = live_server.url
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.admin)
    urls = [reverse("core:audit"), reverse("incidents:incident_list"), reverse("telemetry:alerts"),
            reverse("registry:system_list"), reverse("registry:system_list") + "?awaiting_me=appraise",
            reverse("registry:dashboard")]
    wider = pages_wider_than_the_screen(page, base, urls)
    page.goto(base + reverse("core:audit"))
    page.screenshot(path=str(SCREENSHOTS / "audit_1024.png"), full_page=True)
    assert not wider, f"pages wider than a 1024-px screen: {wider}"
    # A system code stays on one line.
    page.goto(base + reverse("registry:system_list"))
    code = page.locator("td.code a", has_text="HT-BTC-DEMO-001")
    assert code.bounding_box()["height"] < 30
    # The incident titles are not one word per line: their column has room for several words.
    page.goto(base + reverse("incidents:incident_list"))
    page.screenshot(path=str(SCREENSHOTS / "incidents_1024.png"))
    assert page.locator("table.list td.wrap-long").first.bounding_box()["width"] >= 120
    context.close()
