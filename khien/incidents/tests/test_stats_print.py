"""The statistics page printed as a report: its print-only header names the report, the organizations it covers,
the period and filters it was computed for, the most restrictive TLP of the incidents it counts (the exports' rule,
`exports.most_restrictive`), and when and by whom it was printed (Vietnam time)."""
import datetime as dt
import re
from html import unescape

import pytest
from django.conf import settings
from django.utils import timezone

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)  # 10:00 in Vietnam


def _text(page: str, element_id: str) -> str:
    """The text of the element with this id (tags dropped, spaces collapsed)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|dd|div|header)>', page, re.S)
    assert match, f"#{element_id} is missing"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def _header(page: str) -> str:
    match = re.search(r'<header[^>]*id="stats-print-header".*?</header>', page, re.S)
    assert match, "no print header"
    return match.group(0)


@pytest.fixture
def marked(world, report):
    """The ministry: one TLP:CLEAR incident (low) and one TLP:AMBER (high); the province: one TLP:CLEAR."""
    report(now=T0, severity="low", tlp="clear", title="Thư giả mạo")
    report(now=T0 + dt.timedelta(days=3), severity="high", tlp="amber", title="Mã độc")
    report(org=world.province, user=world.other_admin, now=T0, severity="high", tlp="clear", title="Dò quét")


def test_print_header_period_scope_and_tlp(world, marked, as_user):
    client = as_user(world.analyst)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    before = timezone.localtime()
    page = client.get("/incidents/stats/?since=2026-01-01&until=2026-06-30").content.decode()
    header = _header(page)
    assert "Incident statistics report" in header
    assert _text(page, "print-period").startswith("01/01/2026 – 30/06/2026")
    assert _text(page, "print-filters") == "None: every incident in scope"
    scope = _text(page, "print-scope")
    assert world.ministry.name in scope and world.province.name not in scope
    # The ministry's two incidents: one AMBER, so the report is AMBER, on its header and on every printed page.
    assert _text(page, "print-tlp") == "TLP:AMBER"
    assert "2 incidents counted" in _text(page, "print-tlp-note")
    assert 'data-tlp="amber"' in header
    printed = _text(page, "print-when")
    assert printed.endswith("(UTC+7)") and printed.startswith(before.strftime("%d/%m/%Y"))  # today, Vietnam time
    assert world.analyst.email in _text(page, "print-by")

    # Filtered to the low severity: only the CLEAR incident is counted, the report is CLEAR; the filter is named.
    page = client.get("/incidents/stats/?since=2026-01-01&until=2026-06-30&severity=low").content.decode()
    assert _text(page, "print-tlp") == "TLP:CLEAR"
    assert _text(page, "print-filters").startswith("Severity:")
    # A period without incidents: no marking to carry, and the header says why.
    page = client.get("/incidents/stats/?since=2025-01-01&until=2025-06-30").content.decode()
    assert _text(page, "print-period").startswith("01/01/2025 – 30/06/2025")
    assert 'data-tlp="none"' in page and 'id="print-tlp"' not in page and "No incident counted" in _text(page, "print-tlp-note")


def test_clear_only_user_prints_clear_amber_user_prints_amber(world, marked, as_user, client):
    page = as_user(world.other_admin).get("/incidents/stats/?since=2026-01-01&until=2026-06-30").content.decode()
    assert _text(page, "print-tlp") == "TLP:CLEAR" and 'data-tlp="clear"' in page
    assert world.province.name in _text(page, "print-scope")
    client.logout()
    page = as_user(world.analyst).get("/incidents/stats/?since=2026-01-01&until=2026-06-30").content.decode()
    assert _text(page, "print-tlp") == "TLP:AMBER" and 'data-tlp="amber"' in page


def test_coordinator_scope_is_every_organization(world, marked, coordinator_client):
    coordinator_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = coordinator_client.get("/incidents/stats/?since=2026-01-01&until=2026-06-30").content.decode()
    assert _text(page, "print-scope").startswith("Every organization on the platform")
    assert _text(page, "print-tlp") == "TLP:AMBER" and "3 incidents counted" in _text(page, "print-tlp-note")


def test_print_header_in_vietnamese_by_default(world, marked, as_user):
    """The platform's language (Vietnamese) is the default: the header's facts are written its way."""
    page = as_user(world.analyst).get("/incidents/stats/?since=2026-01-01&until=2026-06-30").content.decode()
    assert '<html lang="vi">' in page
    assert _text(page, "print-period").startswith("01/01/2026 – 30/06/2026")
    assert _text(page, "print-tlp") == "TLP:AMBER"


def test_no_print_header_when_the_filters_are_refused(world, as_user):
    response = as_user(world.analyst).get("/incidents/stats/?since=2026-06-30&until=2026-01-01")
    assert response.status_code == 400 and 'id="stats-print-header"' not in response.content.decode()
