"""Telemetry pages: alerts with hit badges, alert detail, sources, campaigns (coordinator only)."""
import orjson
import pytest
from django.test import Client
from django.urls import reverse

from khien.intel.models import EarlyWarning, Tlp
from khien.telemetry import correlation, services
from khien.telemetry.models import Alert, Campaign, CampaignStatus
from khien.telemetry.tests.test_matching import ecs, intel  # noqa: F401 (fixture)


@pytest.fixture
def alerts(world, intel, make_source):
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN], rule="hit-rule"), ecs("192.0.2.10", rule="quiet-rule")])
    return source


def test_alert_list_marks_and_filters_alerts_with_hits(world, alerts, as_user):
    client = as_user(world.analyst)
    page = client.get(reverse("telemetry:alerts")).content.decode()
    assert "Rule hit-rule" in page and "Rule quiet-rule" in page
    assert page.count("data-hit-badge") == 1
    only = client.get(reverse("telemetry:alerts") + "?hits=1").content.decode()
    assert "Rule hit-rule" in only and "Rule quiet-rule" not in only
    # Another organization sees none of the ministry's alerts; a bad filter value is not an error.
    other = as_user(world.other_admin).get(reverse("telemetry:alerts") + "?severity_min=abc")
    assert other.status_code == 200 and "Rule hit-rule" not in other.content.decode()


def test_alert_detail_links_the_indicator(world, alerts, intel, as_user):
    alert = Alert.objects.get(rule_id="hit-rule")
    response = as_user(world.analyst).get(reverse("telemetry:alert", args=[alert.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="alert-indicators"' in page and f"/intel/objects/{intel.ids[Tlp.GREEN]}/" in page
    assert intel.values[Tlp.GREEN] in page
    assert as_user(world.other_admin).get(reverse("telemetry:alert", args=[alert.pk])).status_code == 404


def test_alert_page_shows_each_events_raw_record_escaped(world, make_source, as_user):
    source, _k = make_source(world.ministry, "ecs")
    record = orjson.loads(ecs("192.0.2.10", rule="raw-rule"))
    record["message"] = "<script>alert(1)</script> đăng nhập thất bại"
    services.ingest_batch(source, [orjson.dumps(record)])
    alert = Alert.objects.get(rule_id="raw-rule")
    page = as_user(world.analyst).get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    raw = page[page.index('class="tele-raw"'):]
    raw = raw[:raw.index("</details>")]
    assert "đăng nhập thất bại" in raw and '"raw-rule"' in raw.replace("&quot;", '"')
    assert "<script>" not in raw and "&lt;script&gt;" in raw


def test_sources_page_is_scoped(world, alerts, as_user):
    page = as_user(world.analyst).get(reverse("telemetry:sources")).content.decode()
    assert alerts.name in page
    assert alerts.name not in as_user(world.other_admin).get(reverse("telemetry:sources")).content.decode()


@pytest.fixture
def campaign(world, intel, make_source):
    for org in (world.ministry, world.province, world.department):
        services.ingest_batch(make_source(org, "ecs")[0], [ecs(intel.values[Tlp.GREEN])])
    correlation.correlate()
    return Campaign.objects.get()


def test_campaign_pages_are_the_coordinators(world, campaign, as_user, coordinator_client):
    assert coordinator_client.get(reverse("telemetry:campaigns")).status_code == 200
    detail = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk]))
    assert detail.status_code == 200 and 'id="campaign-actions"' in detail.content.decode()
    for user in (world.admin, world.analyst, world.other_admin):
        client = as_user(user)
        assert client.get(reverse("telemetry:campaigns")).status_code == 403
        assert client.get(reverse("telemetry:campaign", args=[campaign.pk])).status_code == 404
        response = client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"]))
        assert response.status_code == 404
        Client().logout()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN and not EarlyWarning.objects.exists()


def test_coordinator_turns_a_campaign_into_a_warning_in_one_action(world, campaign, coordinator_client):
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.WARNED and EarlyWarning.objects.count() == 1
    # A second decision is refused with a message, nothing written.
    again = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "dismiss"]))
    assert again.status_code == 409 and 'id="campaign-error"' in again.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.WARNED


def test_unknown_action_is_refused(world, campaign, coordinator_client):
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "explode"]))
    assert response.status_code == 404
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN


def test_a_dismissal_asks_first_keeps_its_reason_and_can_be_undone(world, campaign, coordinator_client):
    from khien.core.models import AuditEntry

    admin = Client()
    admin.force_login(world.admin)

    page = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    dismiss = page[page.index('id="campaign-dismiss"'):]
    assert 'name="reason"' in dismiss and "data-confirm=" in dismiss
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "dismiss"]),
                                       {"reason": "Quét thử nghiệm của đơn vị kiểm định"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DISMISSED and campaign.decision_note.startswith("Quét thử nghiệm")
    page = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    assert "Quét thử nghiệm" in page and 'id="campaign-reopen"' in page
    # Only the coordinator reopens; the others are refused and nothing changes.
    assert admin.post(reverse("telemetry:campaign_action", args=[campaign.pk, "reopen"])).status_code == 404
    audited = AuditEntry.objects.count()
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "reopen"]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN and campaign.decided_by is None
    assert AuditEntry.objects.count() == audited + 1
    # Open again, it can be decided, and reopening an open campaign is a 409 that changes nothing.
    again = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "reopen"]))
    assert again.status_code == 409
    assert coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"])).status_code == 302


def test_a_dismissal_reason_has_a_limit(world, campaign, api):
    coordinator = api(world.coordinator)
    too_long = coordinator.post(f"/api/telemetry/campaigns/{campaign.pk}/dismiss/", {"reason": "x" * 2001},
                                format="json")
    assert too_long.status_code == 400 and "reason" in too_long.json()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN
    done = coordinator.post(f"/api/telemetry/campaigns/{campaign.pk}/dismiss/", {"reason": "Đã xử lý"}, format="json")
    assert done.status_code == 200 and done.json()["decision_note"] == "Đã xử lý"
    reopened = coordinator.post(f"/api/telemetry/campaigns/{campaign.pk}/reopen/")
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"


def test_api_hits_campaigns_and_dashboard(world, campaign, api):
    coordinator, admin = api(world.coordinator), api(world.admin)
    hits = admin.get("/api/telemetry/hits/").json()
    rows = hits["results"] if isinstance(hits, dict) else hits
    assert {r["organization"] for r in rows} == {"MIN", "MIN-D1"}
    assert admin.get("/api/telemetry/campaigns/").status_code == 403
    assert admin.get(f"/api/telemetry/campaigns/{campaign.pk}/").status_code == 404
    assert admin.post(f"/api/telemetry/campaigns/{campaign.pk}/dismiss/").status_code == 404
    listed = coordinator.get("/api/telemetry/campaigns/?status=open").json()
    listed = listed["results"] if isinstance(listed, dict) else listed
    assert [c["id"] for c in listed] == [str(campaign.pk)]
    assert coordinator.post(f"/api/telemetry/campaigns/{campaign.pk}/nope/").status_code == 400
    # Texts only: a list or an object is a 400 naming the field, and nothing is decided (was a 500).
    for bad in ({"category": ["x"]}, {"title": {"a": 1}}, {"title": "x" * 301}):
        response = coordinator.post(f"/api/telemetry/campaigns/{campaign.pk}/incident/", bad, format="json")
        assert response.status_code == 400 and set(response.json()) == set(bad), response.content
    campaign.refresh_from_db()
    assert campaign.status == "open"
    done = coordinator.post(f"/api/telemetry/campaigns/{campaign.pk}/dismiss/")
    assert done.status_code == 200 and done.json()["status"] == "dismissed"
    assert coordinator.post(f"/api/telemetry/campaigns/{campaign.pk}/warn/").status_code == 409
    assert not EarlyWarning.objects.exists()
    assert admin.get("/api/telemetry/dashboard/").json()["kpis"]["events_24h"] == 2


def test_campaign_page_lists_its_alerts_and_the_incident_takes_them(world, campaign, as_user, coordinator_client):
    from khien.incidents import content

    content.load_all()
    detail = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    assert 'id="campaign-alerts"' in detail
    for alert in Alert.objects.all():
        assert reverse("telemetry:alert", args=[alert.pk]) in detail
    # The alert list filtered by the campaign: its alerts only; nobody else may use the filter.
    listed = coordinator_client.get(reverse("telemetry:alerts") + f"?status=all&campaign={campaign.pk}")
    assert listed.status_code == 200 and 'id="alert-campaign"' in listed.content.decode()
    assert listed.content.decode().count('name="alerts" value=') == 3
    assert coordinator_client.get(reverse("telemetry:alerts") + "?campaign=nope").status_code == 404
    done = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "incident"]), follow=True)
    campaign.refresh_from_db()
    page = done.content.decode()
    assert campaign.incident.reference in page and 'id="campaign-incident"' in page
    assert Alert.objects.filter(incident=campaign.incident).count() == 3
    assert as_user(world.analyst).get(reverse("telemetry:alerts") + f"?campaign={campaign.pk}").status_code == 404


def test_api_alerts_of_a_campaign(world, campaign, api):
    url = f"/api/telemetry/alert-groups/?campaign={campaign.pk}"
    rows = api(world.coordinator).get(url).json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert sorted(row["organization"] for row in rows) == ["MIN", "MIN-D1", "PROV"]
    # The ministry's analyst sees its own alerts but not the campaign: the filter gives nothing.
    mine = api(world.analyst).get(url).json()
    assert (mine["results"] if isinstance(mine, dict) else mine) == []
    bad = api(world.coordinator).get("/api/telemetry/alert-groups/?campaign=nope")
    assert bad.status_code == 400 and bad.json() == {"campaign": ["Nhập UUID hợp lệ."]}  # in the user's language


@pytest.fixture
def events(world, make_source):
    import datetime as dt

    from django.utils import timezone

    source = make_source(world.ministry, "ecs")[0]
    services.ingest_batch(source, [
        ecs("203.0.113.7", rule="c2", severity=8, sha256="AB" * 32),
        ecs("203.0.113.8", rule="scan", domain="update.evil.example"),
        ecs("203.0.113.9", rule="old", when=timezone.now() - dt.timedelta(days=3)),
    ])
    services.ingest_batch(make_source(world.province, "ecs")[0], [ecs("203.0.113.7", rule="province-c2")])
    return source


def _rows(response) -> list[str]:
    import re

    return re.findall(r'<tr data-event="([0-9a-f]+)"', response.content.decode())


def test_events_page_searches_what_the_user_may_see(world, events, as_user):
    from khien.telemetry.models import Event

    client = as_user(world.analyst)
    url = reverse("telemetry:events")
    page = client.get(url)
    # The last 24 hours by default: the ministry's two recent events, not the old one, not the province's.
    assert page.status_code == 200 and len(_rows(page)) == 2
    assert "Rule province-c2" not in page.content.decode()
    assert len(_rows(client.get(url + "?since=2000-01-01T00:00"))) == 3
    by_ip = client.get(url + "?ip=203.0.113.7")
    assert _rows(by_ip) == [Event.objects.get(rule_id="c2").id] and "Rule c2" in by_ip.content.decode()
    # The event links to its alert; its raw record is there to read.
    assert reverse("telemetry:alert", args=[Event.objects.get(rule_id="c2").alert_id]) in by_ip.content.decode()
    assert "&quot;rule&quot;: {" in by_ip.content.decode()
    assert _rows(client.get(url + "?hash=" + "ab" * 32)) == [Event.objects.get(rule_id="c2").id]
    assert _rows(client.get(url + "?domain=evil.example")) == [Event.objects.get(rule_id="scan").id]
    assert len(_rows(client.get(url + "?severity_min=8"))) == 1
    # Bad values: a clear error, no rows, a 400.
    for bad in ("ip=not-an-ip", "hash=xyz", "since=yesterday", "severity_min=high"):
        response = client.get(url + "?" + bad)
        assert response.status_code == 400 and 'id="event-errors"' in response.content.decode(), bad
        assert _rows(response) == []
    assert "Nhập địa chỉ IPv4 hoặc IPv6 hợp lệ." in client.get(url + "?ip=not-an-ip").content.decode()
    # The province sees its own event only.
    assert len(_rows(as_user(world.other_admin).get(url + "?ip=203.0.113.7"))) == 1


def test_events_page_pages_newest_first(world, events, as_user, monkeypatch):
    from khien.telemetry import views

    monkeypatch.setattr(views, "EVENTS_PER_PAGE", 1)
    client = as_user(world.analyst)
    first = client.get(reverse("telemetry:events") + "?severity_min=0")
    assert len(_rows(first)) == 1 and 'id="event-older"' in first.content.decode()
    second = client.get(reverse("telemetry:events") + "?severity_min=0&page=2")
    assert len(_rows(second)) == 1 and _rows(second) != _rows(first)
    assert 'id="event-older"' not in second.content.decode()


def test_api_events_by_file_hash(world, events, api):
    rows = api(world.analyst).get("/api/telemetry/events/?hash=" + "AB" * 32).json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert [row["rule_id"] for row in rows] == ["c2"]
    bad = api(world.analyst).get("/api/telemetry/events/?hash=123&ip=nope")
    # Both values refused at once, each under its own field, before any query runs.
    assert bad.status_code == 400 and set(bad.json()) == {"hash", "ip"}, bad.content
    assert "MD5" in bad.json()["hash"][0] and bad.json()["ip"] == ["Nhập địa chỉ IPv4 hoặc IPv6 hợp lệ."]


def test_an_alerts_addresses_lead_to_the_events_search(world, events, as_user):
    from khien.telemetry.models import Alert

    client = as_user(world.analyst)
    alert = Alert.objects.get(rule_id="old")  # three days old: the link reaches back before it
    page = client.get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    import re

    link = re.search(r'href="(/telemetry/events/\?ip=203\.0\.113\.9&amp;since=[^"]+)"', page).group(1)
    found = client.get(link.replace("&amp;", "&"))
    assert len(_rows(found)) == 1 and "Rule old" in found.content.decode()


def test_events_export_ndjson_and_csv_what_the_search_shows(world, events, as_user, make_source):
    import csv
    import io
    import json

    from khien.core.models import AuditEntry

    services.ingest_batch(events, [ecs("203.0.113.20", rule="=HYPERLINK(1)")])  # a cell that starts like a formula
    client = as_user(world.analyst)
    audits = AuditEntry.objects.filter(action="export").count()
    response = client.get(reverse("telemetry:events_export") + "?format=ndjson&ip=203.0.113.7")
    body = b"".join(response.streaming_content).decode()
    lines = [json.loads(line) for line in body.splitlines()]
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    # The ministry's own event only (the province sent the same address); its raw record comes with it.
    assert [(e["rule_id"], e["organization"]) for e in lines] == [("c2", "MIN")]
    assert lines[0]["raw"]["rule"]["id"] == "c2" and lines[0]["file_sha256"] == "ab" * 32
    entry = AuditEntry.objects.filter(action="export").latest("seq")
    assert entry.actor_email == world.analyst.email and entry.after["count"] == 1
    assert entry.after["filters"]["ip"] == ["203.0.113.7"] and entry.after["format"] == "ndjson"
    # CSV: the last 24 hours by default, newest first, formula-like text defused.
    rows = list(csv.reader(io.StringIO(b"".join(
        client.get(reverse("telemetry:events_export") + "?format=csv").streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 + 3 and rows[1][5] == "'=HYPERLINK(1)" and rows[0][0] == "Thời gian"
    assert AuditEntry.objects.filter(action="export").count() == audits + 2
    # A bad search: the page with its message, nothing exported, nothing recorded; an unknown format: 404.
    bad = client.get(reverse("telemetry:events_export") + "?format=csv&ip=nope")
    assert bad.status_code == 400 and 'id="event-errors"' in bad.content.decode()
    assert client.get(reverse("telemetry:events_export") + "?format=xml").status_code == 404
    assert AuditEntry.objects.filter(action="export").count() == audits + 2
    page = client.get(reverse("telemetry:events")).content.decode()
    assert 'id="event-export"' in page and "format=csv" in page
