"""The walkthrough of a provincial SOC head: an alert's indicator hits say which indicator matched, whose, its TLP
and confidence (never an indicator the reader may not see); a false positive needs its reason, on the page, on the
list and in the API; disabling or enabling a source says what it means for its key."""
import pytest
from django.urls import reverse

from khien.core.models import AuditEntry
from khien.intel import services as intel_services
from khien.intel.models import Tlp
from khien.intel.tests.conftest import indicator
from khien.telemetry import services, triage
from khien.telemetry.models import Alert, AlertSource, AlertStatus, IndicatorHit

from .test_matching import ecs

VALUE = "45.77.20.1"


@pytest.fixture
def three_producers(world, settings, make_source):
    """One address in three indicators: NCSC's (GREEN, confidence 80), MIN's (GREEN) and a TLP:RED one that NCSC
    sends to the department MIN-D1 only. One event of MIN-D1 from that address matches the three."""
    settings.KHIEN_MATCHER_RECHECK_SECONDS = 0
    national = intel_services.do_create_collection(
        {"title": "National feed", "owner": world.ncsc, "kind": "national"}, acting_user=world.coordinator)
    ncsc = indicator(VALUE, tlp=Tlp.GREEN, name="C2 Cobalt Strike NCSC", confidence=80)
    red = indicator(VALUE, tlp=Tlp.RED, name="Secret operation RED")
    intel_services.do_add_objects(national, [ncsc], acting_user=world.coordinator)
    intel_services.do_add_objects(national, [red], acting_user=world.coordinator, recipients=[world.department])
    own = intel_services.do_create_collection({"title": "MIN feed", "owner": world.ministry, "kind": "group"},
                                              acting_user=world.admin)
    ministry = indicator(VALUE, tlp=Tlp.GREEN, name="Botnet MIN")
    intel_services.do_add_objects(own, [ministry], acting_user=world.admin)
    source, _key = make_source(world.department, "ecs")
    services.ingest_batch(source, [ecs(VALUE)])
    alert = Alert.objects.get()
    assert IndicatorHit.objects.filter(alert=alert).count() == 3
    return alert, {"ncsc": ncsc["id"], "red": red["id"], "ministry": ministry["id"]}


def _page(client, user, alert, language="vi"):
    client.force_login(user)
    client.cookies["khien_language"] = language
    response = client.get(reverse("telemetry:alert", args=[alert.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_each_hit_names_its_indicator_producer_tlp_and_confidence(client, world, three_producers):
    alert, ids = three_producers
    html = _page(client, world.dept_analyst, alert)
    section = html[html.index('id="alert-hits"'):]
    for stix_id in ids.values():
        assert f'data-indicator="{stix_id}"' in section
        assert reverse("intel:object", args=[stix_id]) in section
    assert "C2 Cobalt Strike NCSC" in section and "Botnet MIN" in section and "Secret operation RED" in section
    assert "TLP:RED" in section and "TLP:GREEN" in section
    assert ">80<" in section  # NCSC's confidence
    assert ">MIN<" in section and f">{world.ncsc.code}<" in section  # the producers
    # The event field in the reader's language, not the column name.
    assert "Địa chỉ nguồn" in section and ">src_ip<" not in section
    english = _page(client, world.dept_analyst, alert, "en")
    assert "Source address" in english[english.index('id="alert-hits"'):]


def test_a_reader_who_may_not_see_an_indicator_learns_nothing_of_it(client, world, three_producers):
    """MIN's analyst sees the alerts of its department, not the TLP:RED indicator sent to the department only."""
    alert, ids = three_producers
    html = _page(client, world.analyst, alert)
    assert ids["red"] not in html and "Secret operation RED" not in html and "TLP:RED" not in html
    assert ids["ncsc"] in html and ids["ministry"] in html
    hits = html[html.index('id="alert-hits"'):]
    assert hits.count('data-indicator="hidden"') == 1
    english = _page(client, world.analyst, alert, "en")
    assert "An indicator you may not see" in english[english.index('id="alert-hits"'):]


def _other_source_alert(world, make_source):
    source, _key = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs("192.0.2.10", rule="scan")])
    return Alert.objects.get(source=source)


def test_false_positive_needs_a_reason_in_the_service(world, make_source):
    alert = _other_source_alert(world, make_source)
    before = AuditEntry.objects.count()
    for note in (None, "", "   "):
        with pytest.raises(Exception) as refused:
            triage.do_triage_alerts([alert.pk], AlertStatus.FALSE_POSITIVE, acting_user=world.analyst, note=note)
        assert "note" in refused.value.error_dict
    alert.refresh_from_db()
    assert alert.status == AlertStatus.NEW and AuditEntry.objects.count() == before
    triage.do_triage_alerts([alert.pk], AlertStatus.FALSE_POSITIVE, acting_user=world.analyst, note="Máy quét nội bộ")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.FALSE_POSITIVE and alert.triage_note == "Máy quét nội bộ"


def test_false_positive_without_a_reason_is_refused_on_the_page_and_the_list(client, world, make_source):
    alert = _other_source_alert(world, make_source)
    client.force_login(world.analyst)
    client.cookies["khien_language"] = "en"
    response = client.post(reverse("telemetry:alert_triage", args=[alert.pk]),
                           {"status": "false_positive", "note": ""})
    assert response.status_code == 400
    assert "Give the reason why the alert is a false positive" in response.content.decode()
    response = client.post(reverse("telemetry:alerts_triage"), {
        "alerts": [str(alert.pk)], "status": "false_positive", "note": " ", "next_query": "status=open"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Give the reason why the alert is a false positive" in page and f'value="{alert.pk}" aria-label' in page  # still ticked below
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.NEW
    response = client.post(reverse("telemetry:alert_triage", args=[alert.pk]),
                           {"status": "false_positive", "note": "Máy quét lỗ hổng nội bộ"})
    assert response.status_code == 302
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.FALSE_POSITIVE
    # Other statuses still need no note.
    other = Alert.objects.create(organization=world.ministry, source=alert.source, key="k2", rule_id="x",
                                 first_seen=alert.first_seen, last_seen=alert.last_seen)
    response = client.post(reverse("telemetry:alert_triage", args=[other.pk]), {"status": "resolved", "note": ""})
    assert response.status_code == 302


def test_false_positive_without_a_reason_is_a_400_in_the_api(world, make_source):
    from rest_framework.test import APIClient

    alert = _other_source_alert(world, make_source)
    api = APIClient()
    api.force_authenticate(world.analyst)
    url = "/api/telemetry/alert-groups/triage/"
    for body in ({"alerts": [str(alert.pk)], "status": "false_positive"},
                 {"alerts": [str(alert.pk)], "status": "false_positive", "note": "  "}):
        response = api.post(url, body, format="json")
        assert response.status_code == 400, response.content
        assert "note" in response.json() or "note" in str(response.content)
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.NEW
    response = api.post(url, {"alerts": [str(alert.pk)], "status": "false_positive", "note": "lab scanner"},
                        format="json")
    assert response.status_code == 200, response.content
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.FALSE_POSITIVE


def test_disabling_and_enabling_a_source_say_what_happens_to_its_key(client, world, make_source):
    source, _key = make_source(world.ministry, "ecs")
    client.force_login(world.admin)
    client.cookies["khien_language"] = "en"
    url = reverse("telemetry:source_settings", args=[source.name])
    form = client.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert "Enabled (its key is accepted)" in form
    data = {"format": source.format, "time_zone": source.time_zone}
    asked = client.post(url, data)
    assert asked.status_code == 200 and AlertSource.objects.get(pk=source.pk).enabled  # asked first
    response = client.post(url, {**data, "confirmed": "1"}, follow=True)
    assert not AlertSource.objects.get(pk=source.pk).enabled
    assert f"“{source.name}” is disabled: its key is refused from now on." in response.content.decode()
    response = client.post(url, {**data, "enabled": "on"}, follow=True)
    assert AlertSource.objects.get(pk=source.pk).enabled
    assert f"“{source.name}” is enabled again: its key is accepted." in response.content.decode()
    response = client.post(url, {**data, "enabled": "on"}, follow=True)
    assert f"Settings of “{source.name}” saved." in response.content.decode()
