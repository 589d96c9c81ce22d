"""The receiving organization sees that its own incident, the national incident naming its systems and the early
warning about the same wave belong together (`khien.incidents.links`).

A province (PROV) receives a national campaign's early warning; its monitoring saw the warning's value in two alerts;
it reported one of them as its own incident; the coordinator also turned the campaign into a national incident
naming PROV's system (TLP:AMBER: PROV reads it as an affected organization). The warning page names PROV's incident
and invites a report only for the other alert, and names the national incident; each incident's page links the
others and the warning. Denials: another organization's incident (MIN's, about the same value) is never named to
PROV, nor is a national incident under TLP:RED that PROV may not open.
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from khien.intel.tests.test_views import html, signed_in
from khien.intel.tests.test_warning_receiving import _alert_with_hit, _source
from khien.intel.tests.test_warnings import _issue, land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
VALUE = "songtoi.vn"


def _report(org, user, title, *, tlp="amber", systems=(), owners=()):
    from khien.incidents import services

    now = timezone.now()
    return services.do_report_incident({
        "organization": org, "title": title, "detected_at": now - dt.timedelta(hours=2),
        "category": "infected-system", "severity": "high", "suspected_malicious": True,
        "impact_beyond_organization": bool(owners), "description": "Mã độc liên lạc máy chủ điều khiển.", "tlp": tlp,
    }, acting_user=user, systems=systems, system_owners=owners)


def _hold(incident, *alerts):
    from khien.telemetry.models import Alert, AlertStatus

    Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(incident=incident, status=AlertStatus.ESCALATED)


@pytest.fixture
def wave(land, make_system, incident_content):
    from khien.telemetry.models import Campaign, CampaignKind

    w = land.world
    s = type("Wave", (), {"world": w, "land": land})
    s.warning = _issue(w.coordinator, organizations=[w.province, w.ministry], title="Chiến dịch songtoi",
                       data={"values": [VALUE]})
    prov_source = _source(w.province, "wazuh-prov", w.coordinator)
    s.reported_alert = _alert_with_hit(w.province, prov_source, VALUE, key="p1")
    s.open_alert = _alert_with_hit(w.province, prov_source, VALUE, key="p2")
    s.own = _report(w.province, land.prov_analyst, "Máy trạm tỉnh liên lạc songtoi")
    _hold(s.own, s.reported_alert)
    # MIN's own incident about the same value: never named to PROV.
    s.min_alert = _alert_with_hit(w.ministry, _source(w.ministry, "wazuh-min", w.coordinator), VALUE, key="m1")
    s.min_incident = _report(w.ministry, w.analyst, "Bộ phát hiện songtoi")
    _hold(s.min_incident, s.min_alert)
    # The national incident the campaign became, naming PROV's system; and a TLP:RED one PROV may not open.
    s.prov_system = make_system(w.province, name="Cổng thông tin tỉnh", code="SYS-PROV-PORTAL")
    s.national = _report(w.ncsc, w.coordinator, "Chiến dịch songtoi toàn quốc", systems=[s.prov_system],
                         owners=[w.province])
    s.red = _report(w.ncsc, w.coordinator, "Chiến dịch songtoi (mật)", tlp="red", systems=[s.prov_system],
                    owners=[w.province])
    now = timezone.now()
    for incident in (s.national, s.red):
        Campaign.objects.create(kind=CampaignKind.INDICATOR, key="indicator--songtoi", title="songtoi",
                                indicator_kind="domain", value=VALUE, first_seen=now - dt.timedelta(hours=3),
                                last_seen=now, warning=s.warning, incident=incident, status="incident")
    return s


def _get(client, user, url) -> str:
    from django.conf import settings

    client = signed_in(client, user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page's language is the reader's choice
    with translation.override("en"):
        response = client.get(url)
    assert response.status_code == 200
    return html(response)


def _block(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start:page.index("</div>", start) if "</div>" in page[start:] else None]


def _warning_url(s):
    return reverse("intel:warning_detail", args=[s.warning.pk])


def _incident_url(incident):
    return reverse("incidents:incident_detail", args=[incident.pk])


def test_the_warning_page_names_the_provinces_incident_and_invites_a_report_for_the_other_alert(client, wave):
    s = wave
    page = _get(client, s.land.prov_analyst, _warning_url(s))
    mine = _block(page, "my-incidents-PROV")
    assert s.own.reference in mine and _incident_url(s.own) in mine
    already = page[page.index('id="already-reported-PROV"'):]
    already = already[:already.index("</p>")]
    assert f"Already reported in {s.own.reference}; 1 other alert not reported yet." in already
    # the invitation now leads to the alert not reported yet
    assert reverse("telemetry:alert", args=[s.open_alert.pk]) + "#alert-incident" in page
    assert reverse("telemetry:alert", args=[s.reported_alert.pk]) not in page


def test_with_several_alerts_left_the_invitation_does_not_repeat_their_count(client, wave):
    s = wave
    _alert_with_hit(s.world.province, _source(s.world.province, "wazuh-prov-2", s.world.coordinator), VALUE, key="p3")
    page = _get(client, s.land.prov_analyst, _warning_url(s))
    assert f"Already reported in {s.own.reference}; 2 other alerts not reported yet." in page
    invitation = page[page.index('id="report-incident-PROV"'):]
    invitation = invitation[:invitation.index("</p>")]
    assert "Open one and choose “Report as an incident”" in invitation
    assert "not reported yet" not in invitation  # said once, on the line above


def test_the_warning_page_names_the_national_incident_naming_the_provinces_systems(client, wave):
    s = wave
    page = _get(client, s.land.prov_analyst, _warning_url(s))
    national = _block(page, "national-incident-PROV")
    assert s.national.reference in national and _incident_url(s.national) in national
    assert "follows it as an affected organization" in national


def test_another_organizations_incident_and_a_red_national_incident_are_never_named(client, wave):
    s = wave
    page = _get(client, s.land.prov_analyst, _warning_url(s))
    for hidden in (s.min_incident, s.red):
        assert hidden.reference not in page and str(hidden.pk) not in page
    # MIN reads its own incident there, not PROV's, and no national incident (none names its systems)
    page = _get(client, s.world.analyst, _warning_url(s))
    assert s.min_incident.reference in _block(page, "my-incidents-MIN")
    assert s.own.reference not in page and 'id="national-incident-MIN"' not in page
    assert s.national.reference not in page and s.red.reference not in page


def test_all_alerts_reported_the_page_says_so_without_the_invitation(client, wave):
    s = wave
    _hold(s.own, s.open_alert)
    page = _get(client, s.land.prov_analyst, _warning_url(s))
    assert f"These alerts are already reported in {s.own.reference}." in page
    assert 'id="report-incident-PROV"' not in page


def test_the_provinces_incident_page_links_the_warning_and_the_national_incident(client, wave):
    s = wave
    page = _get(client, s.land.prov_analyst, _incident_url(s.own))
    related = page[page.index('id="related"'):]
    related = related[:related.index("</section>")]
    assert _warning_url(s) in related and s.warning.title in related
    assert s.national.reference in related and _incident_url(s.national) in related
    assert s.red.reference not in related and s.min_incident.reference not in related


def test_the_national_incident_read_as_affected_links_the_provinces_incident_and_the_warning(client, wave):
    s = wave
    page = _get(client, s.land.prov_analyst, _incident_url(s.national))
    related = page[page.index('id="related"'):]
    related = related[:related.index("</section>")]
    assert s.own.reference in related and _incident_url(s.own) in related
    assert _warning_url(s) in related
    assert s.min_incident.reference not in related
    # MIN may not open the national incident at all; the coordinator reads it whole with its warning
    with translation.override("en"):
        assert signed_in(client, s.world.analyst).get(_incident_url(s.national)).status_code == 404
    page = _get(client, s.world.coordinator, _incident_url(s.national))
    assert _warning_url(s) in page[page.index('id="related"'):]


def test_the_related_lists_take_one_query_each(wave):
    """Three more of the province's incidents about the campaign do not add queries to the national page's box."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from khien.incidents.links import related_to_incident
    from khien.telemetry.models import Campaign

    s = wave
    reader = s.land.prov_analyst
    with CaptureQueriesContext(connection) as few:
        before = related_to_incident(reader, s.national, affected_only=True)
    for n in range(3):
        alert = _alert_with_hit(s.world.province, _source(s.world.province, f"src-{n}", s.world.coordinator), VALUE,
                                key=f"x{n}")
        _hold(_report(s.world.province, reader, f"Sự cố {n}"), alert)
    Campaign.objects.update(last_seen=timezone.now())  # the campaign still seen: its window takes the new alerts
    with CaptureQueriesContext(connection) as many:
        after = related_to_incident(reader, s.national, affected_only=True)
    assert len(after.own) == len(before.own) + 3
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_warning_the_province_did_not_receive_is_not_related_to_its_incident(client, wave):
    s = wave
    to_min = _issue(s.world.coordinator, organizations=[s.world.ministry], title="Chỉ gửi Bộ", data={"values": [VALUE]})
    page = _get(client, s.land.prov_analyst, _incident_url(s.own))
    assert _warning_url(s) in page and reverse("intel:warning_detail", args=[to_min.pk]) not in page
    # the coordinator reads PROV's incident: still only the warnings PROV received
    page = _get(client, s.world.coordinator, _incident_url(s.own))
    assert _warning_url(s) in page and reverse("intel:warning_detail", args=[to_min.pk]) not in page
