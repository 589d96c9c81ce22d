"""Managing alert sources: register one (its key shown once), change its settings (enabled, the zone of the
device's clock), give it a new key, say which systems it watches — on the pages, in the API and the CLI."""
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.translation import gettext

from khien.core.models import AuditEntry
from khien.telemetry import parsers
from khien.telemetry.models import AlertSource, Event

from .test_api import post_ndjson, source_client

pytestmark = pytest.mark.django_db

# A FortiGate keeping local time (UTC+7), its `rt` written without a zone.
LOCAL_CEF = (b"CEF:0|Fortinet|FortiGate-600E|7.2.5|0419016390|IPS: SMB brute force|7|"
             b"rt=Dec 04 2026 21:40:01 src=203.0.113.91 dst=10.50.1.21 dpt=445")


def register(client, org, name="fw-min-hq", format="cef", time_zone="Asia/Ho_Chi_Minh"):
    return client.post(reverse("telemetry:source_create"),
                       {"organization": org.pk, "name": name, "format": format, "time_zone": time_zone})


def key_on(page: str) -> str:
    start = page.index('id="key-value">') + len('id="key-value">')
    return page[start:page.index("<", start)]


# --- Registering a source on its page ------------------------------------------------------------------


def test_an_administrator_registers_a_source_and_sees_its_key_once(world, as_user):
    client = as_user(world.admin)
    form = client.get(reverse("telemetry:source_create")).content.decode()
    assert "MIN — " in form and "PROV — " not in form  # only organizations they may add sources to
    response = register(client, world.ministry)
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"  # the key is not kept by the browser or a proxy
    page = response.content.decode()
    key = key_on(page)
    assert key.startswith("khs_") and gettext("Copy it now into the tool's forwarder: it will not be shown again.") in page
    source = AlertSource.objects.get(name="fw-min-hq")
    assert (source.organization, source.format, source.time_zone) == (world.ministry, "cef", "Asia/Ho_Chi_Minh")
    assert key not in client.get(reverse("telemetry:source", args=[source.name])).content.decode()  # never again
    assert AuditEntry.objects.filter(object_id=str(source.pk), action="create").exists()
    assert key not in str(list(AuditEntry.objects.values_list("after", flat=True)))
    # The key works at once, and the device's local time is read in its zone.
    assert post_ndjson(source_client(key), [LOCAL_CEF]).status_code == 202
    assert Event.objects.get(source=source).time == dt.datetime(2026, 12, 4, 14, 40, 1, tzinfo=dt.timezone.utc)


def test_a_new_source_keeps_vietnamese_time_unless_told_otherwise(world, as_user, settings):
    """A device in Vietnam mostly keeps local time: a zone-less time is read as such unless UTC is chosen; the
    form offers region/city zones, not zoneinfo's aliases, and still takes a legacy name set through the API."""
    client = as_user(world.admin)
    form = client.get(reverse("telemetry:source_create")).content.decode()
    assert '<option value="Asia/Ho_Chi_Minh" selected>' in form
    assert 'value="Europe/Paris"' in form and 'value="Factory"' not in form and 'value="localtime"' not in form
    response = client.post(reverse("telemetry-api:sources"), {"organization": world.ministry.code, "name": "fw-api",
                                                             "format": "cef"}, content_type="application/json")
    assert response.status_code == 201 and response.json()["time_zone"] == "Asia/Ho_Chi_Minh"
    call_command("telemetry", "add-source", "fw-cli", "--format", "cef", "--organization", world.ministry.code,
                 stdout=io.StringIO())
    assert AlertSource.objects.get(name="fw-cli").time_zone == "Asia/Ho_Chi_Minh"
    AlertSource.objects.filter(name="fw-api").update(time_zone="GMT+0")  # accepted by the API, not offered
    url = reverse("telemetry:source_settings", args=["fw-api"])
    assert '<option value="GMT+0" selected>' in client.get(reverse("telemetry:source", args=["fw-api"])).content.decode()
    assert client.post(url, {"enabled": "on", "format": "cef", "time_zone": "GMT+0"}).status_code == 302
    assert client.post(url, {"enabled": "on", "format": "cef", "time_zone": "Mars/Olympus"}).status_code == 400


def test_the_source_page_says_how_to_send_alerts(world, as_user):
    client = as_user(world.admin)
    page = register(client, world.ministry).content.decode()
    key = key_on(page)
    assert "POST http://testserver/api/telemetry/alerts" in page and "Content-Type: text/plain" in page
    assert f'curl -sf -H "Authorization: Token {key}"' in page  # the new key, ready to paste, shown once
    assert "http://testserver/api/telemetry/elastic" in page and "khien.alerts.fw-min-hq" in page
    later = client.get(reverse("telemetry:source", args=["fw-min-hq"])).content.decode()
    assert key not in later and "$SOURCE_KEY" in later
    register(client, world.ministry, name="wazuh-min", format="wazuh")
    assert "Content-Type: application/x-ndjson" in client.get(reverse("telemetry:source", args=["wazuh-min"])).content.decode()


@pytest.mark.parametrize("change", [{"name": "has space"}, {"name": ""}, {"time_zone": "Asia/Hanoi-ish"},
                                    {"format": "syslog"}, {"organization": "not-a-number"}])
def test_bad_registrations_are_refused_and_change_nothing(world, as_user, change):
    data = {"organization": world.ministry.pk, "name": "fw-min-hq", "format": "cef", "time_zone": "UTC", **change}
    client = as_user(world.admin)
    before = AuditEntry.objects.count()
    response = client.post(reverse("telemetry:source_create"), data)
    assert response.status_code == 400
    assert gettext("Nothing was saved: correct what is shown in red.") in response.content.decode()
    assert not AlertSource.objects.exists() and AuditEntry.objects.count() == before


def test_a_taken_name_and_another_organization_are_refused(world, as_user, make_source):
    make_source(org=world.province, name="fw-taken")
    client = as_user(world.admin)
    response = register(client, world.ministry, name="fw-taken")
    assert response.status_code == 409
    assert gettext("A source with this name already exists.") in response.content.decode()
    response = register(client, world.province)  # a crafted form: not one of their organizations
    assert response.status_code == 400
    assert AlertSource.objects.count() == 1


@pytest.mark.parametrize("role", ["auditor", "trainee", "nobody"])
def test_roles_without_the_right_cannot_register(world, as_user, role):
    client = as_user(getattr(world, role))
    assert client.get(reverse("telemetry:source_create")).status_code == 403
    assert register(client, world.ministry).status_code == 403
    assert reverse("telemetry:source_create") not in client.get(reverse("telemetry:sources")).content.decode()
    assert not AlertSource.objects.exists()


# --- A source's page: settings, new key, systems ---------------------------------------------------------


def test_a_new_key_replaces_the_old_one_at_once(world, as_user, make_source):
    source, old_key = make_source(org=world.ministry, format="cef")
    response = as_user(world.analyst).post(reverse("telemetry:source_rotate_key", args=[source.name]))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new_key = key_on(response.content.decode())
    assert new_key != old_key
    assert post_ndjson(source_client(old_key), [LOCAL_CEF]).status_code == 401
    assert post_ndjson(source_client(new_key), [LOCAL_CEF]).status_code == 202
    source.refresh_from_db()
    assert source.prefix == new_key[:12]


def test_settings_turn_a_source_off_and_set_its_zone(world, as_user, make_source):
    source, key = make_source(org=world.ministry, format="cef")
    client = as_user(world.admin)
    url = reverse("telemetry:source_settings", args=[source.name])
    assert client.post(url, {"time_zone": "Asia/Ho_Chi_Minh", "format": "cef", "enabled": "on"}).status_code == 302
    assert post_ndjson(source_client(key), [LOCAL_CEF]).status_code == 202
    assert Event.objects.get().time.hour == 14  # 21:40 local time is 14:40 UTC
    assert client.post(url, {"time_zone": "Asia/Ho_Chi_Minh", "format": "cef"}).status_code == 302  # unticked: disabled
    assert post_ndjson(source_client(key), [LOCAL_CEF.replace(b"21:40:01", b"21:41:01")]).status_code == 401
    before = AuditEntry.objects.count()
    response = client.post(url, {"time_zone": "Mars/Olympus", "format": "cef", "enabled": "on"})
    assert response.status_code == 400
    source.refresh_from_db()
    assert (source.enabled, source.time_zone) == (False, "Asia/Ho_Chi_Minh") and AuditEntry.objects.count() == before


def test_another_organization_and_read_only_roles_cannot_change_a_source(world, as_user, make_source):
    source, key = make_source(org=world.ministry, format="cef")
    other = as_user(world.other_admin)
    for name in ("source", "source_settings", "source_rotate_key", "source_systems"):
        url = reverse(f"telemetry:{name}", args=[source.name])
        assert (other.get(url) if name == "source" else other.post(url, {"time_zone": "UTC"})).status_code == 404
    auditor = as_user(world.auditor)
    page = auditor.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert 'id="source-settings"' not in page and 'id="rotate-key"' not in page  # read only
    assert auditor.post(reverse("telemetry:source_rotate_key", args=[source.name])).status_code == 403
    assert auditor.post(reverse("telemetry:source_settings", args=[source.name]),
                        {"time_zone": "UTC", "format": "cef"}).status_code == 403
    source.refresh_from_db()
    assert source.enabled and source.time_zone == "UTC"
    assert post_ndjson(source_client(key), [LOCAL_CEF]).status_code == 202  # the key was not changed


def test_the_systems_a_source_watches_are_chosen_on_its_page(world, as_user, make_source, make_system):
    source, _key = make_source(org=world.ministry, format="wazuh")
    own = make_system(world.ministry, approved_level=3)
    unit = make_system(world.department)
    foreign = make_system(world.province)
    client = as_user(world.admin)
    page = client.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert own.code in page and unit.code in page and foreign.code not in page
    assert f"{own.code} — {own.name} (cấp độ 3)" in page  # whether it counts for national monitoring shows
    url = reverse("telemetry:source_systems", args=[source.name])
    assert client.post(url, {"systems": [own.pk, unit.pk]}).status_code == 302
    assert set(source.systems.all()) == {own, unit}
    assert client.post(url, {"systems": [own.pk, foreign.pk]}).status_code == 400  # crafted: not offered
    assert set(source.systems.all()) == {own, unit}


# --- API and CLI ------------------------------------------------------------------------------------------


def test_api_registers_with_a_zone_changes_settings_and_rotates(world, api, make_source):
    client = api(world.admin)
    created = client.post("/api/telemetry/sources/", {"organization": "MIN", "name": "fw-api", "format": "cef",
                                                      "time_zone": "Asia/Ho_Chi_Minh"}, format="json")
    assert created.status_code == 201 and created.json()["time_zone"] == "Asia/Ho_Chi_Minh"
    old_key = created.json()["key"]
    url = "/api/telemetry/sources/fw-api/"
    assert client.get(url).json()["time_zone"] == "Asia/Ho_Chi_Minh"
    bad = client.patch(url, {"time_zone": "Nowhere/Here"}, format="json")
    assert bad.status_code == 400 and "time_zone" in bad.json()
    assert client.patch(url, {"owner": "PROV"}, format="json").json()["time_zone"] == "Asia/Ho_Chi_Minh"  # ignored
    assert client.patch(url, {"enabled": False}, format="json").json()["enabled"] is False
    assert post_ndjson(source_client(old_key), [LOCAL_CEF]).status_code == 401
    assert client.patch(url, {"enabled": True}, format="json").status_code == 200
    # A form-encoded PATCH of the zone alone leaves the source enabled (DRF reads a box left out of a form as
    # unticked: it used to disable the source).
    form = client.patch(url, "time_zone=UTC", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 200 and form.json()["enabled"] is True and form.json()["time_zone"] == "UTC"
    rotated = client.post(url + "rotate-key/")
    assert rotated.status_code == 200 and rotated.json()["key"] != old_key
    assert post_ndjson(source_client(old_key), [LOCAL_CEF]).status_code == 401
    assert post_ndjson(source_client(rotated.json()["key"]), [LOCAL_CEF]).status_code == 202
    # Denials: another organization does not see it; a read-only role may not change it.
    assert api(world.other_admin).patch(url, {"enabled": False}, format="json").status_code == 404
    assert api(world.other_admin).post(url + "rotate-key/").status_code == 404
    assert api(world.auditor).patch(url, {"enabled": False}, format="json").status_code == 403
    assert api(world.auditor).post(url + "rotate-key/").status_code == 403
    assert AlertSource.objects.get(name="fw-api").enabled


def test_cli_registers_with_a_zone_and_rotates_a_key(world):
    out = io.StringIO()
    call_command("telemetry", "add-source", "fw-cli", "--format", "cef", "--organization", "MIN",
                 "--time-zone", "Asia/Ho_Chi_Minh", stdout=out)
    first = out.getvalue().strip()
    assert AlertSource.objects.get(name="fw-cli").time_zone == "Asia/Ho_Chi_Minh"
    with pytest.raises(CommandError):
        call_command("telemetry", "add-source", "fw-cli2", "--format", "cef", "--organization", "MIN",
                     "--time-zone", "Moon/Base")
    out = io.StringIO()
    call_command("telemetry", "rotate-key", "fw-cli", stdout=out)
    assert out.getvalue().strip().startswith("khs_") and out.getvalue().strip() != first
    assert post_ndjson(source_client(first), [LOCAL_CEF]).status_code == 401
    with pytest.raises(CommandError, match="no alert source"):
        call_command("telemetry", "rotate-key", "nope")


# --- The zone of the device's clock, in the parsers -------------------------------------------------------


def test_times_without_a_zone_are_read_in_the_sources_zone():
    hanoi = AlertSource(time_zone="Asia/Ho_Chi_Minh").zone
    utc = dt.timezone.utc
    assert parsers.parse_cef(LOCAL_CEF.decode(), hanoi)["time"] == dt.datetime(2026, 12, 4, 14, 40, 1, tzinfo=utc)
    assert parsers.parse_cef(LOCAL_CEF.decode())["time"] == dt.datetime(2026, 12, 4, 21, 40, 1, tzinfo=utc)
    # A time that says its zone keeps it, whatever the source's zone.
    assert parsers.parse_time("Dec 04 2026 21:40:01 UTC", "rt", hanoi).hour == 21
    assert parsers.parse_time("2026-12-04T21:40:01+00:00", "rt", hanoi).hour == 21
    assert parsers.parse_time("1796420401000", "rt", hanoi) == dt.datetime(2026, 12, 4, 21, 40, 1, tzinfo=utc)
    # The syslog header's time, when the record has none of its own.
    line = "<134>Dec  4 21:40:01 fw-02 CEF:0|Fortinet|FortiGate|7.2|1|Probe|5|src=203.0.113.9"
    assert parsers.parse_cef(line, hanoi)["time"].hour == 14
    ecs = {"@timestamp": "2026-12-04T21:40:01", "rule": {"id": "r1"}}
    assert parsers.parse_ecs(ecs, hanoi)["time"].hour == 14
