"""Statistics with known data: exact means from the journal, on-time share, charts, filters and scope."""
import datetime as dt

import pytest
from django.utils import timezone

from khien.incidents import services, stats
from khien.incidents.models import Status

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)  # 10:00 in Vietnam
H = dt.timedelta(hours=1)


@pytest.fixture
def known(world, report):
    a = report(now=T0, detected_at=T0 - 2 * H, severity="high", category="infected-system")
    for status, at in ((Status.TRIAGED, 1), (Status.IN_RESPONSE, 2), (Status.CONTAINED, 5), (Status.RESOLVED, 9)):
        services.do_transition(a, status, acting_user=world.analyst, now=T0 + at * H, cancel_open_tasks=True)
    # Reopened and resolved again later: the first time it was resolved counts.
    services.do_transition(a, Status.IN_RESPONSE, acting_user=world.analyst, reason="Tái nhiễm", now=T0 + 20 * H)
    b_at = T0 + dt.timedelta(days=40)
    b = report(now=b_at, detected_at=b_at - 30 * H, severity="low", category="phishing")  # reported late
    services.do_transition(b, Status.TRIAGED, acting_user=world.analyst, now=b_at + 3 * H)
    c = report(org=world.province, user=world.other_admin, now=T0, detected_at=T0 - H, severity="critical")
    return a, b, c


def test_exact_figures(world, known):
    data = stats.compute(world.analyst, {}, now=T0 + dt.timedelta(days=60))
    assert data["total"] == 2
    assert (data["reported_on_time"], data["reported_late"], data["on_time_share"]) == (1, 1, 50.0)
    means = data["mean_hours"]
    assert means["report"] == {"hours": 16.0, "count": 2}   # (2 + 30) / 2
    assert means["triage"] == {"hours": 2.0, "count": 2}    # (1 + 3) / 2
    assert means["contain"] == {"hours": 5.0, "count": 1}
    assert means["resolve"] == {"hours": 9.0, "count": 1}
    charts = data["charts"]
    month = dict(zip(charts["by_month"]["labels"], charts["by_month"]["values"]))
    assert month["03/2026"] == 1 and month["04/2026"] == 1 and sum(month.values()) == 2
    assert dict(zip(charts["by_severity"]["keys"], charts["by_severity"]["values"])) == {"low": 1, "high": 1}
    assert dict(zip(charts["by_class"]["keys"], charts["by_class"]["values"])) == {"malicious-code": 1, "fraud": 1}
    assert sum(charts["by_sector"]["values"]) == 2 and sum(charts["by_province"]["values"]) == 2
    # Triage in time for both; A was reopened (containment time cleared) and is past its 72 h containment SLA.
    assert data["sla_missed"] == {"triage": 0, "contain": 1}  # A reopened: containment cleared, past due


def test_scope_and_filters(world, known):
    now = T0 + dt.timedelta(days=60)
    other = stats.compute(world.other_admin, {}, now=now)
    assert other["total"] == 1 and other["mean_hours"]["triage"]["count"] == 0
    assert stats.compute(world.nobody, {}, now=now)["total"] == 0
    assert stats.compute(world.analyst, {"severity": "low"}, now=now)["total"] == 1
    only_march = stats.compute(world.analyst, {"since": dt.date(2026, 3, 1), "until": dt.date(2026, 3, 31)}, now=now)
    assert only_march["total"] == 1 and only_march["charts"]["by_month"]["labels"] == ["03/2026"]
    # The coordinator sees all three.
    assert stats.compute(world.coordinator, {}, now=now)["total"] == 3


def test_page_and_api(world, known, as_user, api):
    client = as_user(world.analyst)
    response = client.get("/incidents/stats/?since=2026-01-01&until=2026-06-30")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="bars-by_month"' in page and 'id="mean-triage"' in page and "khien/charts.js" in page
    assert "01/01/2026" in page and "30/06/2026" in page and "2026-01-01 " not in page  # dates as on every page
    # The sector bars can sum above the total (an organization in several sectors): the chart says so.
    assert 'id="note-by_sector"' in page and "Một sự cố được tính một lần cho mỗi lĩnh vực" in page
    assert client.get("/incidents/stats/?since=2026-06-30&until=2026-01-01").status_code == 400
    assert client.get("/incidents/stats/?severity=bogus").status_code == 400
    # Dates outside the years the platform stores, or a start after today with no end: 400, not a 500.
    for query in ("since=0001-01-01", "until=9999-12-31", "until=0001-01-02", "since=9000-01-01"):
        assert client.get(f"/incidents/stats/?{query}").status_code == 400, query
        assert api(world.analyst).get(f"/api/incidents/stats/?{query}").status_code == 400, query
    body = api(world.analyst).get("/api/incidents/stats/?since=2026-01-01&until=2026-06-30").json()
    assert body["total"] == 2 and body["mean_hours"]["report"]["hours"] == 16.0
    assert api(world.analyst).get("/api/incidents/stats/?since=bad").status_code == 400
    assert api(world.other_admin).get("/api/incidents/stats/?since=2026-01-01&until=2026-06-30").json()["total"] == 1


def test_updated_after_filter_for_incremental_export(world, report, api):
    first = report(title="Cũ")
    cut = timezone.now()
    second = report(title="Mới")
    rows = api(world.analyst).get("/api/incidents/", {"updated_after": cut.isoformat()}).json()
    refs = [r["reference"] for r in (rows["results"] if isinstance(rows, dict) else rows)]
    assert second.reference in refs and first.reference not in refs
