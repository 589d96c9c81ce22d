"""The national dashboard's provinces chart counts the ministries and central bodies apart ("Central agencies"),
not under Hà Nội where their seat is; a Hà Nội department of the province's People's Committee is Hà Nội's. Each
bar opens the events it counts, and the events page and the API take the central value as a `province`
(`registry.places`, one rule); an unknown value stays a 400 naming the values there are."""
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from khien.conftest import _org
from khien.registry import places
from khien.registry.models import Province
from khien.telemetry import services
from khien.telemetry.views import dashboard_data

from .test_matching import ecs

pytestmark = pytest.mark.django_db
EVENTS = "/api/telemetry/events/"


@pytest.fixture
def seats(world, make_source):
    """Everyone seated in Hà Nội: the ministry's line sends 4 events (one from an enterprise under it seated in Hồ
    Chí Minh City), the Hà Nội People's Committee's department 3."""
    hanoi = Province.objects.get_or_create(code="01", defaults={
        "name_vi": "Thành phố Hà Nội", "name_en": "Hanoi", "kind": "city", "region": "north"})[0]
    hcm = Province.objects.get_or_create(code="79", defaults={
        "name_vi": "Thành phố Hồ Chí Minh", "name_en": "Ho Chi Minh City", "kind": "city", "region": "south"})[0]
    for org in (world.ministry, world.department, world.province):
        org.province = hanoi
        org.save(update_fields=["province"])
    soe = _org("MIN-SOE", "soe", parent=world.ministry, province=hcm)
    department = _org("PROV-SO", "agency", parent=world.province, province=hanoi)
    for org, rule, n in ((world.ministry, "ministry", 2), (world.department, "ministry", 1), (soe, "ministry", 1),
                         (department, "hanoi", 3)):
        source, _key = make_source(org, "ecs")
        services.ingest_batch(source, [ecs("203.0.113.5", rule=rule, n=i) for i in range(n)])
    return hanoi


def _bars(data):
    chart = data["provinces"]
    return {parse_qs(urlparse(link).query)["province"][0]: (name, value, link)
            for name, value, link in zip(chart["names"], chart["values"], chart["links"])}


def test_the_ministries_are_counted_apart_not_under_hanoi(world, seats):
    bars = _bars(dashboard_data(world.coordinator))
    assert {place: value for place, (_n, value, _l) in bars.items()} == {places.CENTRAL: 4, "01": 3}
    assert bars[places.CENTRAL][0] == str(places.label(places.CENTRAL))
    assert bars["01"][0] == seats.name
    # The ministry's analyst: its line, all of it central.
    mine = _bars(dashboard_data(world.analyst))
    assert {place: value for place, (_n, value, _l) in mine.items()} == {places.CENTRAL: 4}


def test_each_bar_opens_the_events_it_counts(world, seats, coordinator_client):
    for place, (_name, value, link) in _bars(dashboard_data(world.coordinator)).items():
        page = coordinator_client.get(link)
        assert page.status_code == 200
        text = page.content.decode()
        assert text.count("<tr data-event=") == value, place
        # The events page keeps the choice in its province list.
        assert f'<option value="{place}" selected>' in text
    page = coordinator_client.get(reverse("telemetry:dashboard")).content.decode()
    assert str(places.label(places.CENTRAL)) in page and "province=central" in page
    assert 'id="note-provinces"' in page  # the chart says who counts as central


def _rules(answer) -> list[str]:
    assert answer.status_code == 200, answer.content
    return sorted(row["rule_id"] for row in answer.json()["results"])


def test_the_api_takes_the_central_value(world, api, seats):
    client = api(world.coordinator)
    assert _rules(client.get(EVENTS, {"province": places.CENTRAL})) == ["ministry"] * 4
    assert _rules(client.get(EVENTS, {"province": "01"})) == ["hanoi"] * 3
    # The reader's scope still first: the province's administrator asking for the central agencies gets none.
    assert _rules(api(world.other_admin).get(EVENTS, {"province": places.CENTRAL})) == []


def test_an_unknown_value_is_refused_naming_the_central_one_and_the_codes(world, api, seats, coordinator_client):
    answer = api(world.coordinator).get(EVENTS, {"province": "trung-uong"})
    assert answer.status_code == 400
    message = " ".join(answer.json()["province"])
    assert "trung-uong" in message and places.CENTRAL in message and "01" in message
    assert coordinator_client.get(reverse("telemetry:events"), {"province": "trung-uong"}).status_code == 400


def test_the_charts_cost_the_same_queries_however_many_organizations_send(world, seats, make_source,
                                                                          django_assert_max_num_queries):
    """The severity bands, sectors, places and most targeted organizations come from one grouped read of the
    hourly counts (a month of a national store was read once per chart, the sectors with a subquery per row)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        dashboard_data(world.coordinator)
    # The hourly counts are read three times: the last 24 hours' total, per hour (the first chart) and per
    # organization and severity (all the others).
    assert sum("telemetry_hourlycount" in q["sql"] for q in few.captured_queries) == 3
    for n in range(6):
        source, _key = make_source(_org(f"MIN-U{n}", "agency", parent=world.ministry), "ecs")
        services.ingest_batch(source, [ecs("203.0.113.9", rule="more", n=n, severity=9)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        data = dashboard_data(world.coordinator)
    assert sum(data["targeted"]["values"]) == 6 and data["targeted"]["labels"][0].startswith("MIN-U")
    assert sum(data["provinces"]["values"]) == sum(data["severity"]["values"]) == 7 + 6
