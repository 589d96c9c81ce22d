"""The live dashboard and the campaign list in a real browser (headless Chromium), at 390 (a phone), 1024 and 1366 px.

Coordinator walkthrough: at 1024 px the campaign list was 1157 px wide (a hash in a title, dates kept on one line),
its Status column outside the header band; on a phone the dashboard's "Open national campaigns" and "Top indicators
hit" showed only their first column (the figures out of view); the most targeted organizations read three times
"People's Committee of ..." (names cut at their end, where they differ). Screenshots go to
test-artifacts/screenshots/telemetry_walk_dashboard_*.png.
"""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.conftest import _org
from khien.core.tests.test_phone_layout_browser import sign_in_coordinator
from khien.registry.models import Organization
from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser  # noqa: F401 (fixture)
from khien.telemetry.models import Campaign, CampaignKind, HourlyCount

pytestmark = pytest.mark.browser

WIDTHS = {390: 844, 1024: 768, 1366: 900}
HASH = "6a6a36c9e950cf69d3e723afb9e77213c23a8920d5bf1a6d43f904e11f2fa9bb"
URL = "http://cap-nhat-vpn.demo-khien.vn/tai-ve/ban-cap-nhat-moi-nhat/cap-nhat-phien-ban-2026.exe"
# Names alike up to their last words, as the people's committees of the provinces are.
ALIKE = "Ủy ban nhân dân thành phố trực thuộc trung ương "

# Every cell of the first row: inside the screen, and on a phone named by its column (the ::before of .tele-stack).
CELLS = """selector => {
  const width = document.documentElement.clientWidth;
  const row = document.querySelector(selector);
  return [...row.cells].map(td => {
    const box = td.getBoundingClientRect();
    return {label: td.dataset.label || "", before: getComputedStyle(td, "::before").content,
            inside: box.left >= -1 && box.right <= width + 1 && box.width > 0, text: td.innerText.trim()};
  });
}"""

TARGETED = """() => {
  const axis = echarts.getInstanceByDom(document.querySelector('[data-tele-chart=targeted]')).getOption().yAxis[0];
  return axis.data.map((name, i) => [name, axis.axisLabel.formatter(name, i)]);
}"""


def _data():
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for i, place in enumerate(("Hà Nội", "Hải Phòng", "Đà Nẵng")):
        org = _org(f"UBND-{i}", "province")
        Organization.objects.filter(pk=org.pk).update(name_vi=ALIKE + place, name_en=ALIKE + place)
        HourlyCount.objects.create(organization=org, hour=hour, category="", severity=8, count=30 - i)
    for i, value in enumerate((HASH, URL, "hoadon-dientu.demo-khien.vn")):
        Campaign.objects.create(kind=CampaignKind.INDICATOR, key=f"indicator--{i}", title=value, value=value,
                                first_seen=now - dt.timedelta(hours=20), last_seen=now - dt.timedelta(minutes=i),
                                organization_count=11, count=178 + i)


def test_the_dashboard_and_the_campaign_list_fit_each_width(live_server, flushable_audit_log, world, browser):
    _data()
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    watch = Watch(page, base)
    sign_in_coordinator(page, base, world.coordinator)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wider, cut, unnamed = {}, {}, {}
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, url, row in (("dashboard", reverse("telemetry:dashboard"), "#tele-campaigns tr"),
                               ("campaigns", reverse("telemetry:campaigns"), "#campaign-table tbody tr")):
            assert page.goto(base + url).status == 200
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(SCREENSHOTS / f"telemetry_walk_dashboard_{name}_{width}.png"), full_page=True)
            screen, page_width = page.evaluate(
                "() => [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
            if page_width > screen:
                wider[(name, width)] = page_width
            cells = page.evaluate(CELLS, row)
            if not all(c["inside"] for c in cells):
                cut[(name, width)] = [c["text"] for c in cells if not c["inside"]]
            if width == 390:  # stacked: each figure after its column's name (the first cell is the row's title)
                missing = [c["text"] for c in cells[1:] if not c["label"] or c["before"] != f'"{c["label"]}"']
                if missing:
                    unnamed[name] = missing
            if name == "campaigns":
                table = page.locator("#campaign-table").bounding_box()
                band = page.locator(".tele-tabs").bounding_box()
                assert table["x"] + table["width"] <= band["x"] + band["width"] + 1, (width, table, band)
    assert not wider, f"pages wider than the screen: {wider}"
    assert not cut, f"cells out of view: {cut}"
    assert not unnamed, f"stacked cells without their column's name: {unnamed}"

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + reverse("telemetry:dashboard"))
    page.wait_for_load_state("networkidle")
    if page.evaluate("typeof window.echarts") == "undefined":
        pytest.skip("ECharts is not installed (make setup-dev): the dashboard shows tables, not charts")
    labels = page.evaluate(TARGETED)
    # The bars are labelled by the organizations' codes, whole and told apart even at 390 px; the full names (alike
    # but for their ends) are in the figures table under the chart.
    assert sorted(shown for _full, shown in labels) == ["UBND-0", "UBND-1", "UBND-2"], labels
    table = page.content()  # the figures table, folded under the chart
    assert all(ALIKE + place in table for place in ("Hà Nội", "Hải Phòng", "Đà Nẵng"))
    assert not watch.console_errors, watch.console_errors
