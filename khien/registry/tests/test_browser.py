"""The registry in a real browser (headless Chromium through Playwright).

An analyst registers a system answering the level criteria, attaches the
dossier and submits it; an administrator of the same organization appraises
it and another approves it. Along the way the test checks that pages load nothing from
another origin and that the Content-Security-Policy is never violated.
Screenshots go to test-artifacts/screenshots/.
"""
import datetime as dt
import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

from khien.conftest import REQUIRE_SERVICES

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PASSWORD = "Khien-test-pass-2026"
LEVEL1_ANSWERS = {
    "system_kind": "internal_admin", "data_kind": "internal", "data_volume": "none",
    "served_scope": "internal", "impact": "organization",
}

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if REQUIRE_SERVICES:
            pytest.fail(f"{CHROMIUM} is missing (KHIEN_REQUIRE_SERVICES=1)")
        pytest.skip(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if REQUIRE_SERVICES:
            raise
        pytest.skip("playwright is not installed")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        try:
            yield browser
        finally:
            browser.close()



class Watch:
    """Collects requests to other origins and console errors (CSP violations among them)."""

    def __init__(self, page, origin):
        self.origin = origin
        self.external = []
        self.console_errors = []
        self.failed = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))

    def _request(self, request):
        url = urlparse(request.url)
        if url.scheme in ("data", "blob"):
            return
        if f"{url.scheme}://{url.netloc}" != self.origin:
            self.external.append(request.url)

    def _console(self, message):
        if message.type == "error" or "Content Security Policy" in message.text:
            self.console_errors.append(message.text)


def pages_wider_than_the_screen(page, base, urls) -> dict:
    """{url: [screen width, page width]} of the pages of `urls` that scroll sideways (long unbroken text that does
    not wrap inside its cell); every page must answer 200."""
    wider = {}
    for url in urls:
        assert page.goto(base + url).status == 200, url
        widths = page.evaluate("() => [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
        if widths[1] > widths[0]:
            wider[url] = widths
    return wider


def login(page, base, user):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    try:
        page.wait_for_url(f"{base}/", timeout=10000)
    except Exception:
        page.screenshot(path=str(SCREENSHOTS / "login_failed.png"))
        raise AssertionError(f"login failed at {page.url}: {page.inner_text('main')[:500]}")


def some_systems(world, make_system):
    """A few systems already on the register, so the dashboard has something to draw."""
    from khien.registry.models import LayerState, LevelStatus

    today = dt.date.today()
    in_place = LayerState.IN_PLACE
    make_system(world.ministry, approved_level=3, level_status=LevelStatus.APPROVED, layer1_status=in_place,
                layer2_status=in_place, layer3_status=in_place, layer3_assessed_on=today, layer4_status=in_place)
    make_system(world.ministry, approved_level=2, level_status=LevelStatus.APPROVED, layer1_status=in_place,
                layer2_status=LayerState.PARTIAL)
    make_system(world.department, proposed_level=3, level_status=LevelStatus.SUBMITTED, layer1_status=in_place)
    make_system(world.department, proposed_level=2, level_status=LevelStatus.RETURNED)
    make_system(world.department)
    make_system(world.province, approved_level=4, level_status=LevelStatus.APPROVED)  # not visible to the ministry


def test_register_submit_appraise_approve(live_server, flushable_audit_log, world, make_system, browser, tmp_path,
                                         head):
    from khien.registry.models import DossierFile, InformationSystem, LevelStatus

    some_systems(world, make_system)

    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = context.new_page()
    watch = Watch(page, base)
    asked = []  # submit, appraise and approve ask before they lock or decide: the user says yes
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))

    # 1. The analyst of the ministry signs in and sees the dashboard.
    login(page, base, world.analyst)
    page.wait_for_load_state("networkidle")
    assert page.locator(".kpi").count() == 5
    assert page.inner_text(".kpi >> nth=1").split()[0] == "5"  # the ministry's five systems, not the province's

    # 2. Registers a system, answering the criteria; the suggestion updates live (HTMX).
    page.goto(f"{base}/systems/new/")
    page.fill("#id_code", "MIN-CONG-DVC")
    page.fill("#id_name", "Cổng dịch vụ công của Bộ")
    page.select_option("#id_owner", label=f"{world.ministry.code} — {world.ministry.name_vi}")
    page.fill("#id_purpose", "Tiếp nhận hồ sơ trực tuyến")
    page.fill("#id_ip_ranges", "203.0.113.0/24")
    page.fill("#id_domains", "dichvucong.example.gov.vn")
    for question, option in LEVEL1_ANSWERS.items():
        page.check(f"input[name=crit_{question}][value={option}]")
    page.wait_for_selector("#suggestion strong")
    assert "1" in page.inner_text("#suggestion strong")
    page.screenshot(path=str(SCREENSHOTS / "system_form.png"), full_page=True)
    page.click("#system-form button[type=submit]")
    page.wait_for_selector("#level-status")
    system = InformationSystem.objects.get(code="MIN-CONG-DVC")
    assert system.proposed_level == 1 and system.criteria == LEVEL1_ANSWERS

    # 3. Attaches the dossier and submits it.
    dossier = tmp_path / "hoso-de-xuat.pdf"
    dossier.write_bytes(b"%PDF-1.4 ho so de xuat cap do")
    page.set_input_files("form.upload input[type=file]", str(dossier))
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("#dossier a[href*='/dossier-files/']")
    assert DossierFile.objects.filter(system=system).count() == 1
    page.click("form.step-submit button[type=submit]")
    page.wait_for_selector("#level-status.submitted")
    assert page.locator("form.step-appraise").count() == 0  # the submitter cannot appraise

    # 4. The organization's administrators appraise and approve (levels 1–2 stay with the owner), two people.
    context.clear_cookies()
    login(page, base, world.admin)
    page.goto(f"{base}/systems/{system.pk}/")
    page.fill("form.step-appraise textarea", "Hồ sơ đầy đủ, đề nghị phê duyệt cấp độ 1.")
    page.click("form.step-appraise button[type=submit]")
    page.wait_for_selector("#level-status.appraised")
    assert page.locator("form.step-approve").count() == 0  # four eyes: the appraiser does not approve
    context.clear_cookies()
    login(page, base, head)
    page.goto(f"{base}/systems/{system.pk}/")
    page.fill("form.step-approve input[name=approve-decision_number]", "125/QĐ-BTT")
    page.fill("form.step-approve input[name=approve-decision_date]", dt.date.today().isoformat())
    page.click("form.step-approve button[type=submit]")
    page.wait_for_selector("#level-status.approved")
    assert page.locator("#approved-level").count() == 1
    assert "125/QĐ-BTT" in page.inner_text("#level")
    assert page.locator("#history .timeline li").count() == 3
    assert len(asked) == 3 and all(asked)
    page.screenshot(path=str(SCREENSHOTS / "system_detail_approved.png"), full_page=True)

    system.refresh_from_db()
    assert system.level_status == LevelStatus.APPROVED and system.approved_level == 1
    assert system.decision_number == "125/QĐ-BTT"

    # 5. The dashboard of the administrator counts the approved system (charts drawn when ECharts is present).
    page.goto(f"{base}/")
    page.wait_for_load_state("networkidle")
    if page.evaluate("typeof window.echarts !== 'undefined'"):
        page.wait_for_selector("[data-chart='levels'] canvas")
        page.wait_for_timeout(500)  # let the chart animation finish before the screenshot
    assert page.inner_text(".kpi >> nth=1").split()[0] == "6"
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    assert watch.external == [], f"external requests: {watch.external}"
    csp = [e for e in watch.console_errors if "Content Security Policy" in e or "Refused to" in e]
    assert csp == [], f"CSP violations: {csp}"
    assert watch.console_errors == [], f"console errors: {watch.console_errors}"
    assert watch.failed == [], f"failed requests: {watch.failed}"
    context.close()
