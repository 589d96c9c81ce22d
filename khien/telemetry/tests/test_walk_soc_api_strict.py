"""A SOC engineer scripting against the telemetry API: every list takes only its filters (a typo is a 400, not the
whole list), a choice filter names the values it takes, an ordering it cannot follow is refused, a write names
the field it does not take, and a sender whose source was disabled is told so (and the source's page shows that a
tool is still sending to it)."""
import base64
import datetime as dt

import orjson
import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from khien.conftest import refusal
from khien.telemetry import services
from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import sample_lines

pytestmark = pytest.mark.django_db
INTAKE = "/api/telemetry/alerts"
UNKNOWN_ORG = "No organization with this code among those you may see."
UNKNOWN_SOURCE = "No source with this name among those you may see."


# --- Strict lists ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["sources/", "dead-letters/", "hits/", "suppressions/", "hourly/", "monitoring/",
                                  "events/", "alert-groups/", "campaigns/"])
def test_every_telemetry_list_refuses_an_unknown_parameter(world, reader, path):
    answer = refusal(reader(world.coordinator).get(f"/api/telemetry/{path}?bogus=1"))
    assert answer["code"] == "unknown_parameter"
    assert "bogus" in answer["detail"] and "limit" in answer["detail"]


def test_sources_filter_by_status_with_the_rule_of_the_source_pages(world, reader, make_source):
    live, _k = make_source(name="live-one")
    silent, _k = make_source(name="silent-one")
    never, _k = make_source(name="never-one")
    off, _k = make_source(name="off-one")
    now = timezone.now()
    AlertSource.objects.filter(pk=live.pk).update(last_event_at=now)
    AlertSource.objects.filter(pk=silent.pk).update(last_event_at=now - dt.timedelta(days=2))
    AlertSource.objects.filter(pk=off.pk).update(enabled=False, last_event_at=now)
    client = reader(world.admin)

    def names(status):
        answer = client.get(f"/api/telemetry/sources/?status={status}")
        assert answer.status_code == 200, answer.content
        return [row["name"] for row in answer.json()["results"]]

    assert names("live") == ["live-one"]
    assert names("silent") == ["silent-one"]
    assert names("never") == names("never_sent") == ["never-one"]  # never_sent: the word of the monitoring states
    assert names("disabled") == ["off-one"]
    # Each row says the status it was chosen by.
    for status in ("live", "silent", "never", "disabled"):
        assert {row["status"] for row in client.get(f"/api/telemetry/sources/?status={status}").json()["results"]} \
            == {status}
    answer = refusal(client.get("/api/telemetry/sources/?status=dead"))
    assert answer["status"] == ["Unknown value “dead”: use one of live, silent, rejecting, never, disabled."]


def test_choice_filters_name_the_values_they_take(world, reader):
    client = reader(world.coordinator)
    assert refusal(client.get("/api/telemetry/sources/?format=syslog"))["format"] == [
        "Unknown value “syslog”: use one of wazuh, suricata, ecs, cef."]
    kind = refusal(client.get("/api/telemetry/hits/?kind=foo"))["kind"][0]
    assert kind.startswith("Unknown value “foo”: use one of ipv4, ipv6") and "sha256" in kind
    assert "connected, disconnected, rejecting, never_sent, no_source" in refusal(
        client.get("/api/telemetry/monitoring/?monitoring=lost"))["monitoring"][0]
    assert "open, warned, incident, dismissed" in refusal(client.get("/api/telemetry/campaigns/?status=x"))["status"][0]
    assert "new, acknowledged" in refusal(client.get("/api/telemetry/alert-groups/?status=x"))["status"][0]
    assert refusal(client.get("/api/telemetry/suppressions/?active=maybe"))["active"] == ["Use true or false."]


def test_source_and_organization_filters_answer_alike_for_another_organization_and_for_nothing(
        world, reader, make_source):
    theirs, _k = make_source(org=world.province, name="prov-soc")
    client = reader(world.admin)
    for path in ("dead-letters/", "suppressions/"):
        assert refusal(client.get(f"/api/telemetry/{path}?source={theirs.name}"))["source"] == [UNKNOWN_SOURCE]
        assert refusal(client.get(f"/api/telemetry/{path}?source=no-such-source"))["source"] == [UNKNOWN_SOURCE]
        # A misspelt parameter is not the whole list.
        assert refusal(client.get(f"/api/telemetry/{path}?sourc=x"))["code"] == "unknown_parameter"
    for path in ("sources/", "hourly/"):
        assert refusal(client.get(f"/api/telemetry/{path}?organization=PROV"))["organization"] == [UNKNOWN_ORG]
        assert refusal(client.get(f"/api/telemetry/{path}?organization=NOPE"))["organization"] == [UNKNOWN_ORG]
    # Their own are still listed.
    mine, key = make_source(org=world.ministry, name="min-soc")
    APIClient().post(INTAKE, data=b"not json\n", content_type="application/x-ndjson",
                     HTTP_AUTHORIZATION=f"Token {key}")
    answer = client.get("/api/telemetry/dead-letters/?source=min-soc")
    assert answer.status_code == 200 and answer.json()["count"] == 1
    assert client.get("/api/telemetry/suppressions/?source=min-soc&active=true").status_code == 200
    assert client.get("/api/telemetry/sources/?organization=MIN&format=wazuh&enabled=true").json()["count"] == 1


def test_an_ordering_the_list_cannot_follow_is_refused_with_the_fields_it_can(world, reader, make_source):
    client = reader(world.coordinator)
    answer = refusal(client.get("/api/telemetry/events/?ordering=-ingestedat"))
    assert answer["code"] == "unknown_ordering"
    assert "-ingestedat" in answer["detail"] and "time, severity, ingested_at, id" in answer["detail"]
    assert client.get("/api/telemetry/events/?ordering=-ingested_at,severity").status_code == 200
    assert refusal(client.get("/api/telemetry/sources/?ordering=status"))["code"] == "unknown_ordering"
    assert client.get("/api/telemetry/sources/?ordering=-last_event_at").status_code == 200
    assert refusal(client.get("/api/telemetry/hits/?ordering=bogus"))["code"] == "unknown_ordering"
    assert client.get("/api/telemetry/hits/?ordering=-time").status_code == 200
    # A list without an order of its own does not take one.
    assert refusal(client.get("/api/telemetry/monitoring/?ordering=code"))["code"] == "unknown_parameter"


# --- Writes that name what they do not take -------------------------------------------------------------------

def test_a_patch_of_a_field_that_cannot_change_is_refused_naming_it(world, reader, make_source):
    source, _key = make_source(name="fw-min")
    client = reader(world.admin)
    answer = refusal(client.patch(f"/api/telemetry/sources/{source.name}/", {"name": "renamed"}, format="json"))
    assert answer == {"name": ["This cannot be changed here."]}
    answer = refusal(client.patch(f"/api/telemetry/sources/{source.name}/", {"enabled": False, "colour": "red"},
                                  format="json"))
    assert answer == {"colour": ["Unknown field: this request does not take it."]}
    systems = refusal(client.patch(f"/api/telemetry/sources/{source.name}/", {"systems": []}, format="json"))
    assert "systems/" in systems["systems"][0]
    source.refresh_from_db()
    assert source.name == "fw-min" and source.enabled  # nothing changed
    answer = client.patch(f"/api/telemetry/sources/{source.name}/", {"enabled": False}, format="json")
    assert answer.status_code == 200 and answer.json()["enabled"] is False


def test_creating_a_source_says_which_formats_and_organizations_it_takes(world, reader):
    client = reader(world.admin)
    answer = refusal(client.post("/api/telemetry/sources/", {"organization": "MIN", "name": "x-1", "format": "syslog"},
                                 format="json"))
    assert answer["format"] == ["Unknown value “syslog”: use one of wazuh, suricata, ecs, cef."]
    for code in ("PROV", "NOPE"):  # another organization's, and none: the same words
        answer = refusal(client.post("/api/telemetry/sources/", {"organization": code, "name": "x-2",
                                                                 "format": "cef"}, format="json"))
        assert answer["organization"] == [UNKNOWN_ORG]
    answer = refusal(client.post("/api/telemetry/sources/", {"organization": "MIN", "name": "x-3", "format": "cef",
                                                             "enabled": False}, format="json"))
    assert answer == {"enabled": ["This cannot be changed here."]}
    assert not AlertSource.objects.exists()


def test_a_patch_of_a_bad_format_lists_the_formats(world, reader, make_source):
    source, _key = make_source(name="fw-min")
    answer = refusal(reader(world.admin).patch(f"/api/telemetry/sources/{source.name}/", {"format": "syslog"},
                                               format="json"))
    assert answer["format"] == ["Unknown value “syslog”: use one of wazuh, suricata, ecs, cef."]


def test_setting_unknown_systems_names_the_unknown_codes(world, reader, make_source, make_system):
    source, _key = make_source(name="fw-min")
    mine = make_system(world.ministry)
    theirs = make_system(world.province)
    answer = refusal(reader(world.admin).put(f"/api/telemetry/sources/{source.name}/systems/",
                                             {"systems": [mine.code, theirs.code, "NOPE-1"]}, format="json"))
    assert answer["code"] == "unknown_system"
    # Another organization's system the reader may not see is unknown to them, like a code nobody has.
    assert answer["detail"] == f"Unknown information system code: {theirs.code}, NOPE-1."


# --- The intake ------------------------------------------------------------------------------------------------

def post_ndjson(client, lines, **extra):
    return client.post(INTAKE, data=b"\n".join(lines) + b"\n", content_type="application/x-ndjson", **extra)


def test_the_source_header_is_read_ignoring_case_as_source_names_are(make_source):
    _source, key = make_source(name="CEF-UBND-79", format="wazuh")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    answer = post_ndjson(client, sample_lines("wazuh_alerts.ndjson"), HTTP_X_KHIEN_SOURCE="cef-ubnd-79")
    assert answer.status_code == 202, answer.content
    # The Elasticsearch intake's user name too.
    bulk = b"".join(b'{"index":{}}\n' + line + b"\n" for line in sample_lines("wazuh_alerts.ndjson"))
    basic = base64.b64encode(f"Cef-Ubnd-79:{key}".encode()).decode()
    answer = APIClient().post("/api/telemetry/elastic/_bulk", data=bulk, content_type="application/x-ndjson",
                              HTTP_AUTHORIZATION=f"Basic {basic}")
    assert answer.status_code == 200, answer.content


def test_a_disabled_source_is_told_so_and_its_attempts_are_shown(world, make_source, as_user, api):
    source, key = make_source(name="wazuh-min", format="wazuh")
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    client = APIClient()
    client.cookies["khien_language"] = "en"
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    answer = post_ndjson(client, sample_lines("wazuh_alerts.ndjson"), HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 403
    assert answer.json()["code"] == "source_disabled"
    assert "disabled by its organization" in answer.json()["detail"] and "MIN" in answer.json()["detail"]
    # The Elasticsearch intake, with the name and key as Basic credentials.
    basic = base64.b64encode(f"{source.name}:{key}".encode()).decode()
    bulk = b'{"index":{}}\n' + sample_lines("wazuh_alerts.ndjson")[0] + b"\n"
    answer = APIClient().post("/api/telemetry/elastic/_bulk", data=bulk, content_type="application/x-ndjson",
                              HTTP_AUTHORIZATION=f"Basic {basic}")
    assert answer.status_code == 403 and answer.json()["code"] == "source_disabled"
    assert not Event.objects.exists() and not DeadLetter.objects.exists()
    # A wrong key is still only a wrong key (nothing told of the source), and is not counted.
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token khs_not-the-key")
    answer = post_ndjson(wrong, sample_lines("wazuh_alerts.ndjson"))
    assert answer.status_code == 401 and "disabled" not in answer.json()["detail"]
    source.refresh_from_db()
    assert source.refused_while_disabled == 2 and source.last_refused_while_disabled_at is not None
    # The source's page says a tool is still sending to it.
    page = as_user(world.admin)
    page.cookies["khien_language"] = "en"
    html = page.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert 'id="disabled-attempts"' in html and "still sending to this disabled source" in html
    # The API shows it too.
    row = api(world.admin).get(f"/api/telemetry/sources/{source.name}/").json()
    assert row["refused_while_disabled"] == 2 and row["last_refused_while_disabled_at"]
    # Enabled again: the notice goes; disabled once more, it counts from zero.
    services.do_update_source(source, {"enabled": True}, acting_user=world.admin)
    assert 'id="disabled-attempts"' not in page.get(reverse("telemetry:source", args=[source.name])).content.decode()
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    source.refresh_from_db()
    assert source.refused_while_disabled == 0 and source.last_refused_while_disabled_at is None


def test_too_large_batches_say_nothing_was_stored(make_source, settings):
    _source, key = make_source(format="wazuh")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    settings.KHIEN_INGEST_MAX_BATCH = 2
    answer = post_ndjson(client, sample_lines("wazuh_alerts.ndjson"), HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 413 and answer.json()["detail"].endswith("nothing was stored.")
    settings.KHIEN_INGEST_MAX_BYTES = 100
    answer = post_ndjson(client, sample_lines("wazuh_alerts.ndjson"), HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 413 and answer.json()["detail"].endswith("nothing was stored.")
    assert not Event.objects.exists()
    assert orjson.dumps(answer.json())
