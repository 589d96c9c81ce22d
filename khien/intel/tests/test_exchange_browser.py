"""Exchange pages in a real browser: a rejected CSV shows every bad row, a good one imports, an export downloads.

Nothing is loaded from another origin and the Content-Security-Policy is never violated.
"""
import pytest
from playwright.sync_api import expect

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_import_report_and_export_download(live_server, flushable_audit_log, sharing, browser, tmp_path):
    from khien.intel.models import StixObject, Tlp

    world = sharing.world
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh", accept_downloads=True)
    page = context.new_page()
    watch = Watch(page, base)
    login(page, base, world.analyst)

    before = StixObject.objects.count()
    page.goto(f"{base}/intel/exchange/")
    page.set_input_files("#id_file", files=[{"name": "iocs.csv", "mimeType": "text/csv",
                                             "buffer": b"type;value;tlp\nipv4;203.0.113.300;green\nmd5;xyz;\n"}])
    page.select_option("#id_format", "csv")
    page.select_option("#id_collection", str(sharing.collection.pk))
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-rejected")).to_be_visible()
    expect(page.locator("#import-rejected tbody tr")).to_have_count(2)
    expect(page.locator("#import-rejected")).to_contain_text("203.0.113.300")
    page.screenshot(path=str(SCREENSHOTS / "intel_exchange_rejected.png"), full_page=True)
    assert StixObject.objects.count() == before

    page.set_input_files("#id_file", files=[{"name": "iocs.csv", "mimeType": "text/csv",
                                             "buffer": b"type;value;tlp\nipv4;203.0.113.30;green\n"}])
    page.select_option("#id_format", "csv")
    page.select_option("#id_collection", str(sharing.collection.pk))
    page.click("#import-form button[type=submit]")
    expect(page.locator("#report-created")).to_have_text("1")
    assert StixObject.objects.filter(indicator_values__value="203.0.113.30", tlp=Tlp.GREEN).exists()
    # Once sent, a long import says so and cannot be sent twice (a submit event alone: nothing is uploaded).
    page.evaluate("document.getElementById('import-form').dispatchEvent("
                  "new Event('submit', {bubbles: true, cancelable: true}))")
    expect(page.locator("#import-form [data-busy-status]")).to_contain_text("…")
    expect(page.locator("#import-form button[type=submit]")).to_be_disabled()
    assert page.get_attribute("#import-form", "aria-busy") == "true"

    page.goto(f"{base}/intel/exchange/export/")
    page.select_option("#id_format", "csv")
    page.check("#export-form input[value=green]")
    with page.expect_download() as info:
        page.click("#export-form button[type=submit]")
    target = tmp_path / "export.csv"
    info.value.save_as(target)
    text = target.read_text(encoding="utf-8")
    assert "203.0.113.30" in text and sharing.ids[Tlp.GREEN] in text and sharing.ids[Tlp.AMBER] not in text

    assert watch.external == [], f"external requests: {watch.external}"
    errors = [e for e in watch.console_errors if "status of 422" not in e]  # the rejected import's page
    assert errors == [], f"console errors: {errors}"
    assert not any("Content Security Policy" in e or "Refused to" in e for e in watch.console_errors)
    assert [f for f in watch.failed if "/intel/exchange/" not in f] == [], watch.failed  # the 422 page is expected
    context.close()
