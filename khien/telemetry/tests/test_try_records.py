"""Trying sample records against a source before connecting its tool (the source's "Try sample records" page and
`POST /api/telemetry/sources/{name}/try/`): each record as the platform would read it — the event, the indicators
it would match that the source's organization may see, or why it would be refused — and nothing stored, counted
or sent. As Wazuh's logtest or Elasticsearch's pipeline simulation serve an engineer writing a connector."""
import time

import pytest
from django.urls import reverse

from khien.telemetry import services
from khien.telemetry.models import Alert, AlertSource, DeadLetter, Event, HourlyCount, IndicatorHit

from .test_alert_page_round1 import VALUE, three_producers  # noqa: F401 - the fixture
from .test_matching import ecs

pytestmark = pytest.mark.django_db


def _page(client, user, source, text, language="vi"):
    client.force_login(user)
    client.cookies["khien_language"] = language
    return client.post(reverse("telemetry:source_try", args=[source.name]), {"records": text})


def test_each_record_says_what_would_happen_and_nothing_is_kept(client, world, make_source):
    source, _key = make_source(world.ministry, "ecs")
    stored = ecs("198.51.100.7", rule="sent-before")
    services.ingest_batch(source, [stored])
    source.refresh_from_db()
    before = (Event.objects.count(), Alert.objects.count(), HourlyCount.objects.count(), source.accepted,
              source.rejected, source.last_event_at)
    assert before[:4] == (1, 1, before[2], 1)
    new = ecs("198.51.100.8", rule="brute-force", severity=8)
    text = b"\n".join([new, b"{broken", stored, new]).decode()
    response = _page(client, world.analyst, source, text)
    assert response.status_code == 200
    html = response.content.decode()
    table = html[html.index('id="try-table"'):]
    outcomes = [part.split('"', 1)[0] for part in table.split('data-outcome="')[1:]]
    assert outcomes == ["accepted", "refused", "duplicate", "repeated"]
    assert "198.51.100.8" in table and "Rule brute-force" in table
    assert "Đã lưu từ trước: được tính là bản trùng" in table  # the duplicate, in Vietnamese
    refused = table.split('data-position="2"', 1)[1].split("</tr>", 1)[0]
    assert "JSON" in refused  # the reason, as a dead letter would keep it
    # Nothing stored, counted or kept as a dead letter.
    source.refresh_from_db()
    assert (Event.objects.count(), Alert.objects.count(), HourlyCount.objects.count(), source.accepted,
            source.rejected, source.last_event_at) == before
    assert not DeadLetter.objects.filter(source=source).exists()


def test_the_api_answers_the_same_for_a_program(world, make_source, api):
    source, _key = make_source(world.ministry, "ecs")
    url = f"/api/telemetry/sources/{source.name}/try/"
    body = b"\n".join([ecs("198.51.100.9"), b"[5]"])
    response = api(world.analyst).post(url, data=body, content_type="application/x-ndjson")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["counts"] == {"accepted": 1, "duplicate": 0, "repeated": 0, "refused": 1}
    first, second = answer["records"]
    assert (first["position"], first["outcome"], first["event"]["src_ip"]) == (1, "accepted", "198.51.100.9")
    assert first["event"]["rule_id"] == "siem-test" and 0 <= first["event"]["severity"] <= 10
    assert (second["position"], second["outcome"], second["reason"]) == (2, "refused", "record is not a JSON object")
    assert second["reason_text"] == "bản ghi không phải là một đối tượng JSON"
    assert not Event.objects.exists() and not DeadLetter.objects.exists()
    assert AlertSource.objects.get(pk=source.pk).rejected == 0


def test_another_organizations_source_is_unknown_and_bad_input_is_refused(client, world, make_source, api):
    source, _key = make_source(world.ministry, "ecs")
    url = f"/api/telemetry/sources/{source.name}/try/"
    # Another organization: the source does not exist for them (page and API).
    assert _page(client, world.other_admin, source, ecs("198.51.100.9").decode()).status_code == 404
    assert api(world.other_admin).post(url, data=ecs("198.51.100.9"),
                                       content_type="application/x-ndjson").status_code == 404
    # More records than a trial reads: refused with the limit, nothing read.
    many = "\n".join([ecs("198.51.100.9", n=n).decode() for n in range(services.TRY_RECORDS_LIMIT + 1)])
    response = _page(client, world.analyst, source, many)
    assert response.status_code == 413 and "100" in response.content.decode()
    assert 'id="try-table"' not in response.content.decode()
    response = api(world.analyst).post(url, data=many.encode(), content_type="application/x-ndjson")
    assert response.status_code == 413
    # An empty text, a body of another type: 400 and 415 with the reason.
    assert _page(client, world.analyst, source, "  ").status_code == 400
    assert api(world.analyst).post(url, data=b"<xml/>", content_type="application/xml").status_code == 415
    assert not Event.objects.exists()


def test_a_disabled_source_can_be_tried(client, world, make_source):
    """A source disabled while its tool's format is fixed: the trial still reads the records (it sends nothing)."""
    source, _key = make_source(world.ministry, "ecs")
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    response = _page(client, world.analyst, source, ecs("198.51.100.9").decode())
    assert response.status_code == 200 and 'data-outcome="accepted"' in response.content.decode()
    assert not Event.objects.exists()


def test_hits_are_the_indicators_the_sources_organization_may_see(client, world, make_source, three_producers):
    """The department's source matches NCSC's, MIN's and the TLP:RED indicator sent to the department; its analyst
    sees the three; MIN's analyst trying the same source sees that one they may not see matched, nothing of it;
    a source of MIN does not match the RED indicator at all (MIN may not see it)."""
    _alert, ids = three_producers
    department_source = AlertSource.objects.get(organization=world.department)
    hits_before = IndicatorHit.objects.count()
    html = _page(client, world.dept_analyst, department_source, ecs(VALUE).decode()).content.decode()
    row = html[html.index('data-position="1"'):].split("</tr>", 1)[0]
    assert "Secret operation RED" in row and "C2 Cobalt Strike NCSC" in row and "Botnet MIN" in row
    assert "Địa chỉ nguồn" in row
    html = _page(client, world.analyst, department_source, ecs(VALUE).decode()).content.decode()
    row = html[html.index('data-position="1"'):].split("</tr>", 1)[0]
    assert "Secret operation RED" not in row and ids["red"] not in row and "TLP:RED" not in row
    assert row.count("Một chỉ báo bạn không được xem") == 1 and "Botnet MIN" in row
    ministry_source, _key = make_source(world.ministry, "ecs")
    html = _page(client, world.analyst, ministry_source, ecs(VALUE).decode()).content.decode()
    row = html[html.index('data-position="1"'):].split("</tr>", 1)[0]
    assert "Botnet MIN" in row and "C2 Cobalt Strike NCSC" in row
    assert "Secret operation RED" not in row and "không được xem" not in row
    assert IndicatorHit.objects.count() == hits_before  # a trial records no sighting


def test_the_source_page_offers_the_trial(client, world, make_source):
    source, _key = make_source(world.ministry, "cef")
    client.force_login(world.analyst)
    html = client.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert reverse("telemetry:source_try", args=[source.name]) in html
    cef = ("CEF:0|Fortinet|FortiGate|7.2|16384|utm:ips signature|7|rt=" + str(int(1e3 * time.time()))
           + " src=203.0.113.5 dst=10.1.1.1 spt=4444 dpt=80")
    response = _page(client, world.analyst, source, cef + "\nnot a CEF line")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-outcome="accepted"' in html and 'data-outcome="refused"' in html and "203.0.113.5" in html
