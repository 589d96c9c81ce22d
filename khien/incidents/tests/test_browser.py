"""Incident handling in a real browser (headless Chromium through Playwright).

An analyst of a department reports an incident with its observables and
shares one as a STIX indicator; the ministry's administrator assigns a
responder (who is notified) and triages it; the responder attaches evidence,
records its analysis and works the incident to resolved; the analyst seals
the evidence, closes the incident, downloads its PDF report and looks at
the statistics page (charts drawn by the local ECharts). Pages load nothing from another origin and
never violate the Content-Security-Policy; the deadline countdowns tick.
Screenshots go to test-artifacts/screenshots/incident_*.png.
"""
import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def shot(page, name):
    page.screenshot(path=str(SCREENSHOTS / f"incident_{name}.png"), full_page=True)


def test_report_assign_evidence_close(live_server, flushable_audit_log, world, make_system, browser, tmp_path):
    from khien.core.models import Notification
    from khien.incidents import content
    from khien.incidents.models import CustodyAction, Evidence, Incident, Status
    from khien.intel import services as intel_services
    from khien.intel.models import IndicatorValue

    content.load_all()
    feed = intel_services.do_create_collection(
        {"title": "Kênh chia sẻ MIN-D1", "owner": world.department, "kind": "group"}, acting_user=world.coordinator)
    system = make_system(world.department, name="Cổng thông tin điện tử")
    make_system(world.province)  # another organization's: never offered

    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm questions
    watch = Watch(page, base)

    # 1. The department's analyst reports the incident.
    login(page, base, world.dept_analyst)
    page.goto(f"{base}/incidents/")
    page.click("text=Báo cáo sự cố")
    page.wait_for_selector("#report-form")
    detected = timezone.localtime(timezone.now() - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#id_title", "Tấn công lừa đảo nhắm vào cán bộ")
    # A time of detection 30 hours ago: the 24-hour deadline is missed, the form says so and asks why.
    late = timezone.localtime(timezone.now() - dt.timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#id_detected_at", late)
    expect(page.locator("#late-field .msg-warning")).to_be_visible()
    expect(page.locator("#late-field textarea[name=late_reason]")).to_be_visible()
    page.fill("#id_detected_at", detected)
    expect(page.locator("#late-field .msg-warning")).to_have_count(0)
    page.select_option("#id_category", "phishing")
    page.select_option("#id_severity", "high")
    page.check("input[name=suspected_malicious][value=true]")
    page.check("input[name=impact_beyond_organization][value=false]")
    assert page.locator("#systems-field input[type=checkbox]").count() == 1
    page.check(f"#systems-field input[value='{system.pk}']")
    page.fill("#id_people_affected", "35")
    page.fill("#id_description", "Thư điện tử giả mạo yêu cầu đăng nhập vào trang lạ.")
    page.fill("#id_observables", "login-verify.phish.demo.khien.vn\n203.0.113.77")
    shot(page, "report_form")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#deadlines")
    incident = Incident.objects.get()
    assert incident.organization == world.department and list(incident.systems.all()) == [system]
    # (not wait_for_function: its string is evaluated in the page, which the CSP rightly forbids)
    expect(page.locator(".countdown").first).not_to_have_text("")
    first = page.inner_text(".countdown >> nth=0")
    page.wait_for_timeout(1200)
    assert page.inner_text(".countdown >> nth=0") != first  # it ticks
    assert first.startswith("còn")
    shot(page, "detail_new")

    # The observables were recorded; one is shared as a STIX indicator (TLP:GREEN) in the department's collection.
    expect(page.locator("#observables tbody tr")).to_have_count(2)
    domain = incident.observables.get(kind="domain")
    page.check(f"#share-form input[value='{domain.pk}']")
    page.select_option("#id_share-tlp", "green")
    page.select_option("#id_share-collection", str(feed.pk))
    page.click("#share-form button[type=submit]")
    # GREEN is less strict than the incident's AMBER: refused until the reporter's consent is confirmed.
    expect(page.locator("#id_share-confirm_downgrade")).to_be_visible()
    refused = [e for e in watch.console_errors if "status of 400" in e]
    assert len(refused) == 1  # the refused form's page itself (a 400), nothing else
    watch.console_errors.remove(refused[0])
    watch.failed[:] = [f for f in watch.failed if not (f.startswith("400 ") and f.endswith("/observables/share/"))]
    page.check("#id_share-confirm_downgrade")
    page.click("#share-form button[type=submit]")
    expect(page.locator(f"#obs-{domain.pk} .obs-shared .badge.tlp-green")).to_be_visible()
    assert IndicatorValue.objects.filter(kind="domain", value="login-verify.phish.demo.khien.vn").count() == 1
    expect(page.locator(f"#obs-{domain.pk} .obs-matches .badge.tlp-green")).to_be_visible()
    page.locator("#observables").screenshot(path=str(SCREENSHOTS / "incident_observables.png"))

    # ... and gives the detailed notification (the next report stage) from the same page.
    page.fill("#stage-form textarea[name=stage-services_disrupted]", "Hộp thư điện tử của đơn vị")
    page.fill("#stage-form input[name=stage-people_affected]", "35")
    page.click("#stage-form button[type=submit]")
    page.wait_for_selector("#deadlines .stage-notification .badge.ok")
    incident.refresh_from_db()
    assert incident.notified_at is not None

    # 2. The ministry's administrator assigns a responder and triages.
    context.clear_cookies()
    login(page, base, world.admin)
    page.goto(f"{base}/incidents/{incident.pk}/")
    page.select_option("#id_responder", str(world.responder_org.pk))
    page.click("#responders button[type=submit]")
    page.wait_for_selector("#responders li")
    assert Notification.objects.filter(recipient=world.responder, kind="incidents.assigned", urgent=True).exists()
    # Triage confirms or corrects the classification: the administrator raises the severity.
    expect(page.locator("#id_triage-severity")).to_have_value("high")
    page.select_option("#id_triage-severity", "critical")
    page.click("#workflow button[value=triaged]")
    page.wait_for_selector("#status.st-triaged")
    expect(page.locator("#facts .badge.sev-critical")).to_be_visible()
    expect(page.locator("#journal .ev-reclassified")).to_be_visible()
    # The list shows each incident's next deadline with a live countdown.
    page.goto(f"{base}/incidents/")
    countdown = page.locator("table.incidents .next-deadline .countdown").first
    expect(countdown).not_to_have_text("")
    page.goto(f"{base}/incidents/{incident.pk}/")

    # 3. The responder attaches evidence, records its analysis and works the incident to resolved.
    context.clear_cookies()
    login(page, base, world.responder)
    page.goto(f"{base}/incidents/{incident.pk}/")
    sample = tmp_path / "thu-gia-mao.eml"
    sample.write_bytes(b"From: it-support@example.invalid\nSubject: Xac minh tai khoan\n\nhttp://login.example.invalid/")
    page.set_input_files("#evidence-form input[type=file]", str(sample))
    page.fill("#evidence-form input[name=received_from]", "Hộp thư cán bộ MIN-D1")
    page.click("#evidence-form button[type=submit]")
    page.wait_for_selector(".evidence-item")
    evidence = Evidence.objects.get()
    page.click(f"#ev-{evidence.pk} summary")
    prefix = f"c{evidence.pk.hex[:8]}"
    page.select_option(f"#id_{prefix}-action", "analysed")
    page.fill(f"#id_{prefix}-note", "Đã trích xuất URL lừa đảo.")
    page.click(f"#ev-{evidence.pk} .custody-form button[type=submit]")
    page.wait_for_selector(f"#ev-{evidence.pk}")
    for status in ("in_response", "contained", "resolved"):
        page.click(f"#workflow button[value={status}]")
        if status == "resolved":  # the standard tasks are still open: the page lists them and asks first
            expect(page.locator("#open-tasks-confirm li").first).to_be_visible()
            page.click("#open-tasks-confirm button[type=submit]")
        page.wait_for_selector(f"#status.st-{status}")
    assert page.locator("#workflow button[value=closed]").count() == 0  # responders do not close
    page.fill("#journal textarea[name=text]", "Đã chặn tên miền lừa đảo trên cổng thư.")
    page.click("#journal button[type=submit]")
    page.wait_for_selector("#journal .ev-comment")

    # 4. The analyst seals the evidence and closes the incident.
    context.clear_cookies()
    login(page, base, world.dept_analyst)
    page.goto(f"{base}/incidents/{incident.pk}/")
    page.click(f"#ev-{evidence.pk} form.seal-form button[type=submit]")
    page.wait_for_selector(f"#ev-{evidence.pk}.sealed")
    # Closing waits for the final report, given from the same page.
    expect(page.locator("#workflow button[value=closed]")).to_be_disabled()
    expect(page.locator("#workflow .step-problem")).to_be_visible()
    page.fill("#stage-form textarea[name=stage-root_cause]", "Cán bộ bấm vào liên kết lừa đảo.")
    page.fill("#stage-form textarea[name=stage-mitigation]", "Chặn tên miền, đổi mật khẩu, tập huấn.")
    page.click("#stage-form button[type=submit]")
    page.wait_for_selector("#deadlines .stage-final .badge.ok")
    page.click("#workflow button[value=closed]")
    # The tasks the responder's resolving left open (the ministry's, the coordinator's) are listed, then cancelled.
    expect(page.locator("#open-tasks-confirm li").first).to_be_visible()
    page.click("#open-tasks-confirm button[type=submit]")
    page.wait_for_selector("#status.st-closed")
    assert page.locator("#deadlines .countdown").count() == 0 and page.locator("#stage-form").count() == 0
    page.click(f"#ev-{evidence.pk} summary")
    shot(page, "detail_closed")
    incident.refresh_from_db()
    evidence.refresh_from_db()
    assert incident.status == Status.CLOSED and evidence.sealed_at is not None
    assert [c.action for c in evidence.custody.all()] == [
        CustodyAction.RECEIVED, CustodyAction.ANALYSED, CustodyAction.SEALED]

    # The download goes through the permission-checked view.
    with page.expect_download() as download:
        page.click(f"#ev-{evidence.pk} a.evidence-name")
    assert download.value.suggested_filename == "thu-gia-mao.eml"

    # The PDF report of the incident.
    with page.expect_download() as download:
        page.click("#pdf-report")
    assert download.value.suggested_filename == f"{incident.reference}-vi.pdf"

    page.goto(f"{base}/incidents/")
    page.wait_for_selector("table.incidents")
    shot(page, "list")

    # The statistics page draws its charts (the department analyst sees one incident).
    page.click("#stats-link")
    expect(page.locator("#bars-by_month a").first).to_be_visible()
    expect(page.locator("#kpi-total .value")).to_have_text("1")
    shot(page, "stats")

    assert watch.external == [], f"external requests: {watch.external}"
    csp = [e for e in watch.console_errors if "Content Security Policy" in e or "Refused to" in e]
    assert csp == [], f"CSP violations: {csp}"
    assert watch.console_errors == [], f"console errors: {watch.console_errors}"
    assert watch.failed == [], f"failed requests: {watch.failed}"
    context.close()


def test_standard_tasks_and_task_edits(live_server, flushable_audit_log, world, browser):
    """Triage plans the standard tasks of the category; a task's person in charge and description are changed
    under "Edit" (only people who may work on it offered); the corrected category's tasks come with "Add the
    standard tasks", once."""
    from khien.incidents import content, services
    from khien.incidents.models import Incident, TaskTemplates

    content.load_all()
    incident = services.do_report_incident({
        "organization": world.department, "title": "Mã độc mã hóa dữ liệu trên máy chủ tệp",
        "detected_at": timezone.now() - dt.timedelta(hours=1), "category": "infected-system", "severity": "high",
        "suspected_malicious": True, "impact_beyond_organization": False,
        "description": "Các tệp trên máy chủ bị đổi đuôi .locked."}, acting_user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)

    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN",
                                  timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    watch = Watch(page, base)
    login(page, base, world.admin)
    page.goto(f"{base}/incidents/{incident.pk}/")
    page.click("#workflow button[value=triaged]")
    page.wait_for_selector("#status.st-triaged")
    expect(page.locator("#tasks")).to_contain_text("Cô lập các máy bị ảnh hưởng khỏi mạng")
    n = incident.tasks.count()
    assert n == len(TaskTemplates.current().for_category(incident.taxonomy, "infected-system"))
    expect(page.locator("#tasks .task-party")).to_have_count(n)
    expect(page.locator("#standard-tasks")).to_have_count(0)  # nothing missing

    task = incident.tasks.get(template_code="isolate-hosts")
    row = page.locator(f"#task-{task.pk}")
    row.locator("details.task-edit summary").click()
    prefix = f"t{task.pk.hex[:8]}"
    offered = row.locator(f"#id_{prefix}-owner option").evaluate_all("options => options.map(o => o.value)")
    assert str(world.responder.pk) in offered and str(world.auditor.pk) not in offered
    page.select_option(f"#id_{prefix}-owner", str(world.responder.pk))
    page.fill(f"#id_{prefix}-description", "Ngắt mạng máy FS01 và FS02, giữ nguyên nguồn.")
    row.locator("details.task-edit button[type=submit]").click()
    page.wait_for_selector(f"#task-{task.pk} .task-description")
    expect(page.locator(f"#task-{task.pk}")).to_contain_text(world.responder.email)
    expect(page.locator(f"#task-{task.pk}")).to_contain_text("Ngắt mạng máy FS01")
    expect(page.locator("#journal")).to_contain_text(f"Người phụ trách: — → {world.responder}")  # named

    # The category corrected to phishing: its tasks are offered, added once.
    page.click("#classification summary")
    page.select_option("#id_cls-category", "phishing")
    page.fill("#id_cls-reason", "Khởi đầu từ thư lừa đảo")
    page.click("#classify-form button[type=submit]")
    page.wait_for_selector("#standard-tasks")
    page.click("#standard-tasks button[type=submit]")
    page.wait_for_selector("#tasks")
    expect(page.locator("#standard-tasks")).to_have_count(0)
    expect(page.locator("#tasks")).to_contain_text("Đề nghị gỡ bỏ, chặn trang web và tên miền lừa đảo")
    assert Incident.objects.get(pk=incident.pk).tasks.filter(template_code="report-ncsc").count() == 1
    shot(page, "standard_tasks")

    csp = [e for e in watch.console_errors if "Content Security Policy" in e or "Refused to" in e]
    assert csp == [], f"CSP violations: {csp}"
    assert watch.console_errors == [] and watch.external == [], (watch.console_errors, watch.external)
    context.close()
