"""The coordinator reads the events of one province or one sector: the dashboard's province and sector bars open
them, the events page and the API filter by `province` and `sector` (codes), and an unknown code is a 400 naming
the codes there are. The reader's scope still applies."""
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from khien.registry.models import Province, Sector
from khien.telemetry import services
from khien.telemetry.views import dashboard_data

from .test_matching import ecs

pytestmark = pytest.mark.django_db
EVENTS = "/api/telemetry/events/"


@pytest.fixture
def places(world, make_source):
    # The reference provinces are loaded with the schema; the test's own sectors beside any there are.
    south, north = Province.objects.get_or_create(code="79", defaults={
        "name_vi": "TP. Hồ Chí Minh", "name_en": "Ho Chi Minh City", "kind": "city", "region": "south"})[0], \
        Province.objects.get_or_create(code="01", defaults={
            "name_vi": "Hà Nội", "name_en": "Hanoi", "kind": "city", "region": "north"})[0]
    energy = Sector.objects.create(code="test-energy", name_vi="Năng lượng (thử)", name_en="Energy (test)")
    Sector.objects.create(code="test-bank", name_vi="Ngân hàng (thử)", name_en="Banking (test)")
    world.province.province = south
    world.province.save(update_fields=["province"])
    world.ministry.province = north
    world.ministry.save(update_fields=["province"])
    world.ministry.sectors.add(energy)
    for org, rule, n in ((world.ministry, "ministry", 2), (world.province, "province", 3)):
        source, _key = make_source(org, "ecs")
        services.ingest_batch(source, [ecs("203.0.113.5", rule=rule, n=i) for i in range(n)])
    return south, energy


def _rules(answer) -> list[str]:
    assert answer.status_code == 200, answer.content
    return sorted(row["rule_id"] for row in answer.json()["results"])


def test_the_api_filters_events_by_province_and_sector(world, api, places):
    client = api(world.coordinator)
    assert _rules(client.get(EVENTS, {"province": "79"})) == ["province"] * 3
    assert _rules(client.get(EVENTS, {"sector": "test-energy"})) == ["ministry"] * 2
    assert _rules(client.get(EVENTS, {"sector": "test-bank"})) == []
    # The reader's scope first: the ministry's analyst asking for the province's events gets none of them.
    assert _rules(api(world.analyst).get(EVENTS, {"province": "79"})) == []


@pytest.mark.parametrize("param", ["province", "sector"])
def test_an_unknown_code_is_refused_naming_the_codes(world, api, places, param):
    answer = api(world.coordinator).get(EVENTS, {param: "nowhere"})
    assert answer.status_code == 400
    message = " ".join(answer.json()[param])
    assert "nowhere" in message and ("79" in message if param == "province" else "test-energy" in message)


def test_the_dashboard_bars_open_the_events_of_their_province_and_sector(world, coordinator_client, places):
    data = dashboard_data(world.coordinator)
    client = coordinator_client
    for chart, code, rule, n in (("provinces", "79", "province", 3), ("sectors", "test-energy", "ministry", 2)):
        link = data[chart]["links"][data[chart]["values"].index(n)]
        param = "province" if chart == "provinces" else "sector"
        assert parse_qs(urlparse(link).query)[param] == [code]
        page = client.get(link).content.decode()
        assert page.count("<tr data-event=") == n and rule in page


def test_the_events_page_offers_provinces_and_sectors_and_keeps_the_choice(world, coordinator_client, places):
    page = coordinator_client.get(reverse("telemetry:events"), {"province": "79"}).content.decode()
    assert '<option value="79" selected>' in page and '<option value="test-energy">' in page
    assert page.count("<tr data-event=") == 3
    refused = coordinator_client.get(reverse("telemetry:events"), {"sector": "nowhere"})
    assert refused.status_code == 400 and "nowhere" in refused.content.decode()
