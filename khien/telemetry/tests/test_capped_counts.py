"""Counting up to a cap (`core.paging`): the alert queue and the alert figures of the dashboard count at most
N + 1 rows (a LIMIT in the count's query) and say "more than N" when they reach it; the queue then offers the next
and previous pages and its page number, no last page. The cap is lowered here to a few alerts."""
import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from khien.core.paging import CappedPaginator, capped_count, count_text
from khien.telemetry import services
from khien.telemetry.models import HIGH_SEVERITY, Alert
from khien.telemetry.tests.test_matching import ecs
from khien.telemetry.views import dashboard_data

pytestmark = pytest.mark.django_db

CAP = 5


@pytest.fixture
def severe(world, make_source, settings):
    """Eight open high alerts of the ministry, two of the province; the cap lowered to 5."""
    settings.KHIEN_COUNT_CAP = CAP
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    for org, n in ((world.ministry, 8), (world.province, 2)):
        source = make_source(org, "ecs")[0]
        services.ingest_batch(source, [ecs(f"198.51.100.{i + 10}", rule=f"{org.code}-r{i}", n=i,
                                           when=now + dt.timedelta(seconds=i)) for i in range(n)])
    Alert.objects.update(severity=HIGH_SEVERITY + 1)
    return world


def test_the_count_query_carries_a_limit(severe):
    alerts = Alert.objects.visible_to(severe.coordinator)
    with CaptureQueriesContext(connection) as queries:
        n = capped_count(alerts)
    assert n == CAP + 1
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert "COUNT(" in sql and re.search(rf"LIMIT {CAP + 1}\b", sql), sql
    assert capped_count(Alert.objects.visible_to(severe.analyst)) == CAP + 1  # 8 of the ministry: capped too
    assert capped_count(Alert.objects.visible_to(severe.other_admin)) == 2  # below the cap: the number itself


def test_more_than_the_cap_is_written_in_the_readers_language(settings):
    settings.KHIEN_COUNT_CAP = 10_000
    with translation.override("en"):
        assert count_text(10_001) == "more than 10,000" and count_text(10_000) == "10,000"
    with translation.override("vi"):
        assert count_text(10_001) in ("hơn 10.000", "more than 10.000")  # "hơn" once the catalogue has it
        assert count_text(9_999) == "9.999"


def test_a_capped_paginator_pages_on_without_a_last_page(severe):
    ids = Alert.objects.visible_to(severe.coordinator).order_by("-last_seen", "id").values_list("pk", flat=True)
    paginator = CappedPaginator(ids, 2)
    assert paginator.capped
    first = paginator.get_page(1)
    assert len(first.object_list) == 2 and first.has_next() and not first.has_previous()
    fifth = paginator.get_page(5)  # rows 9-10: past the cap, still read
    assert len(fifth.object_list) == 2 and not fifth.has_next() and fifth.has_previous()
    past = paginator.get_page(40)
    assert list(past.object_list) == [] and past.has_previous() and not past.has_next()
    assert paginator.get_page("abc").number == 1
    # Below the cap: the ordinary paginator, its last page known.
    exact = CappedPaginator(ids, 2, cap=100)
    assert not exact.capped and exact.num_pages == 5 and exact.get_page(99).number == 5


def test_the_alert_queue_says_more_than_at_the_cap(severe, as_user):
    # The ministry's 8 alerts, on one page of 50, counted up to 5: "more than 5", no "Page 1 of 1".
    html = as_user(severe.analyst).get("/telemetry/alerts/?status=all", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="list-pages-capped"' in html and re.search(r"(more than|hơn) 5", html)
    assert " of 1" not in html and "page=2" not in html  # no last page, no next page: nothing follows
    assert html.count("data-organization") == 8
    # Below the cap, the ordinary total; another organization's alerts are not counted.
    html = as_user(severe.other_admin).get("/telemetry/alerts/?status=all", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(r'id="list-total">2 ', html) and "list-pages-capped" not in html


def test_the_alert_queue_pages_past_the_cap(severe, as_user, settings, monkeypatch):
    settings.KHIEN_COUNT_CAP = 3
    from khien.telemetry import views

    real = views.CappedPaginator
    monkeypatch.setattr(views, "CappedPaginator", lambda rows, _per_page, **kw: real(rows, 3, **kw))
    client = as_user(severe.analyst)
    html = client.get("/telemetry/alerts/?status=all&page=3", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # Rows 7-8 of the ministry's 8: read although past the cap; a previous page, no next one, no last page.
    assert re.search(r"(more than|hơn) 3", html) and re.search(r"(Page|Trang) 3", html)
    assert "page=2" in html and "page=4" not in html
    assert html.count("data-organization") == 2


def test_the_dashboard_figures_say_more_than_at_the_cap(severe, as_user):
    data = dashboard_data(severe.coordinator)
    assert data["kpis"]["alerts_open_high"] == CAP + 1
    assert data["kpi_texts"]["alerts_open_high"].endswith(str(CAP))  # "more than 5" / "hơn 5"
    assert data["alerts_new_high"]["count"] == CAP + 1 and data["alerts_new_high"]["text"].endswith(str(CAP))
    province = dashboard_data(severe.other_admin)
    assert province["kpis"]["alerts_open_high"] == 2 and province["kpi_texts"] == {}
    assert province["alerts_new_high"]["text"] == "2"
    html = as_user(severe.analyst).get("/telemetry/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(r'data-kpi="alerts_open_high">(more than|hơn) 5<', html), html
    assert re.search(r'data-figure="alerts_new_high.text">(more than|hơn) 5<', html)


def test_the_home_to_do_line_counts_up_to_the_cap(severe):
    from khien.telemetry.triage import waiting_work

    with translation.override("en"):
        [item] = waiting_work(severe.coordinator)
    assert item.label == f"more than {CAP} high or critical alerts nobody has taken yet"
    with translation.override("vi"):
        [item] = waiting_work(severe.coordinator)
    assert item.label.startswith(f"hơn {CAP} ")
