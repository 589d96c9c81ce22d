"""A script paging the events API far in (`?offset=` past a thousand) gets the same events, in the same order, as
the list read whole — the page is read by its ids first (`core.api.pagination`), which keeps a deep page fast."""
import datetime as dt

import pytest

from khien.telemetry import services
from khien.telemetry.tests.test_matching import ecs

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 12, 1, 3, 0, 0, tzinfo=dt.timezone.utc)


def test_a_deep_page_of_events_is_the_same_as_the_list_read_whole(world, make_source, as_user):
    source = make_source(world.ministry, "ecs")[0]
    services.ingest_batch(source, [ecs(f"198.51.{n // 250}.{n % 250}", rule=f"r{n}", when=T + dt.timedelta(seconds=n))
                                   for n in range(1100)])
    client = as_user(world.analyst)
    whole = []
    for offset in range(0, 1100, 1000):
        answer = client.get(f"/api/telemetry/events/?limit=1000&offset={offset}&since=2026-12-01T00:00:00Z").json()
        assert answer["count"] == 1100
        whole += [event["rule_id"] for event in answer["results"]]
    assert whole == [f"r{n}" for n in range(1099, -1, -1)]  # newest first, each once
    deep = client.get("/api/telemetry/events/?limit=7&offset=1090&since=2026-12-01T00:00:00Z").json()
    assert [event["rule_id"] for event in deep["results"]] == ["r9", "r8", "r7", "r6", "r5", "r4", "r3"]
    assert deep["results"][0]["source"] == source.name and "offset=1097" in deep["next"]
    # Past the end: nothing, not an error.
    assert client.get("/api/telemetry/events/?offset=5000").json()["results"] == []


def test_a_deep_page_of_the_events_page_shows_the_same_events(world, make_source, as_user):
    """The events page far in (past a thousand rows: its page 21 and on) reads its page by ids first too."""
    source = make_source(world.ministry, "ecs")[0]
    services.ingest_batch(source, [ecs(f"198.51.{n // 250}.{n % 250}", rule=f"r{n}", when=T + dt.timedelta(seconds=n))
                                   for n in range(1100)])
    client = as_user(world.analyst)
    page = client.get("/telemetry/events/", {"since": "2026-12-01T00:00", "until": "2026-12-02T00:00", "page": 21})
    assert page.status_code == 200
    shown = [event.rule_id for event in page.context["events"]]
    assert shown == [f"r{n}" for n in range(99, 49, -1)] and page.context["has_next"]
