"""Source health and the monitoring state of level-3+ systems."""
import datetime as dt

import pytest
from django.utils import timezone

from khien.core.errors import Forbidden
from khien.telemetry import health, services
from khien.telemetry.models import AlertSource

from .conftest import sample_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def watched(world, make_system, make_source):
    live_sys = make_system(world.ministry, approved_level=3)
    silent_sys = make_system(world.department, approved_level=4)
    bare_sys = make_system(world.ministry, approved_level=5)
    make_system(world.ministry, approved_level=2)  # below level 3: not listed
    other_sys = make_system(world.province, approved_level=3)
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
    assert states(world.admin) == {live_sys.code: "connected", silent_sys.code: "disconnected", bare_sys.code: "no_source"}
    later = timezone.now() + dt.timedelta(hours=2)  # the live source has been silent for longer than an hour
    assert states(world.admin, now=later)[live_sys.code] == "disconnected"
    assert states(world.other_admin) == {other_sys.code: "no_source"}
    assert set(states(world.coordinator)) == {live_sys.code, silent_sys.code, bare_sys.code, other_sys.code}
    assert health.source_status(AlertSource.objects.get(pk=live.pk)) == "live"
    assert health.source_status(AlertSource.objects.get(pk=live.pk), now=later) == "silent"
    assert health.source_status(quiet) == "never"
    services.do_set_source_enabled(live, False, acting_user=world.admin)
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
    assert {r["code"]: r["monitoring"] for r in body["results"]}[silent_sys.code] == "disconnected"
    body = client.get("/api/telemetry/monitoring/?monitoring=connected").json()
    assert [r["code"] for r in body["results"]] == [live_sys.code] and body["results"][0]["monitor_sources"] == 1
    assert client.get("/api/telemetry/monitoring/?monitoring=bogus").status_code == 400
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
