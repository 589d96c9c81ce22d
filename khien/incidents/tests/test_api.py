"""The incidents API at /api/incidents/: deadlines fields, visibility (404), refusals (400/403/409), writes via services."""
import datetime as dt

import pytest
from django.utils import timezone

from khien.core.models import AuditEntry
from khien.incidents import services
from khien.incidents.models import Incident, IncidentEvent, Status, Task

pytestmark = pytest.mark.django_db

URL = "/api/incidents/"


def iso(value):
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def body(**extra):
    data = {
        "organization": "MIN",
        "title": "Tấn công từ chối dịch vụ cổng thông tin",
        "detected_at": iso(timezone.now() - dt.timedelta(hours=3)),
        "category": "ddos",
        "severity": "critical",
        "suspected_malicious": True,
        "impact_beyond_organization": True,
        "description": "Cổng thông tin không truy cập được.",
        "tlp": "amber",
    }
    data.update(extra)
    return data


def written():
    return Incident.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.count()


def test_report_through_the_api_with_deadline_fields(world, api, make_system, incident_content):
    system = make_system(world.ministry)
    detected = (timezone.now() - dt.timedelta(hours=3)).replace(microsecond=0)
    response = api(world.analyst).post(URL, body(systems=[system.code], detected_at=iso(detected)), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["reference"].startswith("SC-") and data["status"] == "new"
    assert data["systems"] == [system.code] and data["organization"] == "MIN"
    assert dt.datetime.fromisoformat(data["detected_at"]) == detected
    assert dt.datetime.fromisoformat(data["report_due_at"]) == detected + dt.timedelta(hours=24)
    assert data["reported_late"] is False
    assert data["next_stage"] == "notification"
    assert dt.datetime.fromisoformat(data["next_stage_due_at"]) == detected + dt.timedelta(hours=72)
    reported = dt.datetime.fromisoformat(data["reported_at"])
    assert dt.datetime.fromisoformat(data["triage_due_at"]) == reported + dt.timedelta(hours=1)  # critical
    assert [s["code"] for s in data["stages"]] == ["initial", "notification", "final"]
    assert data["stages"][0]["late"] is False
    assert Incident.objects.get(pk=data["id"]).created_by == world.analyst


def test_late_report_flagged(world, api, incident_content):
    detected = timezone.now() - dt.timedelta(hours=25)
    client = api(world.analyst)
    # Past the 24-hour deadline, the report says why, as on the page (the service's rule).
    refused = client.post(URL, body(detected_at=iso(detected)), format="json")
    assert refused.status_code == 400 and "late_reason" in refused.json()
    assert not Incident.objects.exists()
    data = client.post(URL, body(detected_at=iso(detected), late_reason="Mất điện 30 giờ"), format="json").json()
    assert data["reported_late"] is True and data["late_reason"] == "Mất điện 30 giờ"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"detected_at": "future"}, "detected_at"),
        ({"category": "alien-invasion"}, "category"),
        ({"severity": "extreme"}, "severity"),
        ({"systems": ["SYS-PROV-1"]}, "systems"),        # another organization's system: not found for the caller
        ({"organization": "PROV"}, "organization"),     # another tree: not found for the caller
        ({"tlp": "blue"}, "tlp"),
        ({"detected_at": "yesterday"}, "detected_at"),
        ({"detected_at": "0001-01-01T00:00:00Z"}, "detected_at"),   # before 2000: a typing error
        ({"detected_at": "1850-06-01T08:00:00+07:00"}, "detected_at"),
    ],
)
def test_bad_reports_are_400_and_write_nothing(world, api, make_system, incident_content, extra, field):
    make_system(world.province)  # SYS-PROV-1
    if extra.get("detected_at") == "future":
        extra["detected_at"] = iso(timezone.now() + dt.timedelta(minutes=5))
    client = api(world.analyst)  # (creating its token is audited too)
    before = written()
    response = client.post(URL, body(**extra), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert written() == before


def test_unit_system_of_a_visible_organization_refused(world, api, make_system, incident_content):
    unit_system = make_system(world.department)  # visible to the ministry analyst, but not the ministry's
    client = api(world.analyst)
    before = written()
    response = client.post(URL, body(systems=[unit_system.code]), format="json")
    assert response.status_code == 400 and "systems" in response.json()
    assert written() == before


@pytest.mark.parametrize("who", ["auditor", "responder"])
def test_report_without_the_right_is_403(world, api, incident_content, who):
    client = api(getattr(world, who))
    before = written()
    organization = "MIN" if who == "auditor" else "RESP"
    response = client.post(URL, body(organization=organization), format="json")
    assert response.status_code == 403
    assert written() == before


def test_visibility_list_and_detail(world, api, report):
    dept = report(org=world.department, user=world.dept_analyst, title="Department")
    prov = report(org=world.province, user=world.other_admin, title="Province")
    api(world.coordinator).post(f"{URL}{dept.pk}/assign/", {"responder": "RESP"}, format="json")

    def titles(user):
        return {row["title"] for row in api(user).get(URL).json()["results"]}

    assert titles(world.coordinator) == {"Department", "Province"}
    assert titles(world.admin) == {"Department"}
    assert titles(world.dept_analyst) == {"Department"}
    assert titles(world.responder) == {"Department"}
    assert titles(world.other_admin) == {"Province"}
    assert titles(world.nobody) == set()
    assert api(world.responder).get(f"{URL}{prov.pk}/").status_code == 404
    assert api(world.other_admin).get(f"{URL}{dept.pk}/").status_code == 404
    assert api(world.responder).get(f"{URL}{dept.pk}/").json()["assignments"][0]["responder"] == "RESP"
    assert api().get(URL).status_code == 401


def test_workflow_over_the_api(world, api, report):
    incident = report(reports_given=True)
    url = f"{URL}{incident.pk}/transition/"
    client = api(world.analyst)
    assert client.post(url, {"status": "contained"}, format="json").status_code == 409
    assert api(world.auditor).post(url, {"status": "triaged"}, format="json").status_code == 403
    assert api(world.other_admin).post(url, {"status": "triaged"}, format="json").status_code == 404
    assert client.post(url, {"status": "exploded"}, format="json").status_code == 400
    stage_url = f"{URL}{incident.pk}/stage/"
    final = {"stage": "final", "root_cause": "Mật khẩu yếu", "mitigation": "Đổi mật khẩu"}
    for status in ("triaged", "in_response", "contained", "resolved", "closed"):
        if status == "resolved":  # the final report waits for the end of the response
            assert client.post(stage_url, final, format="json").status_code == 409
        response = client.post(url, {"status": status, "cancel_open_tasks": True}, format="json")
        assert response.status_code == 200 and response.json()["status"] == status
        if status == "resolved":
            assert client.post(stage_url, final, format="json").status_code == 200
    before = written()
    response = client.post(url, {"status": "in_response"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert written() == before
    response = client.post(url, {"status": "in_response", "reason": "Tái nhiễm"}, format="json")
    assert response.status_code == 200 and response.json()["closed_at"] is None
    journal = client.get(f"{URL}{incident.pk}/journal/").json()
    # Triage planned the standard tasks of the category (one journal line listing them); resolving cancelled
    # the analyst's parties' still open (the reporting organization's, and the responder organization's: none is
    # assigned), one line each, before the status line — except the lessons learned, which belong after
    # resolving: the final report marked that one done (a task line after the stage line); closing cancelled the
    # coordinator's, one line each.
    cancelled = Task.objects.filter(incident=incident, status="cancelled")
    by_resolving = cancelled.exclude(party="coordinator").count()
    assert by_resolving > 0 and cancelled.count() > by_resolving
    assert Task.objects.get(incident=incident, template_code="lessons-learned").status == "done"
    # The detailed notification was given before the triage: its task is created done (a second task line).
    assert [e["kind"] for e in journal] == (["reported", "stage", "status", "task", "task"] + ["status"] * 2
                                            + ["task"] * by_resolving + ["status", "stage", "task"]
                                            + ["task"] * (cancelled.count() - by_resolving)
                                            + ["status", "reopened"])
    assert journal[-1]["text"] == "Tái nhiễm"


def test_assign_comment_and_tasks_over_the_api(world, api, report):
    incident = report(org=world.department, user=world.dept_analyst)
    url = f"{URL}{incident.pk}/"
    assert api(world.analyst).post(url + "assign/", {"responder": "RESP"}, format="json").status_code == 403
    assert api(world.admin).post(url + "assign/", {"responder": "PROV"}, format="json").status_code == 400
    assert api(world.admin).post(url + "assign/", {"responder": "RESP"}, format="json").status_code == 201
    assert api(world.admin).post(url + "assign/", {"responder": "RESP"}, format="json").status_code == 409

    responder = api(world.responder)
    response = responder.post(url + "journal/", {"text": "Đã tiếp nhận"}, format="json")
    assert response.status_code == 201 and response.json()["actor_email"] == world.responder.email
    assert api(world.auditor).post(url + "journal/", {"text": "x"}, format="json").status_code == 403
    assert responder.post(url + "journal/", {"text": " "}, format="json").status_code == 400

    due = iso(timezone.now() + dt.timedelta(days=2))
    response = api(world.dept_analyst).post(url + "tasks/", {"title": "Cô lập máy chủ", "owner": world.responder.email,
                                                             "due_at": due}, format="json")
    assert response.status_code == 201, response.content
    task_id = response.json()["id"]
    assert api(world.dept_analyst).post(url + "tasks/", {"title": "x", "owner": world.other_admin.email},
                                        format="json").status_code == 400
    response = responder.post(f"{url}tasks/{task_id}/status/", {"status": "done"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "done"
    assert [t["status"] for t in responder.get(url + "tasks/").json()] == ["done"]
    assert Task.objects.count() == 1


def test_updated_after_filter_for_incremental_export(world, api, report):
    old = report(title="Old")
    cutoff = timezone.now()
    new = report(title="New")
    Incident.objects.filter(pk=old.pk).update(updated_at=cutoff - dt.timedelta(minutes=1))
    Incident.objects.filter(pk=new.pk).update(updated_at=cutoff + dt.timedelta(minutes=1))
    rows = api(world.analyst).get(URL, {"updated_after": iso(cutoff)}).json()["results"]
    assert [r["title"] for r in rows] == ["New"]
    rows = api(world.analyst).get(URL, {"status": [Status.NEW], "severity": "high"}).json()["results"]
    assert {r["title"] for r in rows} == {"Old", "New"}


def test_a_severity_no_policy_has_is_a_400_not_an_empty_list(world, api, report):
    report(title="Old")
    for language, words in (("en", "not one of the available choices"), ("vi", "không")):
        answer = api(world.analyst).get(URL, {"severity": "zzz"}, HTTP_ACCEPT_LANGUAGE=language)
        assert answer.status_code == 400 and "severity" in answer.json(), answer.content
    assert api(world.analyst).get(URL, {"severity": "high"}).json()["count"] == 1


def test_report_stages_over_the_api(world, api, report):
    incident = report()
    client = api(world.analyst)
    url = f"{URL}{incident.pk}/stage/"
    assert client.post(url, {"stage": "final", "root_cause": "a", "mitigation": "b"}, format="json").status_code == 409
    response = client.post(url, {"stage": "notification", "services_disrupted": "Cổng"}, format="json")
    assert response.status_code == 400 and "people_affected" in response.json()
    assert client.post(url, {"stage": "notification", "people_affected": -1}, format="json").status_code == 400
    response = client.post(url, {"stage": "notification", "services_disrupted": "Cổng", "people_affected": 1200},
                           format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["next_stage"] == "final" and data["notified_at"] is not None
    assert dt.datetime.fromisoformat(data["next_stage_due_at"]) > dt.datetime.fromisoformat(data["notified_at"])


def test_api_bodies_refuse_dates_out_of_range_with_a_message(world, api, incident_content):
    """A date in a request body (any ModelSerializer's, and the declared ones) outside the platform's years is a
    400 with the message, never a 500 (a time without a zone near year 1 overflowed) nor a year-1027 incident."""
    from khien.incidents.models import Incident

    client = api(world.analyst)
    body = {"organization": "MIN", "title": "t", "category": "ids-alert", "severity": "low", "description": "x",
            "suspected_malicious": False, "impact_beyond_organization": False, "tlp": "amber"}
    for date in ("0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00", "1027-08-26T11:24:00Z", "1969-06-01T00:00:00Z"):
        response = client.post("/api/incidents/", dict(body, detected_at=date), format="json")
        assert response.status_code == 400, (date, response.content)
        assert "1970" in response.json()["detected_at"][0] and "9998" in response.json()["detected_at"][0]
    incident = client.post("/api/incidents/", dict(body, detected_at="2026-12-01T08:00:00+07:00",
                                                   late_reason="Phát hiện muộn"), format="json")
    assert incident.status_code == 201
    task = client.post(f"/api/incidents/{incident.json()['id']}/tasks/", {"title": "t", "due_at": "0001-01-01T00:00"},
                       format="json")
    assert task.status_code == 400 and "due_at" in task.json()
    assert Incident.objects.count() == 1


def test_the_lists_filters_do_not_hide_one_incident_or_its_parts(world, api, report):
    """An incident's page and its journal, tasks, observables and evidence are whole arrays; the list's filters
    (here a severity it does not have, a date before it) never turn them into a 404: the incident is read, and its
    parts, which take no parameter, say so (400 naming them) instead of ignoring them silently."""
    incident = report(org=world.ministry, user=world.analyst, severity="low")
    client = api(world.analyst)
    query = "?severity=critical&detected_after=2000-01-01T00:00"
    assert client.get(f"{URL}{incident.pk}/{query}").status_code == 200
    for part in ("journal/", "tasks/", "observables/", "evidence/"):
        response = client.get(f"{URL}{incident.pk}/{part}{query}")
        assert response.status_code == 400 and "severity" in str(response.json()), (part, response.content)
        assert isinstance(client.get(f"{URL}{incident.pk}/{part}").json(), list)
    assert client.get(f"{URL}?severity=critical").json()["count"] == 0  # the list still filters


def test_classification_over_the_api(world, api, report):
    """`POST /api/incidents/{id}/classification/`: the reporting side and the coordinator correct the category,
    severity or TLP; the journal keeps the change with the reason."""
    incident = report(category="undetermined")
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    url = f"{URL}{incident.pk}/classification/"
    responder, auditor, other, analyst, coordinator = (api(u) for u in (
        world.responder, world.auditor, world.other_admin, world.analyst, world.coordinator))
    before = written()
    assert responder.post(url, {"severity": "low"}, format="json").status_code == 403
    assert auditor.post(url, {"severity": "low"}, format="json").status_code == 403
    assert other.post(url, {"severity": "low"}, format="json").status_code == 404
    response = analyst.post(url, {"category": "nope", "tlp": "purple"}, format="json")
    assert response.status_code == 400 and "tlp" in response.json()
    response = analyst.post(url, {"category": "nope"}, format="json")
    assert response.status_code == 400 and "category" in response.json()
    assert written() == before
    response = coordinator.post(url, {"category": "ddos", "severity": "critical",
                                                 "reason": "Xác minh: DDoS"}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert (data["category"], data["severity"], data["tlp"]) == ("ddos", "critical", "amber")
    journal = analyst.get(f"{URL}{incident.pk}/journal/").json()
    assert journal[-1]["kind"] == "reclassified" and journal[-1]["text"] == "Xác minh: DDoS"
    assert journal[-1]["data"]["changes"]["severity"] == ["high", "critical"]
