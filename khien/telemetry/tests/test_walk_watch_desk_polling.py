"""A script at the national watch desk polling `/api/telemetry/events/`: arrival-time windows that get every event
exactly once, ISO 8601 date errors, bad filters refused with a 400 that says why (without telling whether an
organization the reader may not see exists), and the events page keeping a date-only range in its fields."""
import datetime as dt
import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.telemetry import services
from khien.telemetry.models import Event

from .test_matching import ecs

pytestmark = pytest.mark.django_db
EVENTS = "/api/telemetry/events/"
ALERTS = "/api/telemetry/alert-groups/"


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _get(client, path, **params):
    return client.get(path + "?" + urlencode(params))


def _ids(client, **params) -> list[str]:
    """Every event of the query, page by page (`limit`, `offset`), as a script would read them."""
    ids = []
    for offset in range(20):
        answer = _get(client, EVENTS, limit=1, offset=offset, **params)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        ids += [row["id"] for row in body["results"]]
        if not body["next"]:
            return ids
    raise AssertionError("no end to the pages")


@pytest.fixture
def source(world, make_source):
    return make_source(world.ministry, "ecs")[0]


def test_a_poll_by_arrival_time_gets_a_back_dated_event_exactly_once(world, api, source):
    client = api(world.coordinator)
    services.ingest_batch(source, [ecs("203.0.113.1", rule="first", n=1), ecs("203.0.113.2", rule="first", n=2)])
    watermark = timezone.now()
    first = _ids(client, ingested_until=_iso(watermark), ordering="ingested_at")
    assert len(first) == 2
    # A record that a SOC sent late: its device time is two hours old.
    services.ingest_batch(source, [ecs("203.0.113.3", rule="late", when=timezone.now() - dt.timedelta(hours=2))])
    late = Event.objects.get(rule_id="late")
    # The usual poll by device time never sees it...
    assert late.id not in _ids(client, since=_iso(timezone.now() - dt.timedelta(minutes=5)))
    # ...the poll by arrival time does, once: the next window starts where the last one ended.
    now = timezone.now()
    second = _ids(client, ingested_since=_iso(watermark), ingested_until=_iso(now), ordering="ingested_at")
    assert second == [late.id]
    assert _ids(client, ingested_since=_iso(now), ordering="ingested_at") == []
    assert set(first) | set(second) == set(Event.objects.values_list("id", flat=True))


def test_paging_a_closed_arrival_window_is_stable_while_events_arrive(world, api, source):
    client = api(world.coordinator)
    services.ingest_batch(source, [ecs("203.0.113.9", rule="r", n=n) for n in range(4)])
    until = _iso(timezone.now())
    seen = []
    for offset in range(8):
        body = _get(client, EVENTS, ingested_until=until, ordering="-ingested_at", limit=1, offset=offset).json()
        seen += [row["id"] for row in body["results"]]
        # New events arrive between the pages: they are after the window and move nothing in it.
        services.ingest_batch(source, [ecs("198.51.100.1", rule="new", n=100 + offset)])
        if not body["next"]:
            break
    assert len(seen) == 4 and len(set(seen)) == 4
    assert set(seen) == set(Event.objects.filter(rule_id="r").values_list("id", flat=True))


def test_api_dates_are_iso_8601_and_say_so(world, api, source):
    client = api(world.coordinator)
    services.ingest_batch(source, [ecs("203.0.113.1")])
    # The `+` of the offset left unencoded in the address arrives as a space: read as the `+` it was.
    unencoded = client.get(EVENTS + "?since=2026-01-06T00:00:00+07:00")
    assert unencoded.status_code == 200 and unencoded.json()["count"] == 1, unencoded.content
    late = client.get(EVENTS + "?since=2100-01-06T00:00:00+07:00")
    assert late.status_code == 200 and late.json()["count"] == 0
    for bad in ("1700000000", "2026-02-30", "yesterday"):
        answer = _get(client, EVENTS, since=bad)
        assert answer.status_code == 400, bad
        message = answer.json()["since"][0]
        assert "ISO 8601" in message and "2026-12-06T08:30:00+07:00" in message and "nn/tt" not in message, message


def test_the_page_keeps_the_dd_mm_yyyy_message(world, as_user, source):
    page = as_user(world.analyst).get(reverse("telemetry:events") + "?since=1700000000").content.decode()
    assert "06/12/2026" in page and "ISO 8601" not in page


@pytest.mark.parametrize("path", [EVENTS, ALERTS])
def test_a_period_that_ends_before_it_starts_is_refused(world, api, path):
    answer = _get(api(world.coordinator), path, since="2026-12-07", until="2026-12-01")
    assert answer.status_code == 400 and "until" in answer.json(), answer.content


def test_a_date_only_until_takes_in_that_whole_day(world, api, as_user, source):
    day = timezone.localdate() - dt.timedelta(days=2)
    afternoon = timezone.make_aware(dt.datetime.combine(day, dt.time(15, 0)))
    services.ingest_batch(source, [ecs("203.0.113.1", rule="that-day", when=afternoon),
                                   ecs("203.0.113.2", rule="next-day", when=afternoon + dt.timedelta(days=1))])
    client = api(world.coordinator)
    for text in (day.isoformat(), day.strftime("%d/%m/%Y")):
        answer = _get(client, EVENTS, since=text, until=text)
        assert [row["rule_id"] for row in answer.json()["results"]] == ["that-day"], text
    # With a time, `until` is the moment the period ends, not taken in.
    assert _get(client, EVENTS, since=day.isoformat(), until=_iso(afternoon)).json()["count"] == 0
    page = as_user(world.analyst).get(reverse("telemetry:events"), {"since": day.isoformat(), "until": day.isoformat()})
    assert "Rule that-day" in page.content.decode() and "Rule next-day" not in page.content.decode()


def test_unknown_organization_or_source_is_refused_without_telling_what_exists(world, api, make_source):
    make_source(world.province, "ecs", name="prov-ecs")
    outsider = api(world.analyst)  # of the ministry: the province is not theirs
    for path in (EVENTS, ALERTS):
        nope = _get(outsider, path, organization="NOPE")
        hidden = _get(outsider, path, organization="PROV")
        assert nope.status_code == hidden.status_code == 400 and "organization" in nope.json()
        assert nope.json() == hidden.json()
        nope = _get(outsider, path, source="no-such-source")
        hidden = _get(outsider, path, source="prov-ecs")
        assert nope.status_code == hidden.status_code == 400 and "source" in nope.json()
        assert nope.json() == hidden.json()
        # Their own organization and its units, and an organization the coordinator sees, are fine.
        assert _get(outsider, path, organization="MIN-D1").status_code == 200
        assert _get(api(world.coordinator), path, organization="PROV", source="prov-ecs").status_code == 200


@pytest.mark.parametrize("query", ["limit=-5", "limit=0", "limit=abc", "offset=abc", "offset=-1"])
def test_bad_paging_is_refused(world, api, query):
    for path in (EVENTS, "/api/registry/organizations/"):
        answer = api(world.coordinator).get(f"{path}?{query}")
        assert answer.status_code == 400 and query.split("=")[0] in answer.json(), (path, answer.content)


def test_paging_left_empty_or_too_large_is_read_as_documented(world, api):
    client = api(world.coordinator)
    assert client.get(EVENTS + "?limit=&offset=").status_code == 200
    assert client.get(EVENTS + "?limit=5000").status_code == 200  # at most 1000 a page


def test_severity_takes_the_labels_results_carry(world, api, source):
    services.ingest_batch(source, [ecs("203.0.113.1", severity=2, n=1), ecs("203.0.113.2", severity=7, n=2),
                                   ecs("203.0.113.3", severity=8, n=3), ecs("203.0.113.4", severity=9, n=4)])
    client = api(world.coordinator)
    high = _get(client, EVENTS, severity="high").json()
    assert sorted(row["severity"] for row in high["results"]) == [7, 8]
    assert {row["severity_label"] for row in high["results"]} == {"high"}
    assert _get(client, EVENTS, severity_min="HIGH").json()["count"] == 3
    assert _get(client, ALERTS, severity_min="critical").json()["count"] == 1
    assert _get(client, EVENTS, severity="8").json()["count"] == 1
    wrong = _get(client, EVENTS, severity="huge")
    assert wrong.status_code == 400 and "critical" in wrong.json()["severity"][0]


@pytest.mark.parametrize("path", [EVENTS, ALERTS])
def test_a_misspelt_parameter_is_refused_with_the_accepted_ones(world, api, path):
    client = api(world.coordinator)
    answer = client.get(path + "?severity-min=9")
    assert answer.status_code == 400, answer.content
    detail = answer.json()["detail"]
    assert "severity-min" in detail and "severity_min" in detail and "limit" in detail
    assert client.get(path + "?limit=10&offset=0&ordering=-severity&severity_min=1").status_code == 200


def test_the_events_page_keeps_a_date_only_range_in_its_fields(world, as_user, source):
    client = as_user(world.analyst)
    response = client.get(reverse("telemetry:events") + "?since=2026-12-07&until=2026-12-01")
    page = response.content.decode()
    assert response.status_code == 400 and 'id="event-errors"' in page
    assert re.search(r'name="since" value="2026-12-07T00:00"', page), page
    # A date-only end takes in that day: the field shows where the period ends, the next midnight.
    assert re.search(r'name="until" value="2026-12-02T00:00"', page)
    alerts = client.get(reverse("telemetry:alerts") + "?since=2026-11-07&until=06/12/2026").content.decode()
    assert 'name="since" value="2026-11-07T00:00"' in alerts and 'name="until" value="2026-12-07T00:00"' in alerts


def _poll_plan(client, **params) -> str:
    """The database's plan for the events query a poll by arrival time runs (the page of results)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert _get(client, EVENTS, ordering="ingested_at", **params).status_code == 200
    sql = next(q["sql"] for q in queries.captured_queries
               if 'FROM "telemetry_event"' in q["sql"] and "ORDER BY" in q["sql"] and "COUNT(" not in q["sql"])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is tiny: ask which index would serve
            cursor.execute("EXPLAIN " + sql)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def _index_condition_on_arrival(plan: str) -> bool:
    """SQLite: `USING INDEX … (organization_id=? AND ingested_at>?)`; PostgreSQL: `Index Cond: (… ingested_at …)`."""
    return any("ingested_at" in line and ("USING INDEX" in line or "Index Cond" in line) for line in plan.splitlines())


def test_a_poll_by_arrival_time_reads_an_index_not_every_event_kept(world, api, source):
    # A national store keeps 180 days of events: a poll every minute must go straight to the new ones, for the
    # coordinator (every organization) and for an organization's own script (its events only).
    services.ingest_batch(source, [ecs("203.0.113.1", rule="r", n=n) for n in range(3)])
    since = _iso(timezone.now() - dt.timedelta(minutes=1))
    for user in (world.coordinator, world.analyst):
        plan = _poll_plan(api(user), ingested_since=since)
        assert _index_condition_on_arrival(plan), plan
