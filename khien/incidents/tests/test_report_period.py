"""The monthly report: the incident list and its exports limited to a report period, a province, a sector and a
TLP, as the statistics page counts; export times in Vietnam time as date cells; the TLP of the file marked."""
import csv
import datetime as dt
import io
import re
from html import unescape

import pytest
from openpyxl import load_workbook

from khien.core.models import AuditEntry
from khien.incidents import stats
from khien.registry.models import Province, Sector

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc
# 30/11/2026 23:30 and 01/12/2026 00:30 in Vietnam time: the month's edge in Vietnam is not UTC's.
LAST_OF_NOV = dt.datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
FIRST_OF_DEC = dt.datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
MID_NOV = dt.datetime(2026, 11, 15, 1, 33, tzinfo=UTC)  # 08:33 in Vietnam
OCT = dt.datetime(2026, 10, 20, 3, 0, tzinfo=UTC)


def _csv(response):
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture
def month(world, report):
    province = Province.objects.order_by("code").first()
    sector = Sector.objects.order_by("code").first()
    world.ministry.province = province
    world.ministry.save()
    world.ministry.sectors.add(sector)
    incidents = {
        "mid": report(now=MID_NOV, detected_at=MID_NOV - dt.timedelta(hours=1), tlp="red", people_affected=1200),
        "last": report(now=LAST_OF_NOV, detected_at=LAST_OF_NOV - dt.timedelta(hours=1), tlp="amber_strict"),
        "dec": report(now=FIRST_OF_DEC, detected_at=FIRST_OF_DEC - dt.timedelta(hours=1)),
        "oct": report(now=OCT, detected_at=OCT - dt.timedelta(hours=1)),
        # Another province (no province, no sector), seen by the coordinator only.
        "prov": report(org=world.province, user=world.other_admin, now=MID_NOV, detected_at=MID_NOV),
    }
    return province, sector, incidents


def _export_link(page: str, fmt: str) -> str:
    found = re.search(rf'id="stats-export-{fmt}" href="([^"]+)"', page)
    assert found, "the statistics page links to the export"
    return unescape(found.group(1))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_stats_count_equals_the_rows_of_its_export_link(world, month, coordinator_client, fmt):
    province, sector, incidents = month
    for query, expected in (("since=2026-11-01&until=2026-11-30", {"mid", "last", "prov"}),
                            # The ministry counts with the central agencies, not its seat's province (`registry.places`).
                            (f"since=2026-11-01&until=2026-11-30&province=central&sector={sector.code}",
                             {"mid", "last"})):
        page = coordinator_client.get(f"/incidents/stats/?{query}")
        assert page.status_code == 200
        data = stats.compute(world.coordinator, _form(query))
        link = _export_link(page.content.decode(), fmt)
        response = coordinator_client.get(link)
        assert response.status_code == 200
        if fmt == "csv":
            references = {row[0] for row in _csv(response)[1:]}
        else:
            sheet = load_workbook(io.BytesIO(response.content))[_sheet_title(response)]
            references = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert references == {incidents[k].reference for k in expected}
        assert data["total"] == len(references)


def _form(query):
    form = stats.StatsFilterForm(dict(p.split("=") for p in query.split("&")))
    assert form.is_valid(), form.errors
    return form.cleaned_data


def _sheet_title(response):
    book = load_workbook(io.BytesIO(response.content))
    return book.sheetnames[1]


def test_month_bars_link_to_the_months_incidents(world, month, coordinator_client):
    province, sector, incidents = month
    page = coordinator_client.get("/incidents/stats/?since=2026-10-01&until=2026-11-30").content.decode()
    links = [unescape(h) for h in re.findall(r'href="(/incidents/\?[^"]*reported_after=2026-11-01[^"]*)"', page)]
    month_link = next(h for h in links if "reported_before=2026-11-30" in h and "format" not in h)
    listed = coordinator_client.get(month_link + "&format=csv")
    assert {r[0] for r in _csv(listed)[1:]} == {incidents[k].reference for k in ("mid", "last", "prov")}


def test_report_period_province_sector_filters_on_list_and_api(world, month, as_user):
    province, sector, incidents = month
    client = as_user(world.analyst)
    page = client.get("/incidents/?reported_after=01/11/2026&reported_before=30/11/2026")
    assert page.status_code == 200
    text = page.content.decode()
    assert incidents["mid"].reference in text and incidents["last"].reference in text
    assert incidents["dec"].reference not in text and incidents["oct"].reference not in text
    # The page offers the period, province, sector and TLP filters (selects for the codes).
    for name in ("reported_after", "reported_before"):
        assert f'name="{name}"' in text
    for name in ("province", "sector", "tlp_max"):
        assert re.search(rf'<select name="{name}"', text), name
    # The province's incident is never in the analyst's list, whatever the filter.
    assert incidents["prov"].reference not in text
    response = client.get(f"/api/incidents/?reported_after=2026-11-01&reported_before=2026-11-30"
                          f"&province=central&sector={sector.code}")  # the ministry: central, not its seat's province
    assert response.status_code == 200
    body = response.json()
    results = body["results"] if isinstance(body, dict) else body
    assert {r["reference"] for r in results} == {incidents["mid"].reference, incidents["last"].reference}


def test_bad_filters_are_refused_clearly(world, month, as_user):
    client = as_user(world.analyst)
    before = AuditEntry.objects.filter(action="export").count()
    response = client.get("/incidents/?reported_after=2026-12-01&reported_before=2026-11-01&format=csv")
    assert response.status_code == 400
    assert client.get("/incidents/?province=NOWHERE").status_code == 400
    assert client.get("/incidents/?tlp_max=purple&format=xlsx").status_code == 400
    assert AuditEntry.objects.filter(action="export").count() == before  # nothing exported
    api = client.get("/api/incidents/?province=NOWHERE")
    assert api.status_code == 400 and "province" in api.json().get("detail", api.json()).__str__()
    # The API stays strict: a misspelt parameter is still refused.
    assert client.get("/api/incidents/?reported_afterr=2026-11-01").status_code == 400


def test_export_times_in_vietnam_time_with_zone_and_typed_cells(world, month, as_user):
    province, sector, incidents = month
    client = as_user(world.analyst)
    rows = _csv(client.get("/incidents/?reported_after=2026-11-15&reported_before=2026-11-15&format=csv"))
    header = rows[0]
    row = dict(zip(header, rows[1]))
    assert row["Thời điểm báo cáo (UTC+7)"] == "2026-11-15 08:33"
    assert row["Thời điểm phát hiện (UTC+7)"] == "2026-11-15 07:33"
    response = client.get("/incidents/?reported_after=2026-11-15&reported_before=2026-11-15&format=xlsx")
    book = load_workbook(io.BytesIO(response.content))
    sheet = book[book.sheetnames[1]]
    header = [c.value for c in sheet[1]]
    values = {h: c for h, c in zip(header, sheet[2])}
    cell = values["Thời điểm báo cáo (UTC+7)"]
    assert cell.value == dt.datetime(2026, 11, 15, 8, 33) and cell.number_format == "dd/mm/yyyy hh:mm"
    assert values["Số người bị ảnh hưởng"].value == 1200
    assert sheet.freeze_panes == "A2"


def test_file_named_and_marked_with_the_most_restrictive_tlp(world, month, as_user):
    province, sector, incidents = month
    client = as_user(world.analyst)
    november = "/incidents/?reported_after=2026-11-01&reported_before=2026-11-30"
    response = client.get(november + "&format=xlsx")
    assert response["Content-Disposition"].endswith('-TLP-RED.xlsx"')
    book = load_workbook(io.BytesIO(response.content))
    assert "TLP:RED" in book[book.sheetnames[0]]["A1"].value  # the first tab states it
    assert book.active.title == book.sheetnames[1]  # the file opens on the incidents...
    assert book.active.oddHeader.center.text == "TLP:RED"  # ...whose printed pages are marked
    # For leadership: RED left out, the file says AMBER+STRICT.
    response = client.get(november + "&tlp_max=amber_strict&format=csv")
    assert response["Content-Disposition"].endswith('-TLP-AMBER+STRICT.csv"')
    assert [r[0] for r in _csv(response)[1:]] == [incidents["last"].reference]
    # Nothing matches: no marking to name.
    response = client.get("/incidents/?reported_after=2020-01-01&reported_before=2020-01-31&format=csv")
    assert "TLP" not in response["Content-Disposition"]
