"""Source health and the monitoring state of level-3+ systems."""
import datetime as dt

import orjson
import pytest
from django.urls import reverse
from django.utils import timezone

from khien.core.models import Notification

from khien.core.errors import Forbidden
from khien.telemetry import health, services
from khien.telemetry.models import AlertSource

from .conftest import as_read, kept_untranslated, sample_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def watched(world, make_system, make_source):
    live_sys = make_system(world.ministry, approved_level=3, operational_status="in_operation")
    silent_sys = make_system(world.department, approved_level=4, operational_status="in_operation")
    bare_sys = make_system(world.ministry, approved_level=5, operational_status="in_operation")
    make_system(world.ministry, approved_level=2)  # below level 3: not listed
    other_sys = make_system(world.province, approved_level=3, operational_status="in_operation")
    live, _ = make_source(org=world.ministry, format="wazuh")
    quiet, _ = make_source(org=world.department, format="cef")
    services.do_set_source_systems(live, [live_sys], acting_user=world.admin)
    services.do_set_source_systems(quiet, [silent_sys], acting_user=world.admin)
    services.ingest_batch(live, sample_lines("wazuh_alerts.ndjson"))
    return live_sys, silent_sys, bare_sys, other_sys, live, quiet


def states(user, **kwargs):
    return {s.code: s.monitoring for s in health.monitored_systems(user, **kwargs)}


def test_monitoring_states(watched, world):
    live_sys, silent_sys, bare_sys, other_sys, live, quiet = watched
    # `quiet` never sent anything: its system was never connected, not lost (health.Monitoring.NEVER_SENT).
    assert states(world.admin) == {live_sys.code: "connected", silent_sys.code: "never_sent", bare_sys.code: "no_source"}
    later = timezone.now() + dt.timedelta(hours=2)  # the live source has been silent for longer than an hour
    assert states(world.admin, now=later)[live_sys.code] == "disconnected"
    assert states(world.other_admin) == {other_sys.code: "no_source"}
    assert set(states(world.coordinator)) == {live_sys.code, silent_sys.code, bare_sys.code, other_sys.code}
    assert health.source_status(AlertSource.objects.get(pk=live.pk)) == "live"
    assert health.source_status(AlertSource.objects.get(pk=live.pk), now=later) == "silent"
    assert health.source_status(quiet) == "never"
    services.do_update_source(live, {"enabled": False}, acting_user=world.admin)
    assert health.source_status(AlertSource.objects.get(pk=live.pk)) == "disabled"
    assert states(world.admin)[live_sys.code] == "no_source"  # a disabled source watches nothing


def test_attaching_systems_needs_rights(watched, world):
    live_sys, silent_sys, bare_sys, other_sys, live, quiet = watched
    with pytest.raises(Forbidden):
        services.do_set_source_systems(live, [other_sys], acting_user=world.admin)  # cannot see it
    with pytest.raises(Forbidden):
        services.do_set_source_systems(live, [bare_sys], acting_user=world.auditor)  # cannot change the source
    assert list(live.systems.all()) == [live_sys]


def test_monitoring_and_sources_api(watched, world, api):
    live_sys, silent_sys, bare_sys, other_sys, live, quiet = watched
    client = api(world.admin)
    body = client.get("/api/telemetry/monitoring/").json()
    assert body["count"] == 3
    assert {r["code"]: r["monitoring"] for r in body["results"]}[silent_sys.code] == "never_sent"
    body = client.get("/api/telemetry/monitoring/?monitoring=connected").json()
    assert [r["code"] for r in body["results"]] == [live_sys.code] and body["results"][0]["monitor_sources"] == 1
    assert client.get("/api/telemetry/monitoring/?monitoring=bogus").status_code == 400
    body = client.get("/api/telemetry/monitoring/?monitoring=never_sent").json()  # a state the rows carry
    assert [r["code"] for r in body["results"]] == [silent_sys.code]
    assert api(world.responder).get("/api/telemetry/monitoring/").json()["count"] == 0
    sources = {s["name"]: s for s in client.get("/api/telemetry/sources/").json()["results"]}
    assert sources[live.name]["status"] == "live" and sources[live.name]["systems"] == [live_sys.code]
    assert sources[quiet.name]["status"] == "never"


def test_set_watched_systems_over_the_api(watched, world, api):
    live_sys, silent_sys, bare_sys, other_sys, live, quiet = watched
    url = f"/api/telemetry/sources/{live.name}/systems/"
    response = api(world.admin).put(url, {"systems": [live_sys.code, bare_sys.code]}, format="json")
    assert response.status_code == 200 and sorted(response.json()["systems"]) == sorted([live_sys.code, bare_sys.code])
    assert api(world.admin).put(url, {"systems": [other_sys.code]}, format="json").status_code == 400  # unseen = unknown
    assert api(world.admin).put(url, {"systems": ["NOPE"]}, format="json").status_code == 400
    assert api(world.admin).put(url, {"systems": "x"}, format="json").status_code == 400
    assert api(world.auditor).put(url, {"systems": []}, format="json").status_code == 403
    assert api(world.other_admin).put(url, {"systems": []}, format="json").status_code == 404  # not visible
    assert sorted(s.code for s in live.systems.all()) == sorted([live_sys.code, bare_sys.code])


def fresh(name: str, tag: str) -> list[bytes]:
    """The sample's records made new (one more field): stored again instead of recognized as duplicates."""
    return [orjson.dumps({**orjson.loads(line), "khien_test": tag}) for line in sample_lines(name)]


def test_source_activity_counts_records_per_hour_of_arrival(watched, world, api):
    live_sys, silent_sys, bare_sys, other_sys, live, quiet = watched
    first = len(sample_lines("wazuh_alerts.ndjson"))
    activity = health.source_activity([live.pk, quiet.pk])
    assert activity[live.pk].hourly[-1] == first and activity[live.pk].accepted_24h == first
    assert activity[live.pk].per_minute > 0
    assert activity[quiet.pk].accepted_24h == 0 and activity[quiet.pk].per_minute == 0
    # A second batch adds to the same hour (one upsert per batch); dead letters are counted apart.
    result = services.ingest_batch(live, fresh("wazuh_alerts.ndjson", "2") + [b"{not json"])
    assert result.rejected == 1
    again = health.source_activity([live.pk])[live.pk]
    assert again.hourly[-1] == first + result.accepted and again.rejected_24h == 1
    # Two hours on, the records sit two hours back and the rate has fallen to nothing.
    later = health.source_activity([live.pk], now=timezone.now() + dt.timedelta(hours=2))[live.pk]
    assert later.hourly[-3] == first + result.accepted and later.hourly[-1] == 0 and later.per_minute == 0
    # The API lists each source's activity; a source of another organization is not listed at all.
    sources = {s["name"]: s for s in api(world.admin).get("/api/telemetry/sources/").json()["results"]}
    assert sources[live.name]["activity"]["accepted_24h"] == first + result.accepted
    assert len(sources[live.name]["activity"]["hourly"]) == health.ACTIVITY_HOURS
    assert live.name not in {s["name"] for s in api(world.other_admin).get("/api/telemetry/sources/").json()["results"]}


def _health_notes(user):
    return list(Notification.objects.filter(recipient=user, kind="telemetry.source_health").order_by("created_at"))


def test_a_silence_is_told_once_and_the_return_too(watched, world):
    live_sys, silent_sys, bare_sys, other_sys, live, quiet = watched
    assert health.notify_source_health() == "0 sources changed"  # live, and a never-sent source is not "fallen"
    AlertSource.objects.filter(pk=live.pk).update(last_event_at=timezone.now() - dt.timedelta(hours=2))
    health.notify_source_health()
    [note] = _health_notes(world.admin)
    assert live.name in note.body and live_sys.code in note.body and note.urgent  # a level-3 system went dark
    assert len(_health_notes(world.analyst)) == 1
    assert _health_notes(world.auditor) == [] and _health_notes(world.other_admin) == []  # roles, organizations
    [national] = _health_notes(world.coordinator)
    assert live_sys.code in national.body and world.ministry.code in national.body
    # Still silent: nothing more.
    health.notify_source_health()
    assert len(_health_notes(world.admin)) == 1 and len(_health_notes(world.coordinator)) == 1
    # It sends again: told once, and a later silence is a new one.
    services.ingest_batch(live, fresh("wazuh_alerts.ndjson", "back"))
    health.notify_source_health()
    notes = _health_notes(world.admin)
    assert len(notes) == 2 and live.name in notes[1].body and not notes[1].urgent
    assert AlertSource.objects.get(pk=live.pk).silence_notified_at is None
    assert len(_health_notes(world.coordinator)) == 1
    AlertSource.objects.filter(pk=live.pk).update(last_event_at=timezone.now() - dt.timedelta(hours=3))
    health.notify_source_health()
    assert len(_health_notes(world.admin)) == 3


def test_a_silence_is_told_to_each_person_in_their_language(watched, world, reads_in):
    live_sys, silent_sys, bare_sys, other_sys, live, quiet = watched
    reads_in(world.admin, "en")
    reads_in(world.coordinator, "en")
    AlertSource.objects.filter(pk=live.pk).update(last_event_at=timezone.now() - dt.timedelta(hours=2))
    health.notify_source_health()
    [english] = _health_notes(world.admin)
    [vietnamese] = _health_notes(world.analyst)  # the platform's language
    (en_title, en_body), (vi_title, vi_body) = as_read(english), as_read(vietnamese)
    assert en_title == "1 alert source stopped sending" and en_body.startswith("Silent since ")
    assert vi_title != en_title and not vi_body.startswith("Silent since ")
    assert english.urgent and vietnamese.urgent  # a level-3 system went dark, for both
    [national] = _health_notes(world.coordinator)
    assert as_read(national)[0] == "1 level 3+ system disconnected from national monitoring"
    assert kept_untranslated(english) and kept_untranslated(national)


def test_registry_pages_show_the_live_connection(watched, world, as_user):
    live_sys, silent_sys, bare_sys, other_sys, live, quiet = watched
    client = as_user(world.admin)
    page = client.get(reverse("registry:system_detail", args=[silent_sys.pk])).content.decode()
    assert 'id="live-monitoring"' in page and "badge mon-never_sent" in page and quiet.name in page
    assert str(health.Monitoring.GAP_LABELS["never_sent"]) in page
    page = client.get(reverse("registry:system_detail", args=[live_sys.pk])).content.decode()
    assert "badge mon-connected" in page and str(health.Monitoring.GAP_LABELS["disconnected"]) not in page
    # Unwatched and declared missing: shown, but its gap is the registry's own layer-4 gap, not a second one.
    page = client.get(reverse("registry:system_detail", args=[bare_sys.pk])).content.decode()
    assert "badge mon-no_source" in page and str(health.Monitoring.GAP_LABELS["no_source"]) not in page
    listing = client.get(reverse("registry:system_list")).content.decode()
    assert listing.count("badge mon-never_sent") == 1 and listing.count("badge mon-connected") == 1
    # The sources page lists the disconnected systems the user may see, and only those.
    sources = client.get(reverse("telemetry:sources")).content.decode()
    assert silent_sys.code in sources and other_sys.code not in sources
    other = as_user(world.other_admin).get(reverse("telemetry:sources") + "?monitoring=no_source").content.decode()
    assert other_sys.code in other and silent_sys.code not in other and live.name not in other
    # The dashboard's figure of level-3+ systems not connected is the list its card opens: silent and source-less.
    client = as_user(world.admin)
    kpi = client.get(reverse("telemetry:dashboard_data")).json()["kpis"]["systems_disconnected"]
    opened = client.get(reverse("telemetry:sources") + "?monitoring=not_connected").content.decode()
    listed = opened.split('id="monitoring"')[1]
    assert kpi == 2 and silent_sys.code in listed and bare_sys.code in listed and live_sys.code not in listed


def test_a_source_sending_only_refused_records_is_told_as_such(watched, world, reads_in):
    """Its records all became dead letters (here: a device clock reset to 1970): no event, so silent for
    monitoring, but its operators are told it still sends, and to look at its dead letters."""
    live_sys, silent_sys, bare_sys, other_sys, live, quiet = watched
    reads_in(world.admin, "en")
    AlertSource.objects.filter(pk=live.pk).update(last_event_at=timezone.now() - dt.timedelta(hours=2))
    result = services.ingest_batch(live, [{"timestamp": 0, "rule": {"id": "5712", "level": 10}}])
    assert (result.accepted, result.rejected) == (0, 1)
    health.notify_source_health()
    [note] = _health_notes(world.admin)
    title, body = as_read(note)
    assert title == "1 alert source stopped sending"
    assert body.startswith("Only refused records since ") and f"{live.name} (see its dead letters)" in body
    assert "Silent since" not in body
