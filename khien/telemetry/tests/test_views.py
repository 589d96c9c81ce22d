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
    # Another organization sees none of the ministry's alerts.
    other = as_user(world.other_admin).get(reverse("telemetry:alerts") + "?severity_min=1")
    assert other.status_code == 200 and "Rule hit-rule" not in other.content.decode()


@pytest.mark.parametrize("value", ["abc", "11", "-1"])
def test_a_bad_severity_filter_says_why_and_lists_nothing(world, alerts, as_user, value):
    """A bad value is not silently ignored (the list would look filtered when it is not): the page says what is
    wrong, as the events and audit pages do, with a 400; the field says its 0–10 scale."""
    from django.utils.translation import gettext

    from khien.telemetry.filters import SEVERITY_SCALE_HELP

    response = as_user(world.analyst).get(reverse("telemetry:alerts"), {"severity_min": value})
    page = response.content.decode()
    assert response.status_code == 400 and 'id="alert-filter-errors"' in page
    errors = page[page.index('id="alert-filter-errors"'):page.index("</ul>", page.index('id="alert-filter-errors"'))]
    assert gettext("Severity at least") in errors
    assert "Rule hit-rule" not in page and "Rule quiet-rule" not in page
    assert str(SEVERITY_SCALE_HELP) in page
    good = as_user(world.analyst).get(reverse("telemetry:alerts"), {"severity_min": "0"})
    assert good.status_code == 200 and 'id="alert-filter-errors"' not in good.content.decode()
    assert str(SEVERITY_SCALE_HELP) in good.content.decode()


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
                                       {"reason": "Quét thử nghiệm của đơn vị kiểm định", "confirmed": "1"})
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
    for bad in ("ip=not-an-ip", "hash=xyz", "since=yesterday", "severity_min=huge"):
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


def test_events_csv_times_carry_their_offset(world, events, as_user):
    """A time without its zone was read as the reader's own (a spreadsheet abroad, a script in UTC)."""
    import csv
    import datetime as dt
    import io

    from khien.telemetry.models import Event

    client = as_user(world.analyst)
    rows = list(csv.reader(io.StringIO(b"".join(
        client.get(reverse("telemetry:events_export") + "?format=csv&ip=203.0.113.7").streaming_content)
        .decode("utf-8-sig"))))
    written = dt.datetime.fromisoformat(rows[1][0])
    assert written.utcoffset() == dt.timedelta(hours=7) and rows[1][0].endswith("+07:00")
    assert written == Event.objects.get(rule_id="c2").time.replace(microsecond=0)


def test_events_category_is_a_choice_in_words_and_takes_the_api_s_value(world, events, as_user, make_source):
    import re

    client = as_user(world.analyst)
    url = reverse("telemetry:events")
    page = client.get(url).content.decode()
    select = re.search(r'<select name="category"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert '<option value="intrusion_detection">phát hiện xâm nhập</option>' in select  # in words
    assert 'value="malware"' in select and "<input" not in select
    found = client.get(url, {"category": "intrusion_detection"})
    assert found.status_code == 200 and len(_rows(found)) == 2
    assert 'value="intrusion_detection" selected' in found.content.decode()
    # Another tool's own category, asked by address as the API takes it: kept, searched, shown selected.
    services.ingest_batch(events, [ecs("203.0.113.30", rule="odd", category="ot_scada")])
    odd = client.get(url, {"category": "ot_scada"})
    assert len(_rows(odd)) == 1 and 'value="ot_scada" selected' in odd.content.decode()


def _warning_form_post(campaign, **extra):
    """The campaign's early-warning form as the page posts it: its texts, the hit organizations ticked."""
    data = {"title": "Cảnh báo chiến dịch", "summary": "Kiểm tra ngay.", "severity": "high", "tlp": "amber",
            "recipients_chosen": "True", "organizations": [str(o.pk) for o in campaign.organizations.all()]}
    data.update(extra)
    return data


def test_the_campaign_warning_form_asks_a_deadline_and_more_recipients(world, campaign, coordinator_client):
    """The early warning made from a campaign offers what any early warning does: a reply deadline and recipients
    (sectors, provinces, organizations) besides the organizations hit, which start ticked."""
    page = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    form = page[page.index('id="make-warning"'):page.index("</form>", page.index('id="make-warning"'))]
    for name in ("respond_by", "sectors", "provinces", "organizations", "recipients_chosen"):
        assert f'name="{name}"' in form, name
    import re

    for org in (world.ministry, world.province, world.department):
        assert re.search(rf'<input type="checkbox" name="organizations" value="{org.pk}"[^>]* checked>', form)
    # offered, not ticked
    assert re.search(rf'<input type="checkbox" name="organizations" value="{world.responder_org.pk}" id="[^"]+">', form)


def test_a_campaign_warning_with_a_deadline_goes_to_the_added_recipients_too(world, campaign, coordinator_client):
    import datetime as dt

    from django.utils import timezone

    from khien.registry.models import Province, Sector

    energy = Sector.objects.create(code="test-warn-sector", name_vi="Ngành thử")
    world.commune.sectors.add(energy)
    hue = Province.objects.create(code="T99", name_vi="Tỉnh thử", kind="province", region="central")
    world.ncsc.province = hue
    world.ncsc.save()
    deadline = timezone.localtime() + dt.timedelta(days=3)
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"]), _warning_form_post(
        campaign, respond_by=deadline.strftime("%Y-%m-%dT%H:%M"), sectors=[str(energy.pk)], provinces=[str(hue.pk)],
        organizations=[str(o.pk) for o in campaign.organizations.all()] + [str(world.responder_org.pk)]))
    assert response.status_code == 302
    warning = EarlyWarning.objects.get()
    assert abs(warning.respond_by - deadline.replace(second=0, microsecond=0)) < dt.timedelta(seconds=1)
    targets = set(warning.targets.values_list("organization__code", flat=True))
    assert targets == {"MIN", "PROV", "MIN-D1", "RESP", "PROV-C1", "NCSC"}
    campaign.refresh_from_db()
    assert campaign.warning_id == warning.pk and campaign.status == CampaignStatus.WARNED


@pytest.mark.parametrize("when", [-1, 91])
def test_a_campaign_warning_deadline_is_checked_as_any_warnings(world, campaign, coordinator_client, when):
    """In the future and at most 90 days ahead (`do_issue_warning`); refused, the form is shown again as filled in
    with the reason, and nothing is made."""
    import datetime as dt

    from django.utils import timezone

    from khien.core.models import AuditEntry

    before = AuditEntry.objects.count()
    deadline = (timezone.localtime() + dt.timedelta(days=when)).strftime("%Y-%m-%dT%H:%M")
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"]),
                                       _warning_form_post(campaign, title="Tiêu đề đã sửa", respond_by=deadline))
    page = response.content.decode()
    assert response.status_code == 400 and not EarlyWarning.objects.exists()
    form = page[page.index('id="make-warning"'):]
    assert "Tiêu đề đã sửa" in form and deadline in form and 'role="alert"' in form
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN and AuditEntry.objects.count() == before
    bad = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"]),
                                  _warning_form_post(campaign, respond_by="ngày mai"))
    assert bad.status_code == 400 and not EarlyWarning.objects.exists()


def test_a_campaign_warning_without_any_recipient_is_refused(world, campaign, coordinator_client):
    data = _warning_form_post(campaign)
    del data["organizations"]  # every organization unticked, nothing added
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"]), data)
    assert response.status_code in (400, 409) and not EarlyWarning.objects.exists()
    assert 'role="alert"' in response.content.decode()


def test_the_api_makes_a_campaign_warning_with_a_deadline_and_recipients(world, campaign, api):
    import datetime as dt

    from django.utils import timezone

    coordinator = api(world.coordinator)
    url = f"/api/telemetry/campaigns/{campaign.pk}/warn/"
    past = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    assert coordinator.post(url, {"respond_by": past}, format="json").status_code == 400
    assert coordinator.post(url, {"organizations": ["NOPE"]}, format="json").status_code == 400
    assert not EarlyWarning.objects.exists()
    deadline = timezone.now() + dt.timedelta(days=2)
    done = coordinator.post(url, {"respond_by": deadline.isoformat(), "organizations": ["RESP"]}, format="json")
    assert done.status_code == 200, done.content
    warning = EarlyWarning.objects.get()
    assert abs(warning.respond_by - deadline) < dt.timedelta(seconds=1)
    assert list(warning.targets.values_list("organization__code", flat=True)) == ["RESP"]


def test_one_event_matching_several_indicators_counts_once_everywhere(world, intel, make_source, as_user,
                                                                       coordinator_client):
    """Two producers' indicators naming one value: one event is two indicator hits but one event matching
    indicators, on the alert list, the alert's page, the dashboard and the campaign; each figure says what it
    counts, and an indicator's kind is shown in words (not `ipv4`)."""
    from khien.intel import services as intel_services
    from khien.intel.models import indicator_kind_label
    from khien.intel.tests.conftest import indicator
    from khien.telemetry.models import IndicatorHit
    from khien.telemetry.views import dashboard_data

    value = intel.values[Tlp.GREEN]
    intel_services.do_add_objects(intel.collection, [indicator(value, tlp=Tlp.GREEN)], acting_user=world.coordinator)
    for org in (world.ministry, world.province, world.department):
        services.ingest_batch(make_source(org, "ecs")[0], [ecs(value, rule="two-producers")])
    alert = Alert.objects.get(rule_id="two-producers", organization=world.ministry)
    assert IndicatorHit.objects.filter(alert=alert).count() == 2
    correlation.correlate()
    campaign = Campaign.objects.get()
    assert campaign.count == 3  # one event per organization
    detail = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    assert f"({indicator_kind_label('ipv4')})" in detail and "(ipv4)" not in detail
    events = detail[detail.index('id="campaign-events"'):]
    assert events[events.index(">") + 1:events.index("</dd>")] == "3"
    client = as_user(world.analyst)  # (the same test client, signed in again)
    listing = client.get(reverse("telemetry:alerts")).content.decode()
    badge = listing[listing.index("data-hit-badge"):]
    badge = badge[badge.index(">") + 1:badge.index("</span>")]
    assert badge.startswith("1 ")
    page = client.get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    facts = page[page.index('id="alert-hit-events"'):]
    assert facts[facts.index(">") + 1:facts.index("</dd>")] == "1"
    table = page[page.index('id="alert-indicators"'):page.index("</table>", page.index('id="alert-indicators"'))]
    assert table.count('<td class="num">1</td>') == 2  # each indicator: the one event
    assert f"<td>{indicator_kind_label('ipv4')}</td>" in table and "<td>ipv4</td>" not in table
    # The analyst sees the ministry and its department: one event each, four hit rows.
    assert dashboard_data(world.analyst)["kpis"]["hits_24h"] == 2
    # The badge, the page and the dashboard card name the same measure; the hit rows are named differently.
    from django.utils.translation import gettext, ngettext
    assert badge.strip() == ngettext("%(n)s event matching indicators", "%(n)s events matching indicators", 1) % {"n": 1}
    assert gettext("events matching indicators in the last 24 hours") in client.get(
        reverse("telemetry:dashboard")).content.decode()
    assert gettext("Events matching indicators") in page
    assert gettext("Indicator hits (one per event and indicator)") in page


def _ecs_seen_by(observer, ip, **kw):
    import json

    record = json.loads(ecs(ip, **kw))
    record["observer"] = {"name": observer}
    return json.dumps(record).encode()


@pytest.fixture
def triage_alerts(world, make_source):
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    ministry = make_source(world.ministry, "ecs")[0]
    services.ingest_batch(ministry, [
        _ecs_seen_by("wazuh-agent-07", "203.0.113.7", rule="c2", when=now - dt.timedelta(minutes=10)),
        _ecs_seen_by("ids-core", "203.0.113.70", rule="scan", when=now - dt.timedelta(hours=5), n=1),
        ecs(None, rule="hash", sha256="AB" * 32, when=now - dt.timedelta(minutes=20), n=2),
        ecs(None, rule="url", url="http://evil.example/x.bin", when=now - dt.timedelta(minutes=30), n=3),
    ])
    services.ingest_batch(make_source(world.department, "ecs")[0], [
        _ecs_seen_by("wazuh-agent-07", "203.0.113.7", rule="dept-c2", when=now - dt.timedelta(minutes=5))])
    services.ingest_batch(make_source(world.province, "ecs")[0], [ecs("203.0.113.7", rule="province-c2")])
    return now


def _alert_rules(response) -> list[str]:
    import re

    return sorted(re.findall(r">Rule ([\w-]+)</a>", response.content.decode()))


def test_alert_list_filters_by_observable_observer_organization_and_time(world, triage_alerts, as_user, api):
    import datetime as dt

    from django.utils import timezone

    client = as_user(world.admin)  # the ministry and its department
    url = reverse("telemetry:alerts")
    everything = client.get(url, {"status": "all"})
    assert _alert_rules(everything) == ["c2", "dept-c2", "hash", "scan", "url"]
    page = everything.content.decode()
    assert "wazuh-agent-07" in page and "203.0.113.70" in page  # the observer and the main address, on the list
    # An observable: exactly one of the alert's addresses, domain, URL or hashes ("203.0.113.7" is not ".70").
    assert _alert_rules(client.get(url, {"status": "all", "observable": "203.0.113.7"})) == ["c2", "dept-c2"]
    assert _alert_rules(client.get(url, {"status": "all", "observable": "ab" * 32})) == ["hash"]
    assert _alert_rules(client.get(url, {"status": "all", "observable": "http://evil.example/x.bin"})) == ["url"]
    assert _alert_rules(client.get(url, {"status": "all", "observer": "wazuh-agent-07"})) == ["c2", "dept-c2"]
    assert _alert_rules(client.get(url, {"status": "all", "organization": world.department.code})) == ["dept-c2"]
    # Another organization's code (out of scope) finds nothing of it.
    assert _alert_rules(client.get(url, {"status": "all", "organization": world.province.code})) == []
    local = timezone.localtime(triage_alerts - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert _alert_rules(client.get(url, {"status": "all", "since": local})) == ["c2", "dept-c2", "hash", "url"]
    assert _alert_rules(client.get(url, {"status": "all", "until": local})) == ["scan"]
    # The status tabs keep the filters.
    assert "observable=203.0.113.7" in client.get(url, {"observable": "203.0.113.7"}).content.decode()
    # Bad values: a 400 that says which, nothing listed.
    for bad in ({"since": "yesterday"}, {"until": "2026-13-45T99:00"}, {"observable": "x" * 3000}):
        answer = client.get(url, {"status": "all", **bad})
        assert answer.status_code == 400 and 'id="alert-filter-errors"' in answer.content.decode(), bad
        assert _alert_rules(answer) == []
    # The alert's page names its observer.
    from khien.telemetry.models import Alert

    alert = Alert.objects.get(rule_id="c2")
    detail = client.get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    assert 'id="alert-observer"' in detail and "wazuh-agent-07" in detail
    # The API takes the same filters.
    rest = api(world.admin)

    def rules(**params):
        answer = rest.get("/api/telemetry/alert-groups/", params)
        assert answer.status_code == 200, answer.content
        rows = answer.json()
        return sorted(r["rule_id"] for r in (rows["results"] if isinstance(rows, dict) else rows))

    assert rules(observable="203.0.113.7") == ["c2", "dept-c2"]
    assert rules(observer="ids-core") == ["scan"]
    assert rules(until=local) == ["scan"]
    for bad in ({"since": "yesterday"}, {"observable": "x" * 3000}):
        answer = rest.get("/api/telemetry/alert-groups/", bad)
        assert answer.status_code == 400 and set(answer.json()) == set(bad), answer.content


def test_the_campaign_warning_form_shows_the_indicators_the_warning_will_name(world, campaign, intel,
                                                                               coordinator_client):
    """Before sending, the coordinator sees which indicators the warning will name (what a hash or URL campaign's
    recipients get), each with its marking; once the warning is sent the form, and the preview, are gone."""
    from khien.telemetry.models import IndicatorHit

    url = reverse("telemetry:campaign", args=[campaign.pk])
    page = coordinator_client.get(url).content.decode()
    preview = page[page.index('id="warning-indicators"'):page.index("</div>", page.index('id="warning-indicators"'))]
    assert f"/intel/objects/{intel.ids[Tlp.GREEN]}/" in preview and "TLP:GREEN" in preview
    assert intel.ids[Tlp.AMBER] not in preview  # not behind this campaign
    # Indicators the coordinator may not see are not named, and the form says the warning names none.
    IndicatorHit.objects.update(indicator_id="indicator--00000000-0000-4000-8000-000000000000")
    page = coordinator_client.get(url).content.decode()
    preview = page[page.index('id="warning-indicators"'):page.index("</div>", page.index('id="warning-indicators"'))]
    assert "/intel/objects/" not in preview and 'class="muted"' in preview
    IndicatorHit.objects.update(indicator_id=intel.ids[Tlp.GREEN])
    assert coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"])).status_code == 302
    assert 'id="warning-indicators"' not in coordinator_client.get(url).content.decode()


def test_a_campaign_warning_tells_the_organizations_hit_that_their_monitoring_saw_it(world, campaign, api):
    """Each organization the campaign hit is a target "seen by your monitoring" with its number of events, on the
    warning's page and in its e-mail; an organization the coordinator adds is "chosen by the sender"."""
    from django.utils import translation

    from khien.intel.models import TargetReason, WarningTarget

    answer = api(world.coordinator).post(f"/api/telemetry/campaigns/{campaign.pk}/warn/", {
        "organizations": [o.code for o in campaign.organizations.all()] + [world.responder_org.code]},
        format="json")
    assert answer.status_code in (200, 201), answer.content
    reasons = {t.organization_id: (t.reason, t.matched_value) for t in WarningTarget.objects.all()}
    for org in (world.ministry, world.province, world.department):
        assert reasons[org.pk] == (TargetReason.SEEN, "1")
    assert reasons[world.responder_org.pk] == (TargetReason.CHOSEN, "")
    from khien.intel.services_warnings import _email_details

    target = WarningTarget.objects.get(organization=world.ministry)
    with translation.override("en"):
        assert "Why your organization receives it: Seen by your monitoring: 1 event during the campaign." in _email_details(
            target.warning, target)
