"""The order and bounds of event searches (`services.newest_events_first`, applied by `EventFilter`): the national
coordinator's searches read the primary key, whose ids start with the event time; scoped ones the organization's
time index. Both give the same events in the same order."""
import datetime as dt

import pytest
from django.http import QueryDict
from django.test import RequestFactory

from khien.telemetry import services
from khien.telemetry.filters import EventFilter
from khien.telemetry.models import Event
from khien.telemetry.tests.test_matching import ecs

T = dt.datetime(2026, 12, 1, 3, 0, 0, 123000, tzinfo=dt.timezone.utc)


@pytest.fixture
def stored(world, make_source):
    source = make_source(world.ministry, "ecs")[0]
    services.ingest_batch(source, [ecs(f"198.51.100.{n + 10}", rule=f"r{n}", when=T + dt.timedelta(seconds=n))
                                   for n in range(-3, 4)])
    return source


def search(user, query: str) -> list[str]:
    request = RequestFactory().get("/")
    request.user = user
    found = EventFilter(QueryDict(query), request=request,
                        queryset=Event.objects.visible_to(user))
    assert found.is_valid(), found.errors
    return [event.rule_id for event in found.qs]


def test_the_coordinator_and_an_organization_get_the_same_events_newest_first(world, stored):
    everything = search(world.coordinator, "")
    assert everything == ["r3", "r2", "r1", "r0", "r-1", "r-2", "r-3"]
    assert search(world.analyst, "") == everything
    window = "since=2026-12-01T03:00:00.123Z&until=2026-12-01T03:00:02.123Z"
    assert search(world.coordinator, window) == search(world.analyst, window) == ["r1", "r0"]


def test_the_bounds_keep_an_event_of_the_last_millisecond(world, stored):
    # r0 is at 03:00:00.123; an end 0.4 ms later still takes it (its id is that millisecond's prefix + its digest).
    query = "since=2026-12-01T03:00:00.123Z&until=2026-12-01T03:00:00.1234Z"
    assert search(world.coordinator, query) == ["r0"]
    assert search(world.coordinator, "since=2026-12-01T03:00:00.1231Z&until=2026-12-01T03:00:01Z") == []


def test_events_stored_before_ids_led_with_their_time_keep_their_place(world, stored):
    """An id from before telemetry migration 0006 (a bare digest): the coordinator's order falls back to time."""
    legacy = Event.objects.filter(rule_id="r0").values()[0]
    legacy.update(id="f" * 64, rule_id="legacy", time=T + dt.timedelta(milliseconds=500))
    legacy.pop("day", None)
    Event.objects.create(**legacy)
    assert search(world.coordinator, "since=2026-12-01T03:00:00Z&until=2026-12-01T03:00:02Z") == [
        "r1", "legacy", "r0"]


def test_the_events_page_names_categories_in_the_readers_language(world, stored, as_user):
    client = as_user(world.analyst)
    page = client.get("/telemetry/events/?since=2026-11-30T00:00:00Z").content.decode()
    assert 'title="intrusion_detection">phát hiện xâm nhập<' in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/telemetry/events/?since=2026-11-30T00:00:00Z").content.decode()
    assert 'title="intrusion_detection">intrusion detection<' in page


def test_the_events_api_takes_one_observable_whatever_its_kind(world, make_source, as_user):
    """Issue 5's events list is filterable by observable: an indicator's value pasted as it is (the alert list's
    `observable`), an address as source or destination, a hash by its length, a URL, a domain."""
    source = make_source(world.ministry, "ecs")[0]
    digest = "ab" * 32
    services.ingest_batch(source, [
        ecs("198.51.100.7", rule="addr", when=T),
        ecs("198.51.100.8", rule="dom", when=T + dt.timedelta(seconds=1), domain="c2.example.org",
            url="https://c2.example.org/login"),
        ecs("198.51.100.9", rule="hash", when=T + dt.timedelta(seconds=2), sha256=digest),
    ])
    client = as_user(world.analyst)

    def found(value):
        answer = client.get("/api/telemetry/events/", {"observable": value})
        assert answer.status_code == 200, answer.content
        return sorted(event["rule_id"] for event in answer.json()["results"])

    assert found("198.51.100.7") == ["addr"]
    assert found("c2.example.org") == ["dom"] and found("C2.Example.org.") == ["dom"]
    assert found(digest.upper()) == ["hash"] and found("https://c2.example.org/login") == ["dom"]
    assert found("example.org") == []  # exactly: the `domain` filter takes subdomains
    assert found("203.0.113.250") == []
    # Another organization's analyst finds nothing of it.
    other = as_user(world.other_admin)
    assert other.get("/api/telemetry/events/", {"observable": "198.51.100.7"}).json()["count"] == 0
