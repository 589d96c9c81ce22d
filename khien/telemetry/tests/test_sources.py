"""Managing alert sources: register one (its key shown once), change its settings (enabled, the zone of the
device's clock), give it a new key, say which systems it watches — on the pages, in the API and the CLI."""
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from khien.core.errors import Refused
from khien.core.models import AuditEntry
from khien.telemetry import parsers, services
from khien.telemetry.models import AlertSource, Event

from .test_api import post_ndjson, source_client

pytestmark = pytest.mark.django_db

# A FortiGate keeping local time (UTC+7), its `rt` written without a zone.
LOCAL_CEF = (b"CEF:0|Fortinet|FortiGate-600E|7.2.5|0419016390|IPS: SMB brute force|7|"
             b"rt=Dec 04 2026 21:40:01 src=203.0.113.91 dst=10.50.1.21 dpt=445")


def register(client, org, name="fw-min-hq", format="cef", time_zone="Asia/Ho_Chi_Minh", follow=False):
    return client.post(reverse("telemetry:source_create"),
                       {"organization": org.pk, "name": name, "format": format, "time_zone": time_zone},
                       follow=follow)


def key_on(page: str) -> str:
    start = page.index('id="key-value">') + len('id="key-value">')
    return page[start:page.index("<", start)]


# --- Registering a source on its page ------------------------------------------------------------------


def test_an_administrator_registers_a_source_and_sees_its_key_once(world, as_user):
    client = as_user(world.admin)
    form = client.get(reverse("telemetry:source_create")).content.decode()
    assert "MIN — " in form and "PROV — " not in form  # only organizations they may add sources to
    response = register(client, world.ministry, follow=True)
    assert response.status_code == 200 and response.redirect_chain[0][1] == 302  # post/redirect/get
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
    page = register(client, world.ministry, follow=True).content.decode()
    key = key_on(page)
    assert "POST http://testserver/api/telemetry/alerts" in page and "Content-Type: text/plain" in page
    assert f'curl -sS --fail-with-body -H "Authorization: Token {key}"' in page  # the new key, ready to paste, shown once
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
    response = as_user(world.analyst).post(reverse("telemetry:source_rotate_key", args=[source.name]),
                                           {"confirmed": "1"}, follow=True)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new_key = key_on(response.content.decode())
    assert new_key != old_key
    assert post_ndjson(source_client(old_key), [LOCAL_CEF]).status_code == 401
    assert post_ndjson(source_client(new_key), [LOCAL_CEF]).status_code == 202
    source.refresh_from_db()
    assert source.prefix == new_key[:12]


def test_a_new_key_asks_first_and_says_what_breaks(world, as_user, make_source):
    """Rotating breaks the live SOC connector: the button asks for confirmation (data-confirm), naming it."""
    source, _key = make_source(org=world.ministry, format="cef")
    page = as_user(world.admin).get(reverse("telemetry:source", args=[source.name])).content.decode()
    form = page[page.index('id="rotate-key"'):]
    button = form[form.index("<button"):form.index("</button>")]
    assert "data-confirm=" in button and source.name in button
    assert gettext("Give the source a new key") in button


def test_a_new_key_is_shown_once_and_a_reload_does_not_rotate_again(world, as_user, make_source):
    """Post/redirect/get: the rotation answers with a redirect (the key in no URL); the page it leads to shows the
    key once and drops it from the session; reloading that page shows it no more and changes nothing."""
    source, _key = make_source(org=world.ministry, format="cef")
    client = as_user(world.admin)
    url = reverse("telemetry:source", args=[source.name])
    response = client.post(reverse("telemetry:source_rotate_key", args=[source.name]), {"confirmed": "1"})
    assert response.status_code == 302 and response["Location"] == url + "#new-key"
    rotations = AuditEntry.objects.filter(object_id=str(source.pk)).count()
    shown = client.get(url)
    key = key_on(shown.content.decode())
    assert shown["Cache-Control"] == "no-store" and key not in response["Location"]
    assert key not in str(dict(client.session))  # dropped once shown
    again = client.get(url)  # F5
    assert key not in again.content.decode() and 'id="new-key"' not in again.content.decode()
    source.refresh_from_db()
    assert source.prefix == key[:12] and AuditEntry.objects.filter(object_id=str(source.pk)).count() == rotations
    # A key waiting for one source is not shown on another's page.
    other, _other_key = make_source(org=world.ministry, format="cef", name="fw-other")
    client.post(reverse("telemetry:source_rotate_key", args=[source.name]), {"confirmed": "1"})
    assert 'id="new-key"' not in client.get(reverse("telemetry:source", args=[other.name])).content.decode()
    assert 'id="new-key"' in client.get(url).content.decode()


def test_settings_turn_a_source_off_and_set_its_zone(world, as_user, make_source):
    source, key = make_source(org=world.ministry, format="cef")
    client = as_user(world.admin)
    url = reverse("telemetry:source_settings", args=[source.name])
    assert client.post(url, {"time_zone": "Asia/Ho_Chi_Minh", "format": "cef", "enabled": "on"}).status_code == 302
    assert post_ndjson(source_client(key), [LOCAL_CEF]).status_code == 202
    assert Event.objects.get().time.hour == 14  # 21:40 local time is 14:40 UTC
    # Unticked, then confirmed on the page that asks first (test_source_pages_confirm.py): disabled.
    assert client.post(url, {"time_zone": "Asia/Ho_Chi_Minh", "format": "cef", "confirmed": "1"}).status_code == 302
    assert post_ndjson(source_client(key), [LOCAL_CEF.replace(b"21:40:01", b"21:41:01")]).status_code == 403
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


@pytest.fixture
def two_organizations(world):
    """The ministry's administrator, also an administrator of the province (a member of two organizations)."""
    from khien.core.roles import Role
    from khien.registry.models import Membership

    Membership.objects.create(user=world.admin, organization=world.province, role=Role.ORG_ADMIN)
    return world.admin


def test_a_member_of_two_organizations_cannot_lend_one_s_systems_to_the_other_s_source(
        world, api, as_user, make_source, make_system, two_organizations, settings):
    """A source watches only systems that its organization (or a unit below it) owns or operates: a user who sees
    both organizations' systems cannot make the ministry's source the national monitoring of the province's."""
    source, _key = make_source(org=world.ministry, format="wazuh", name="min-soc")
    own = make_system(world.ministry)
    provinces = make_system(world.province, approved_level=3)
    machine = api(two_organizations)
    changes = AuditEntry.objects.filter(object_type__startswith="telemetry.")  # (signing in is audited too)
    before = changes.count()
    # API, in the user's language (Accept-Language for a machine client): refused, nothing changed.
    url = f"/api/telemetry/sources/{source.name}/systems/"
    refused = machine.put(url, {"systems": [own.code, provinces.code]}, format="json",
                                         HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and refused.json()["code"] == "foreign_system"
    assert refused.json()["detail"] == (f"Source “min-soc” may watch only information systems owned or operated by "
                                        f"Organization MIN or a unit below it; these belong to another organization: "
                                        f"{provinces.code}.")
    refused = machine.put(url, {"systems": [provinces.code]}, format="json")
    with translation.override(settings.LANGUAGE_CODE):
        assert refused.status_code == 400 and refused.json()["detail"] == gettext(
            "Source “%(source)s” may watch only information systems owned or operated by %(organization)s or a unit "
            "below it; these belong to another organization: %(codes)s.") % {
            "source": "min-soc", "organization": world.ministry.name_vi, "codes": provinces.code}
    # The page does not offer it, and a crafted post of it is refused.
    client = as_user(two_organizations)
    page = client.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert own.code in page and provinces.code not in page
    assert client.post(reverse("telemetry:source_systems", args=[source.name]),
                       {"systems": [provinces.pk]}).status_code == 400
    # Not even the national coordinator, who sees every system.
    with pytest.raises(Refused):
        services.do_set_source_systems(source, [provinces], acting_user=world.coordinator)
    assert not source.systems.exists() and changes.count() == before
    # Grants: the same user gives each source its own organization's systems, its units' and those it operates.
    unit = make_system(world.department)
    operated = make_system(world.responder_org, operator=world.ministry)
    assert machine.put(url, {"systems": [own.code, unit.code, operated.code]}, format="json").status_code == 200
    assert set(source.systems.all()) == {own, unit, operated}
    theirs, _key = make_source(org=world.province, format="cef", name="prov-soc")
    assert machine.put(f"/api/telemetry/sources/{theirs.name}/systems/", {"systems": [provinces.code]},
                       format="json").status_code == 200
    assert list(theirs.systems.all()) == [provinces]


def test_a_system_attached_before_the_rule_is_shown_and_must_be_unticked(world, as_user, make_source, make_system,
                                                                        two_organizations):
    source, _key = make_source(org=world.ministry, format="wazuh", name="min-soc")
    own, foreign = make_system(world.ministry), make_system(world.province)
    source.systems.add(own, foreign)  # attached when any visible system was accepted
    client = as_user(two_organizations)
    page = client.get(reverse("telemetry:source", args=[source.name])).content.decode()
    assert foreign.code in page  # ticked, so that it can be unticked
    url = reverse("telemetry:source_systems", args=[source.name])
    refused = client.post(url, {"systems": [own.pk, foreign.pk]})
    assert refused.status_code == 400 and foreign.code in refused.content.decode()
    assert set(source.systems.all()) == {own, foreign}
    assert client.post(url, {"systems": [own.pk]}).status_code == 302
    assert list(source.systems.all()) == [own]


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
    refused = client.patch(url, {"owner": "PROV"}, format="json")  # refused, naming it; nothing changed
    assert refused.status_code == 400 and list(refused.json()) == ["owner"]
    assert client.patch(url, {"enabled": False}, format="json").json()["enabled"] is False
    assert post_ndjson(source_client(old_key), [LOCAL_CEF]).status_code == 403  # disabled: told so
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


@pytest.mark.parametrize("body, content_type", [
    ("time_zone=", "application/x-www-form-urlencoded"),  # DRF read it as left out: 200, nothing said
    ("time_zone=&enabled=false", "application/x-www-form-urlencoded"),
    ('{"time_zone": ""}', "application/json"),
    ('{"time_zone": "  "}', "application/json"),
    ('{"time_zone": null}', "application/json"),
])
def test_a_source_s_zone_cannot_be_emptied(world, api, make_source, body, content_type):
    source, _key = make_source(org=world.ministry, format="cef", time_zone="Asia/Ho_Chi_Minh")
    client = api(world.admin)
    changes = AuditEntry.objects.filter(object_type__startswith="telemetry.")
    before = changes.count()
    url = f"/api/telemetry/sources/{source.name}/"
    refused = client.patch(url, body, content_type=content_type, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and refused.json() == {"time_zone": ["A time zone is required."]}
    refused = client.patch(url, body, content_type=content_type)  # in the platform's language by default
    assert refused.status_code == 400
    with translation.override("vi"):
        assert refused.json() == {"time_zone": [gettext("A time zone is required.")]}
    source.refresh_from_db()
    assert (source.time_zone, source.enabled) == ("Asia/Ho_Chi_Minh", True) and changes.count() == before


def test_other_settings_sent_empty_in_a_form_are_refused_too(world, api, make_source):
    source, _key = make_source(org=world.ministry, format="cef")
    client = api(world.admin)
    url = f"/api/telemetry/sources/{source.name}/"
    for body in ("format=", "enabled="):
        refused = client.patch(url, body, content_type="application/x-www-form-urlencoded")
        assert refused.status_code == 400 and list(refused.json()) == [body[:-1]]
    source.refresh_from_db()
    assert (source.format, source.enabled) == ("cef", True)
    # Left out, a setting stays; given, it changes.
    done = client.patch(url, "format=wazuh", content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200 and (done.json()["format"], done.json()["time_zone"]) == ("wazuh", "UTC")


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
    with pytest.raises(CommandError, match="“nope”"):  # in the platform's language, naming the source asked for
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


def test_without_javascript_a_new_key_is_asked_on_a_page_first(world, as_user, make_source):
    """The button's dialog needs JavaScript; without it the request comes unconfirmed: a page says what breaks and
    asks, and nothing changes until it is sent again with the consent."""
    source, _key = make_source(org=world.ministry, format="cef")
    client = as_user(world.admin)
    url = reverse("telemetry:source_rotate_key", args=[source.name])
    asked = client.post(url)
    page = asked.content.decode()
    assert asked.status_code == 200 and 'id="confirm-action"' in page and source.name in page
    assert 'name="confirmed" value="1"' in page
    before = source.key_hash
    source.refresh_from_db()
    assert source.key_hash == before
    assert client.post(url, {"confirmed": "1"}).status_code == 302
    source.refresh_from_db()
    assert source.key_hash != before
