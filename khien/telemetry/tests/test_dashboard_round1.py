"""The dashboard over a period (the monthly report), organizations named by their code with the whole name in the
figures, and the two alert figures told apart."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.telemetry.models import HourlyCount
from khien.registry.tests.test_browser import browser  # noqa: F401 (fixture)
from khien.telemetry.views import PeriodError, dashboard_data, dashboard_period

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(dt.datetime(2026, 12, 7, 10, 30), timezone.get_current_timezone())


def counted(org, when, n, severity=8):
    HourlyCount.objects.create(organization=org, hour=when.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0),
                               category="", severity=severity, count=n)


@pytest.fixture
def november(world):
    """Events of the ministry and the province in November, and a few today."""
    tz = timezone.get_current_timezone()
    counted(world.ministry, timezone.make_aware(dt.datetime(2026, 11, 1, 0, 0), tz), 5)  # first hour of the month
    counted(world.ministry, timezone.make_aware(dt.datetime(2026, 11, 15, 9, 0), tz), 7)
    counted(world.province, timezone.make_aware(dt.datetime(2026, 11, 30, 23, 0), tz), 11)  # its last hour
    counted(world.ministry, timezone.make_aware(dt.datetime(2026, 10, 31, 23, 0), tz), 100)  # October
    counted(world.ministry, timezone.make_aware(dt.datetime(2026, 12, 1, 0, 0), tz), 1000)  # December
    counted(world.ministry, NOW - dt.timedelta(hours=2), 3)


def test_the_live_default_is_unchanged(world, november):
    data = dashboard_data(world.coordinator, NOW)
    assert data["period"]["key"] == "48h" and data["period"]["live"] is True
    assert len(data["hourly"]["labels"]) == 48 and data["hourly"]["in_progress"] == 47
    assert data["hourly"]["bucket"] == "hour" and data["events_period"] == 3


def test_a_calendar_month_counts_its_days_from_the_hourly_counts(world, november):
    period = dashboard_period({"period": "month", "month": "2026-11"}, NOW)
    data = dashboard_data(world.coordinator, NOW, period)
    assert data["hourly"]["bucket"] == "day" and len(data["hourly"]["values"]) == 30
    assert data["hourly"]["labels"][0] == "01/11" and data["hourly"]["labels"][-1] == "30/11"
    assert data["hourly"]["values"][0] == 5 and data["hourly"]["values"][14] == 7 and data["hourly"]["values"][29] == 11
    assert data["events_period"] == 23 and data["hourly"]["in_progress"] is None  # a closed month: nothing counting
    assert data["period"]["label"] == "Tháng 11/2026" or "11/2026" in data["period"]["label"]
    # Its links end with the month (the day's events, the organization's events of the month).
    assert "until=2026-12-01T00%3A00" in data["targeted"]["links"][0]
    assert "since=2026-11-01T00%3A00" in data["hourly"]["links"][0]
    # The key figures stay live.
    assert data["kpis"]["events_24h"] == 3
    # Scoped: the ministry's analyst does not see the province's events.
    mine = dashboard_data(world.analyst, NOW, period)
    assert mine["events_period"] == 12 and world.province.code not in mine["targeted"]["labels"]
    # Without a month: the last whole month, the one a monthly report is about.
    assert dashboard_period({"period": "month"}, NOW).since == period.since


def test_the_last_days_and_a_range_of_days(world, november):
    week = dashboard_data(world.coordinator, NOW, dashboard_period({"period": "7d"}, NOW))
    assert len(week["hourly"]["values"]) == 7 and week["hourly"]["in_progress"] == 6
    assert week["hourly"]["values"][-1] == 3 and week["hourly"]["values"][0] == 1000  # 01/12
    month = dashboard_data(world.coordinator, NOW, dashboard_period({"period": "30d"}, NOW))
    assert len(month["hourly"]["values"]) == 30 and month["events_period"] == 1000 + 3 + 11 + 7
    days = dashboard_period({"since": "2026-11-15", "until": "2026-11-30"}, NOW)
    assert days.key == "custom" and not days.live
    assert dashboard_data(world.coordinator, NOW, days)["events_period"] == 18
    two = dashboard_period({"since": "2026-11-30", "until": "2026-11-30"}, NOW)
    assert dashboard_data(world.coordinator, NOW, two)["hourly"]["bucket"] == "hour"  # one day: by the hour


@pytest.mark.parametrize("params", [{"period": "year"}, {"period": "month", "month": "11/2026"},
                                    {"period": "month", "month": "2999-01"}, {"since": "30/11/2026"},
                                    {"since": "2026-11-30", "until": "2026-11-01"},
                                    {"since": "2024-01-01", "until": "2026-11-01"}, {"period": "custom"}])
def test_a_period_that_cannot_be_read_is_a_clear_400(world, params, as_user, api):
    with pytest.raises(PeriodError):
        dashboard_period(params, NOW)
    client = as_user(world.analyst)
    answer = client.get(reverse("telemetry:dashboard_data"), params)
    assert answer.status_code == 400 and answer.json()["detail"]
    page = client.get(reverse("telemetry:dashboard"), params)
    assert page.status_code == 400 and 'id="period-errors"' in page.content.decode()
    api_answer = api(world.analyst).get("/api/telemetry/dashboard/", params)
    assert api_answer.status_code == 400 and api_answer.json()["period"]


def test_the_page_json_and_api_take_the_period(world, november, as_user, api):
    client = as_user(world.analyst)
    client.cookies["khien_language"] = "en"
    page = client.get(reverse("telemetry:dashboard"), {"period": "month", "month": "2026-11"}).content.decode()
    assert 'id="tele-period"' in page and '<option value="month" selected>' in page
    # The refresh asks for the same period.
    assert 'data-url="/telemetry/data/?period=month&amp;month=2026-11"' in page
    assert "Events per day" in page and "Month 11/2026" in page
    data = client.get(reverse("telemetry:dashboard_data"), {"period": "month", "month": "2026-11"}).json()
    assert data["period"]["key"] == "month" and data["hourly"]["bucket"] == "day"
    answer = api(world.analyst).get("/api/telemetry/dashboard/", {"period": "7d"}).json()
    assert answer["period"]["key"] == "7d" and len(answer["hourly"]["values"]) == 7


def test_organizations_are_named_by_code_with_the_whole_name_in_the_figures(world, as_user):
    world.ministry.name_vi = "Ủy ban nhân dân Thành phố Huế và các đơn vị trực thuộc"
    world.ministry.save()
    counted(world.ministry, timezone.now(), 9)
    data = dashboard_data(world.analyst)
    assert data["targeted"]["labels"] == [world.ministry.code]
    assert data["targeted"]["names"] == [world.ministry.name_vi]
    page = as_user(world.analyst).get(reverse("telemetry:dashboard")).content.decode()
    figures = page[page.index('id="tele-numbers-targeted"'):]
    figures = figures[:figures.index("</tbody>")]
    assert world.ministry.name_vi in figures and f">{world.ministry.code}</td>" in figures
    assert data["targeted"]["links"][0] in figures.replace("&amp;", "&")


def test_the_two_alert_figures_say_which_is_which(world, as_user):
    from khien.telemetry.models import Alert, AlertStatus

    client = as_user(world.analyst)
    client.cookies["khien_language"] = "en"
    data = client.get(reverse("telemetry:dashboard_data")).json()
    assert "status=open" in data["kpi_links"]["alerts_open_high"]
    assert "status=new" in data["alerts_new_high"]["url"]
    assert data["alerts_new_high"]["count"] == Alert.objects.filter(status=AlertStatus.NEW).count()
    page = client.get(reverse("telemetry:dashboard")).content.decode()
    assert "not closed yet (new or in progress)" in page
    note = page[page.index('id="kpi-alerts-note"'):]
    assert "nobody has taken yet" in note[:note.index("</p>")] and "status=new" in note[:note.index("</p>")]


def test_the_dashboard_reads_at_1366_and_360_px(live_server, flushable_audit_log, world, browser):
    """Organizations' bars carry their code, the whole name is in the figures; the "in progress" marker is a legend
    above the plot (not a label over the bars); the period selector shows a month. Screenshots to look at."""
    from playwright.sync_api import expect

    from khien.registry.tests.test_browser import SCREENSHOTS, Watch, login

    world.ministry.name_vi = "Ủy ban nhân dân Thành phố Huế và các đơn vị trực thuộc"
    world.ministry.save()
    world.department.name_vi = "Sở Chính phủ điện tử, chuyển đổi số và bảo vệ chủ quyền số"
    world.department.save()
    now = timezone.now()
    for hours in range(0, 30, 3):
        counted(world.ministry, now - dt.timedelta(hours=hours), 40 + hours)
        counted(world.department, now - dt.timedelta(hours=hours), 25 + hours)
    counted(world.ministry, now - dt.timedelta(days=20), 500)
    base = live_server.url
    for width, name in ((1366, "wide"), (360, "phone")):
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="vi-VN",
                                      timezone_id="Asia/Ho_Chi_Minh")
        page = context.new_page()
        watch = Watch(page, base)
        login(page, base, world.analyst)
        page.goto(f"{base}/telemetry/")
        expect(page.locator('[data-tele-chart="targeted"] canvas')).to_have_count(1)
        expect(page.locator("#tele-numbers-targeted td.wrap-long").first).to_contain_text("Ủy ban nhân dân")
        page.screenshot(path=str(SCREENSHOTS / f"telemetry_dashboard_round1_{name}.png"), full_page=True)
        page.locator("#card-hourly").screenshot(path=str(SCREENSHOTS / f"telemetry_dashboard_round1_hourly_{name}.png"))
        page.click("#numbers-targeted summary")
        expect(page.locator("#tele-numbers-targeted td.wrap-long").first).to_be_visible()
        page.locator("#card-targeted").screenshot(path=str(SCREENSHOTS / f"telemetry_dashboard_round1_targeted_{name}.png"))
        page.select_option("#tele-period-choice", "30d")
        page.click("#tele-period button[type=submit]")
        expect(page.locator("#tele-period-choice")).to_have_value("30d")
        expect(page.locator('[data-tele-chart="hourly"] canvas')).to_have_count(1)
        page.locator("#card-hourly").screenshot(path=str(SCREENSHOTS / f"telemetry_dashboard_round1_30d_{name}.png"))
        # No page wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        assert watch.external == [] and watch.console_errors == [], (watch.external, watch.console_errors)
        context.close()
