"""The one-person security officer's walkthrough in a real browser (headless Chromium through Playwright): the
Assign button asks first (dismissed, nothing is assigned; confirmed, the officer may remove it again); a file over
the size limit comes back at the evidence form, with the reason at the file field, in view."""
import pytest
from playwright.sync_api import expect

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_assign_asks_first_and_a_file_too_large_comes_back_at_the_form(live_server, flushable_audit_log, world,
                                                                        browser, settings, tmp_path):  # noqa: F811
    from khien.incidents import content
    from khien.incidents.models import Evidence

    content.load_all()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.KHIEN_MAX_UPLOAD_BYTES = 2**20
    incident = _report(world)
    big = tmp_path / "thu-lua-dao.eml"
    big.write_bytes(b"x" * (2**20 + 1))

    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    answers, accept = [], []
    page.on("dialog", lambda dialog: (answers.append(dialog.message),
                                      dialog.accept() if accept else dialog.dismiss()))
    watch = Watch(page, base)
    login(page, base, world.admin)
    page.goto(f"{base}/incidents/{incident.pk}/")

    # Assign, then think again: the question is asked and, dismissed, nothing is assigned.
    page.select_option("#id_responder", str(world.responder_org.pk))
    page.click("#assign-form button[type=submit]")
    assert len(answers) == 1 and "e-mail" in answers[0]
    assert not incident.assignments.exists()
    # Confirmed: assigned; the administrator who assigned it may remove it, and the page says who removes what.
    accept.append(True)
    page.select_option("#id_responder", str(world.responder_org.pk))
    page.click("#assign-form button[type=submit]")
    page.wait_for_selector("#assignment-RESP details.unassign")
    expect(page.locator("#unassign-rule")).to_be_visible()
    page.locator("#responders").screenshot(path=str(SCREENSHOTS / "incident_assigned_by_the_officer.png"))
    assert incident.assignments.get().assigned_by == world.admin

    # A file over the limit: the page comes back at the evidence form, the reason at the file field, in view.
    page.set_input_files("#evidence-form input[type=file]", str(big))
    page.click("#evidence-form button[type=submit]")
    page.wait_for_selector("#evidence-form .field.has-error")
    assert page.url.endswith("#evidence-add")
    error = page.locator("#evidence-form .field.has-error").first
    expect(error.locator("input[type=file]")).to_have_count(1)
    expect(error).to_contain_text("1 MB")
    expect(error).to_be_in_viewport()
    page.screenshot(path=str(SCREENSHOTS / "incident_evidence_too_large.png"))
    assert not Evidence.objects.exists()
    # The browser logs the refusal's status (413) itself; nothing else went wrong (no CSP violation).
    assert not watch.external and [e for e in watch.console_errors if "status of 413" not in e] == []
    context.close()


def _report(world):
    import datetime as dt

    from django.utils import timezone

    from khien.incidents import services

    return services.do_report_incident({
        "organization": world.ministry, "title": "Thư lừa đảo gửi cán bộ", "category": "infected-system",
        "severity": "medium", "suspected_malicious": True, "impact_beyond_organization": False,
        "description": "Thư giả mạo.", "detected_at": timezone.now() - dt.timedelta(hours=2)},
        acting_user=world.analyst)
