"""The statistics page's bars are links (the month, sector and province charts): each bar is an <a> to the filtered
incident list its table row links to, named by its name and count (keyboard and screen readers), and its count is
the number of rows of that list — the central agencies' bar included."""
import re
from html import unescape

import pytest
from django.conf import settings

from khien.registry import places

from .test_stats_central import _csv_references, seats  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _bars(page: str, key: str) -> list[dict]:
    svg = page[page.index(f'id="bars-{key}"'):]
    svg = svg[:svg.index("</svg>")]
    return [{"href": unescape(href), "name": unescape(name), "count": int(count)}
            for href, count, name in re.findall(r'<a href="([^"]+)" data-count="(\d+)"><title>([^<]+)</title>', svg)]


def test_each_bar_links_to_the_list_of_what_it_counts(world, seats, coordinator_client):  # noqa: F811
    coordinator_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = coordinator_client.get("/incidents/stats/").content.decode()
    province = _bars(page, "by_province")
    central = next(bar for bar in province if f"province={places.CENTRAL}" in bar["href"])
    assert central["count"] == 3 and central["name"] == "Central agencies: 3 incidents"
    hanoi = next(bar for bar in province if "province=01" in bar["href"])
    months = [bar for bar in _bars(page, "by_month") if bar["count"]]
    sectors = _bars(page, "by_sector")
    assert months and len(_bars(page, "by_month")) == 12  # every month a bar, the empty ones too
    for bar in [central, hanoi, *months, *sectors]:
        listed = _csv_references(coordinator_client.get(bar["href"] + "&format=csv"))
        assert len(listed) == bar["count"], bar
        # The table's row links to the same list.
        assert page.count(bar["href"].replace("&", "&amp;")) >= 2  # the bar and its table row


def test_the_bars_follow_the_filters(world, seats, coordinator_client):  # noqa: F811
    page = coordinator_client.get("/incidents/stats/", {"province": places.CENTRAL}).content.decode()
    for bar in _bars(page, "by_month") + _bars(page, "by_province"):
        assert f"province={places.CENTRAL}" in bar["href"]
        assert len(_csv_references(coordinator_client.get(bar["href"] + "&format=csv"))) == bar["count"]


def test_the_ministrys_analyst_sees_only_its_bars(world, seats, as_user):  # noqa: F811
    page = as_user(world.analyst).get("/incidents/stats/").content.decode()
    assert [bar["count"] for bar in _bars(page, "by_province")] == [3]
    assert "province=01" not in page[page.index('id="bars-by_province"'):]
