"""Accessibility of the main pages (WCAG 2.1 A and AA, as checked by axe-core) in headless Chromium.

The demo country (`khien demo`, a small one) is built, then every app's main pages are opened as the users who work
on them: the national coordinator (through the password and TOTP steps), an organization's administrator and
analyst, a responder; the login page signed out. On each, axe-core (vendored from the npm registry by
`make setup-dev`: scripts/vendor_assets.py --dev, pinned and checksummed, never served by the platform) is injected
and run; no violation of impact "serious" or "critical" may remain. Every page's faults are collected before the
assertion, so one run names them all. The page's language is the active one (lang="vi", then "en").
Screenshots of failing pages go to test-artifacts/screenshots/a11y-*.png."""
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from khien.conftest import REQUIRE_SERVICES
from khien.core.tests.test_header_browser import SCREENSHOTS, browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[3] / ".vendor-dev" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' :: ' +
                                                                       (n.failureSummary || '').split('\\n').slice(1, 2).join(''))}));
}"""


@pytest.fixture
def axe_source():
    if not AXE.exists():
        if REQUIRE_SERVICES:
            pytest.fail(f"{AXE} is missing (KHIEN_REQUIRE_SERVICES=1): run `make setup-dev`")
        pytest.skip(f"{AXE} is not installed (make setup-dev fetches it from the npm registry)")
    return AXE


def _sign_in(page, base, account, device=None):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", account.email)
    page.fill("input[name=password]", account.password)
    page.press("input[name=password]", "Enter")
    if device is not None:
        from django_otp.oath import totp

        page.wait_for_selector("input[name=token]")
        page.fill("input[name=token]", f"{totp(device.bin_key):06d}")
        page.press("input[name=token]", "Enter")
    page.wait_for_url(f"{base}/")


class SentEmpty(str):
    """A form page checked once more after sending it empty: the errors shown with their fields."""


def _pages():
    """(account role, path) pairs: every app's main pages, each as a user who works on it."""
    from khien.core.models import AuditEntry
    from khien.core.roles import Role
    from khien.incidents.models import Incident
    from khien.intel.models import Collection, CollectionKind, EarlyWarning, StixObject
    from khien.registry import demo
    from khien.registry.models import InformationSystem, Isac, Organization
    from khien.telemetry.models import Alert, AlertSource, Campaign

    by_role = {a.role: a for a in demo.ACCOUNTS}
    admin = by_role[Role.ORG_ADMIN]
    admin_org = Organization.objects.get(code=admin.org_code)
    system = InformationSystem.objects.filter(owner__path__startswith=admin_org.path).order_by("code").first()
    firsts = {name: objects.order_by(order).first() for name, objects, order in (
        ("incidents:incident_detail", Incident.objects, "-reported_at"),
        ("intel:object", StixObject.objects.filter(stix_type="indicator"), "stix_id"),
        ("telemetry:alert", Alert.objects, "-first_seen"),
        ("telemetry:source", AlertSource.objects, "name"),
        ("registry:isac_detail", Isac.objects, "pk"),
        ("intel:collection_detail", Collection.objects.filter(kind=CollectionKind.NATIONAL), "pk"),
        ("intel:warning_detail", EarlyWarning.objects, "pk"),
        ("telemetry:campaign", Campaign.objects, "pk"),
        ("core:audit_entry", AuditEntry.objects, "-seq"),
    )}
    assert system is not None and all(firsts.values()), ("the demo no longer builds", system, firsts)
    keys = {"intel:object": "stix_id", "telemetry:source": "name", "core:audit_entry": "seq"}
    coordinator = [
        reverse("registry:dashboard"), reverse("registry:organization_list"),
        reverse("registry:organization_detail", args=[admin_org.pk]), reverse("registry:system_list"),
        reverse("registry:system_detail", args=[system.pk]),
        reverse("registry:isac_list"), reverse("registry:import"),
        reverse("intel:search"), reverse("intel:indicator_create"), reverse("intel:report_create"),
        reverse("intel:collection_list"), reverse("intel:exchange"), reverse("intel:allowlist"),
        reverse("intel:warning_inbox"), reverse("intel:warning_create"),
        reverse("incidents:incident_list"), reverse("incidents:incident_create"), reverse("incidents:stats"),
        reverse("incidents:task_list"),
        reverse("telemetry:dashboard"), reverse("telemetry:alerts"), reverse("telemetry:events"),
        reverse("telemetry:sources"), reverse("telemetry:campaigns"),
        reverse("core:notifications"), reverse("core:tokens"), reverse("core:audit"),
        reverse("core:password_change"), reverse("core:totp_enroll"),
    ] + [reverse(name, args=[getattr(obj, keys.get(name, "pk"))]) for name, obj in firsts.items()]
    admin_pages = [reverse("registry:dashboard"), reverse("registry:system_list"), reverse("registry:system_create"),
                   SentEmpty(reverse("registry:system_create")),
                   reverse("registry:system_detail", args=[system.pk]), reverse("registry:system_edit", args=[system.pk]),
                   reverse("telemetry:dashboard"), reverse("telemetry:source_create"),
                   SentEmpty(reverse("telemetry:source_create")),
                   reverse("intel:warning_inbox"), reverse("core:notifications"), reverse("core:tokens")]
    analyst = [reverse("registry:dashboard"), reverse("incidents:incident_list"), reverse("incidents:incident_create"),
               SentEmpty(reverse("incidents:incident_create")), reverse("telemetry:alerts"), reverse("telemetry:events"),
               reverse("intel:search"), SentEmpty(reverse("intel:indicator_create"))]
    responder = [reverse("registry:dashboard"), reverse("incidents:incident_list"), reverse("incidents:task_list")]
    return by_role, [(Role.NATIONAL_COORDINATOR, coordinator), (Role.ORG_ADMIN, admin_pages),
                     (Role.ORG_ANALYST, analyst), (Role.RESPONDER, responder)]


def _check(page, url, found, label, submit_empty=False):
    response = page.goto(url)
    assert response.status == 200, (url, response.status)
    page.wait_for_load_state("networkidle")
    if submit_empty:  # the form again, with its errors: the browser's own checks off, sent as it is
        page.evaluate("document.querySelectorAll('main form').forEach(f => f.noValidate = true)")
        page.locator("main form button[type=submit]").last.click()
        page.wait_for_load_state("networkidle")
        url += " (sent empty)"
    # Folded parts (filters, raw records, figures under the charts) are checked unfolded.
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.add_script_tag(path=str(AXE))
    blocking = [v for v in page.evaluate(RUN_AXE, TAGS) if v["impact"] in BLOCKING]
    if blocking:
        found[f"{label} {url}"] = blocking
        name = "".join(c if c.isalnum() else "-" for c in f"{label}-{url}").strip("-")[:80]
        page.screenshot(path=str(SCREENSHOTS / f"a11y-{name}.png"), full_page=True)


def test_the_main_pages_have_no_serious_accessibility_violations(live_server, flushable_audit_log, browser,
                                                                  axe_source, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from khien.core.roles import Role

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo hashes its passwords
    call_command("demo", "--systems", "60", "--no-accounts", stdout=StringIO())
    by_role, pages = _pages()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    found = {}
    for language in ("vi", "en"):
        # The CSP forbids inline scripts; axe is injected as one, so only this test's browser bypasses it.
        context = browser.new_context(viewport={"width": 1366, "height": 900}, bypass_csp=True,
                                      timezone_id="Asia/Ho_Chi_Minh")
        context.add_cookies([{"name": "khien_language", "value": language, "url": base}])
        page = context.new_page()
        _check(page, f"{base}/accounts/login/", found, f"{language}-signed-out")
        _check(page, f"{base}/accounts/login/", found, f"{language}-signed-out", submit_empty=True)
        assert page.evaluate("document.documentElement.lang") == language
        for role, paths in pages:
            if language == "en" and role != Role.NATIONAL_COORDINATOR:
                continue  # English once, over the widest set of pages
            account = by_role[role]
            device = None
            if role == Role.NATIONAL_COORDINATOR:
                device = TOTPDevice.objects.get(user__email=account.email)
            page.context.clear_cookies()
            page.context.add_cookies([{"name": "khien_language", "value": language, "url": base}])
            _sign_in(page, base, account, device)
            assert page.evaluate("document.documentElement.lang") == language
            for path in paths:
                _check(page, base + path, found, f"{language}-{role}", submit_empty=isinstance(path, SentEmpty))
        context.close()
    report = "\n".join(f"{where}\n" + "\n".join(f"  [{v['impact']}] {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
                                                 for v in violations)
                       for where, violations in found.items())
    assert not found, f"serious or critical accessibility violations:\n{report}"
