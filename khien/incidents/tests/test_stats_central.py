"""The statistics page counts the ministries and central bodies apart ("Central agencies"), not under Hà Nội where
their seat is: Vietnam's plans report "bộ, ngành" and "địa phương" separately. A Hà Nội department of the
province's People's Committee is Hà Nội's. The bar, its link to the incident list, the list's filter, its export
and the API count the same incidents (`registry.places`, one rule)."""
import csv
import datetime as dt
import io
import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from khien.conftest import _org
from khien.incidents import stats
from khien.registry import places
from khien.registry.models import Province

pytestmark = pytest.mark.django_db

STATS = "/incidents/stats/"


@pytest.fixture
def seats(world, report):
    """Every organization seated in Hà Nội; the ministry's line reports three incidents (one by an enterprise
    under it seated elsewhere), the Hà Nội People's Committee's line two."""
    hanoi = Province.objects.get_or_create(code="01", defaults={
        "name_vi": "Thành phố Hà Nội", "name_en": "Hanoi", "kind": "city", "region": "north"})[0]
    hcm = Province.objects.get_or_create(code="79", defaults={
        "name_vi": "Thành phố Hồ Chí Minh", "name_en": "Ho Chi Minh City", "kind": "city", "region": "south"})[0]
    for org in (world.ministry, world.department, world.province, world.commune):
        org.province = hanoi
        org.save(update_fields=["province"])
    soe = _org("MIN-SOE", "soe", parent=world.ministry, province=hcm)
    department = _org("PROV-SO", "agency", parent=world.province, province=hanoi)
    when = timezone.now() - dt.timedelta(days=1)
    incidents = {
        "ministry": report(now=when),
        "department": report(org=world.department, user=world.dept_analyst, now=when),
        "soe": report(org=soe, now=when),
        "committee": report(org=world.province, user=world.other_admin, now=when),
        "hanoi_department": report(org=department, user=world.other_admin, now=when),
    }
    return incidents


def _by_place(data):
    chart = data["charts"]["by_province"]
    return dict(zip(chart["keys"], chart["values"]))


def test_the_ministries_are_counted_apart_not_under_hanoi(world, seats):
    data = stats.compute(world.coordinator, {})
    assert _by_place(data) == {places.CENTRAL: 3, "01": 2}
    chart = data["charts"]["by_province"]
    assert chart["labels"][chart["keys"].index(places.CENTRAL)] == str(places.label(places.CENTRAL))
    # The ministry's own readers: its line only, all of it central.
    assert _by_place(stats.compute(world.analyst, {})) == {places.CENTRAL: 3}
    assert _by_place(stats.compute(world.other_admin, {})) == {"01": 2}


def test_the_filter_counts_the_bar(world, seats):
    form = stats.StatsFilterForm({"province": places.CENTRAL})
    assert form.is_valid(), form.errors
    assert (places.CENTRAL, str(places.label(places.CENTRAL))) in [(k, str(v)) for k, v in
                                                                    form.fields["province"].choices]
    assert stats.compute(world.coordinator, form.cleaned_data)["total"] == 3
    assert stats.compute(world.coordinator, {"province": "01"})["total"] == 2
    # The ministry's analyst asking for Hà Nội: none of the ministry's incidents are Hà Nội's.
    assert stats.compute(world.analyst, {"province": "01"})["total"] == 0
    assert not stats.StatsFilterForm({"province": "nowhere"}).is_valid()


def _csv_references(response) -> set[str]:
    assert response.status_code == 200, response.content[:300]
    return {row[0] for row in list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]}


def test_each_place_bar_links_to_the_incidents_it_counts(world, seats, coordinator_client):
    page = coordinator_client.get(STATS)
    assert page.status_code == 200
    text = page.content.decode()
    links = {parse_qs(urlparse(unescape(href)).query)["province"][0]: unescape(href)
             for href in re.findall(r'href="(/incidents/\?[^"]*province=[^"&]+[^"]*)"', text)}
    assert set(links) >= {places.CENTRAL, "01"}
    assert 'id="note-by_province"' in text  # the chart says who counts as central
    expected = {places.CENTRAL: {"ministry", "department", "soe"}, "01": {"committee", "hanoi_department"}}
    for place, names in expected.items():
        references = _csv_references(coordinator_client.get(links[place] + "&format=csv"))
        assert references == {seats[name].reference for name in names}
        assert _by_place(stats.compute(world.coordinator, {}))[place] == len(references)
    # The list offers the central agencies among its provinces, and keeps the choice.
    listed = coordinator_client.get("/incidents/", {"province": places.CENTRAL}).content.decode()
    assert re.search(rf'<option value="{places.CENTRAL}" selected', listed)
    # The stats page's own filter offers it too and counts the bar.
    chosen = coordinator_client.get(STATS, {"province": places.CENTRAL}).content.decode()
    assert re.search(rf'<option value="{places.CENTRAL}" selected', chosen)


def test_the_api_takes_the_central_value_and_refuses_an_unknown_one(world, seats, api):
    client = api(world.coordinator)
    answer = client.get("/api/incidents/", {"province": places.CENTRAL})
    assert answer.status_code == 200
    body = answer.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert {r["reference"] for r in rows} == {seats[k].reference for k in ("ministry", "department", "soe")}
    answer = client.get("/api/incidents/", {"province": "01"})
    body = answer.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert {r["reference"] for r in rows} == {seats[k].reference for k in ("committee", "hanoi_department")}
    assert client.get("/api/incidents/stats/", {"province": places.CENTRAL}).json()["total"] == 3
    for path in ("/api/incidents/", "/api/incidents/stats/"):
        refused = client.get(path, {"province": "trung-uong"})
        assert refused.status_code == 400 and "province" in str(refused.json()), path
