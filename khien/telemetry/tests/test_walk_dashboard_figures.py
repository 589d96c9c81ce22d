"""Coordinator walkthrough of the live dashboard: its name, its key figures and the API's answer.

- The heading is the dashboard's name ("Live national dashboard", as the tab title), not "National early warning",
  which is another feature with its own menu.
- Every key figure opens the list it counts, and the page's tiles and the API's `kpi_links` are one mapping: the
  sources-sending figure opens the live sources (it opened all of them), the open-alerts figure is in `kpi_links`.
- The open-campaigns figure counts every open campaign, not the ten the table shows.
- `generated` (and a campaign's `last_seen`) are ISO 8601 with the offset, as every other API gives times.
"""
import datetime as dt
import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from khien.telemetry.models import Campaign, CampaignKind
from khien.telemetry.tests.test_dashboard import traffic  # noqa: F401 (fixture)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)
from khien.telemetry.views import TOP, dashboard_data

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$")


def tiles(html: str) -> dict:
    """{figure key: href} of the page's key-figure tiles."""
    return {key: unescape(href) for href, key in
            re.findall(r'<a class="kpi[^"]*" href="([^"]*)" data-kpi-link="([^"]+)"', html)}


def _open_campaigns(n, now):
    for i in range(n):
        Campaign.objects.create(kind=CampaignKind.RULE, key=f"rule-{i}", title=f"rule {i}", rule_name=f"Rule {i}",
                                first_seen=now - dt.timedelta(hours=2), last_seen=now - dt.timedelta(minutes=i),
                                organization_count=3, count=10 + i)


def test_the_heading_is_the_dashboards_name(world, coordinator_client, as_user):
    coordinator_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    with translation.override("en"):
        page = coordinator_client.get(reverse("telemetry:dashboard")).content.decode()
        assert "<h1>Live national dashboard</h1>" in page and "<title>Live national dashboard" in page
        assert "National early warning" not in page
        mine = as_user(world.analyst).get(reverse("telemetry:dashboard")).content.decode()
        assert "<h1>Live dashboard of your organizations</h1>" in mine
        assert "<title>Live dashboard of your organizations" in mine


def test_each_tile_opens_what_the_api_names(world, traffic, coordinator_client):
    page = coordinator_client.get(reverse("telemetry:dashboard")).content.decode()
    data = coordinator_client.get(reverse("telemetry:dashboard_data")).json()
    shown = tiles(page)
    assert set(shown) == set(data["kpis"]) == set(data["kpi_links"])  # every figure a tile, every tile a link
    for key, href in shown.items():  # the hits link moves with the clock: same list, same filters
        assert href.split("?")[0] == data["kpi_links"][key].split("?")[0], key
        assert re.sub(r"since=[^&]*", "", href) == re.sub(r"since=[^&]*", "", data["kpi_links"][key]), key
    assert data["kpi_links"]["alerts_open_high"] == reverse("telemetry:alerts") + "?status=open&severity_min=7"
    assert data["kpi_links"]["campaigns"] == reverse("telemetry:campaigns") + "?status=open"


def test_the_sources_sending_figure_opens_the_live_sources(world, traffic, as_user):
    client = as_user(world.admin)
    data = client.get(reverse("telemetry:dashboard_data")).json()
    assert "campaigns" not in data["kpi_links"]  # only the coordinator sees campaigns
    listed = client.get(data["kpi_links"]["sources_live"].split("#")[0]).content.decode()
    assert '?status=live#source-table" aria-current="true"' in listed
    table = listed.split('id="source-table"')[1].split("</table>")[0]
    assert table.count("<tr><td><a") == data["kpis"]["sources_live"] == 2


def test_the_open_alerts_link_lists_as_many_alerts_as_the_figure(world, traffic, as_user):
    client = as_user(world.analyst)
    data = client.get(reverse("telemetry:dashboard_data")).json()
    listed = client.get(data["kpi_links"]["alerts_open_high"]).content.decode()
    assert listed.count('name="alerts" value=') == data["kpis"]["alerts_open_high"] == 2


def test_the_campaign_figure_counts_every_open_campaign(world, db):
    _open_campaigns(TOP + 3, timezone.now())
    data = dashboard_data(world.coordinator)
    assert data["kpis"]["campaigns"] == TOP + 3 and len(data["campaigns"]) == TOP


def test_times_are_iso_8601_with_their_offset(world, api, coordinator_client):
    now = timezone.now()
    _open_campaigns(1, now)
    answer = api(world.coordinator).get("/api/telemetry/dashboard/").json()
    assert ISO_WITH_OFFSET.match(answer["generated"]), answer["generated"]
    assert abs(dt.datetime.fromisoformat(answer["generated"]) - now) < dt.timedelta(minutes=1)
    seen = answer["campaigns"][0]["last_seen"]
    assert ISO_WITH_OFFSET.match(seen) and dt.datetime.fromisoformat(seen) == now.replace(microsecond=0)
    page = coordinator_client.get(reverse("telemetry:dashboard")).content.decode()
    # The page writes them as people read them, the machine-readable time beside.
    assert re.search(r'<time id="tele-generated" datetime="[^"]+\+07:00">\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}</time>',
                     page)
    local = timezone.localtime(now)
    assert f'<time datetime="{seen}">{local:%d/%m %H:%M}</time>' in page


@pytest.mark.parametrize("url", ["telemetry:dashboard", "telemetry:campaigns"])
def test_phone_tables_name_each_figure(world, coordinator_client, url):
    """On a phone the tables' rows are stacked: every cell carries its column's name (telemetry.css .tele-stack)."""
    coordinator_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    _open_campaigns(2, timezone.now())
    with translation.override("en"):
        page = coordinator_client.get(reverse(url)).content.decode()
    rows = re.findall(r"<tr>(<td class=\"wrap-long\".*?)</tr>", page, re.S)  # a severity badge ends its line
    assert rows
    for row in rows:
        cells = re.findall(r"<td[^>]*>", row)
        assert all("data-label=" in cell for cell in cells), row
        assert 'data-label="Last seen"' in row
