"""The export form of the exchange pages at 1024 px, as a banking-ISAC analyst saw it: the fields are spaced, the
date field is named as a date and lines up with the other fields. Screenshots go to test-artifacts/screenshots/."""
import pytest

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _analyst_at_1024(base, sharing, browser):
    """The ISAC analyst signed in, at 1024 px in Vietnamese (Hà Nội time), every request watched for errors."""
    context = browser.new_context(viewport={"width": 1024, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    Watch(page, base)
    login(page, base, sharing.world.analyst)
    return context, page


def test_export_form_at_1024_is_spaced_and_aligned(live_server, flushable_audit_log, sharing, browser):
    base = live_server.url
    context, page = _analyst_at_1024(base, sharing, browser)
    page.goto(f"{base}/intel/exchange/export/")
    page.screenshot(path=str(SCREENSHOTS / "intel_exchange_export_1024.png"), full_page=True)
    label = page.locator("label[for=id_added_since]").inner_text()
    assert "ngày" in label.lower()
    # every field of the form is apart from the next one
    boxes = page.evaluate("""() => Array.from(document.querySelectorAll('#export-form .form-grid > .field'))
        .map(e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom, r.left]; })""")
    assert len(boxes) >= 6
    gaps = [b[0] - a[1] for a, b in zip(boxes, boxes[1:])]
    assert min(gaps) >= 8, gaps
    # the inputs line up on the left: the date field is not out of line
    lefts = page.evaluate("""() => ['id_format', 'id_collection', 'id_added_since', 'id_ids']
        .map(i => document.getElementById(i).getBoundingClientRect().left)""")
    assert max(lefts) - min(lefts) < 1, lefts
    context.close()


def test_a_refused_import_keeps_the_format_and_asks_for_the_file_again(live_server, flushable_audit_log, sharing,
                                                                        browser):
    base = live_server.url
    context, page = _analyst_at_1024(base, sharing, browser)
    page.goto(f"{base}/intel/exchange/")
    page.set_input_files("#id_file", files=[{"name": "event.json", "mimeType": "application/json",
                                             "buffer": b'{"Event": {"info": "x", "Attribute": []}}'}])
    page.select_option("#id_format", "stix")
    page.select_option("#id_collection", str(sharing.collection.pk))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-form .field.has-error, .errors, [role=alert]")
    page.screenshot(path=str(SCREENSHOTS / "intel_exchange_wrong_format_1024.png"), full_page=True)
    assert page.input_value("#id_format") == "stix"
    assert page.input_value("#id_collection") == str(sharing.collection.pk)
    help_text = page.locator("#import-form .field:has(#id_file) .help")
    assert help_text.count() == 1 and help_text.inner_text().strip()
    context.close()
