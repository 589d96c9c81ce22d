"""The statistics page printed to PDF by headless Chromium (what "Print → Save as PDF" gives an officer): the report's
title, its period and its TLP are on paper, the TLP at the top of every page; the menu, the filters and the buttons
are not; the charts are printed whole, none cut across two pages. The PDF and its pages as PNG go to
test-artifacts/screenshots/incident_stats_print*.
"""
import datetime as dt
import io

import pytest
from django.utils import timezone

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _pdf_pages(data: bytes) -> tuple[list[str], list[int]]:
    """The text of each page and the number of images drawn on each (a chart is a canvas: one image)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return [p.extract_text() for p in reader.pages], [len(p.images) for p in reader.pages]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_printed_statistics_are_a_report(live_server, flushable_audit_log, world, report, browser):
    now = timezone.now()
    # A year of the ministry's incidents, one of them TLP:AMBER, of several kinds and severities: every chart drawn.
    kinds = [("phishing", "low"), ("infected-system", "high"), ("dos", "medium"), ("phishing", "critical")]
    for i in range(12):
        category, severity = kinds[i % len(kinds)]
        report(now=now - dt.timedelta(days=27 * i + 1), category=category, severity=severity,
               tlp="amber" if i == 5 else "clear", title=f"Sự cố thử {i}")
    report(org=world.province, user=world.other_admin, tlp="red", title="Không thuộc bộ")  # another tree's

    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    watch = Watch(page, base)
    login(page, base, world.analyst)
    page.goto(f"{base}/incidents/stats/")
    page.wait_for_selector("[data-chart=by_class] canvas")
    # Two drawn by ECharts (a canvas: one image each), three as SVG bars that link to the list (vector, no image).
    charts = page.locator(".chart:not([hidden]) canvas").count()
    assert charts == 2 and page.locator("svg.bar-links").count() == 3
    # On screen the report's header is not there; the page's own title and filters are.
    assert not page.locator("#stats-print-header").is_visible() and page.locator("#stats-filters").is_visible()
    title = page.locator("#stats-print-header .print-title").text_content().strip()
    period = _flat(page.locator("#print-period").text_content())
    # The menu's entries that the report itself does not say ("Incidents" is in its figures' names).
    content = _flat(page.locator("main").text_content())
    menu = [t.strip() for t in page.locator(".mainnav a").all_text_contents() if t.strip() not in content]
    assert len(menu) >= 5, menu
    buttons = [t.strip() for t in page.locator("#stats-filters button, #stats-filters a.btn").all_text_contents()]
    buttons.append(page.locator("#stats-list").text_content().strip())

    # What print media shows (the same rules as the PDF), kept to look at.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.emulate_media(media="print")
    assert page.locator("#stats-print-header").is_visible() and not page.locator(".topbar").is_visible()
    assert not page.locator("#stats-filters").is_visible() and not page.locator("#stats-export").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "incident_stats_print_media.png"), full_page=True)
    page.emulate_media(media=None)  # back to the browser's own: print, for page.pdf()

    pdf = page.pdf(format="A4", prefer_css_page_size=True)  # the page's own @page margins
    (SCREENSHOTS / "incident_stats_print.pdf").write_bytes(pdf)
    texts, images = _pdf_pages(pdf)
    whole = _flat(" ".join(texts))
    assert title and title in whole and period in whole
    # The marking stands on every page, not on the first alone (a page of charts handed on by itself says it too).
    assert len(texts) >= 2, "the report should run over more than one page with its five charts"
    for number, text in enumerate(texts, 1):
        assert "TLP:AMBER" in text, f"page {number} has no TLP"
        assert f"{number} / {len(texts)}" in _flat(text), f"page {number} has no page number"
    assert "TLP:RED" not in whole  # the province's incident is not counted
    for label in menu + buttons:
        assert label and label not in whole, f"“{label}” printed"
    assert "Khiên — " not in whole  # the footer
    # Each chart printed once, whole: a chart cut across two pages would be drawn on both.
    assert sum(images) == charts, images
    assert watch.console_errors == [] and watch.external == []
    context.close()
