"""The incident pages through the Django test client: each role sees what it should, another
organization's incident is a 404, refused or invalid POSTs are 4xx and write nothing."""
import datetime as dt
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from khien.core.models import AuditEntry
from khien.incidents import services
from khien.incidents.models import (
    CustodyEvent,
    Evidence,
    Incident,
    IncidentEvent,
    ResponderAssignment,
    Status,
    Task,
)

from .conftest import walk

pytestmark = pytest.mark.django_db

PASSWORD = "Khien-test-pass-2026"
LIST = "/incidents/"


def state():
    return (Incident.objects.count(), IncidentEvent.objects.count(), ResponderAssignment.objects.count(),
            Task.objects.count(), Evidence.objects.count(), CustodyEvent.objects.count(),
            AuditEntry.objects.exclude(action="login").count(),  # (signing in is audited too)
            list(Incident.objects.values_list("status", flat=True)))




@pytest.fixture
def incidents(world, report):
    dept = report(org=world.department, user=world.dept_analyst, title="Department incident")
    prov = report(org=world.province, user=world.other_admin, title="Province incident")
    return dept, prov


def detail(incident):
    return f"{LIST}{incident.pk}/"


def local_input(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


# --- list ------------------------------------------------------------------------------------------


def test_list_shows_what_each_role_may_see(world, as_user, incidents, report):
    dept, prov = incidents
    services.do_assign_responder(dept, world.responder_org, acting_user=world.coordinator)
    for user, seen in [
        (world.dept_analyst, {"Department incident"}),
        (world.admin, {"Department incident"}),
        (world.auditor, {"Department incident"}),
        (world.responder, {"Department incident"}),
        (world.other_admin, {"Province incident"}),
        (world.nobody, set()),
    ]:
        response = as_user(user).get(LIST)
        assert response.status_code == 200
        page = response.content.decode()
        for title in ("Department incident", "Province incident"):
            assert (title in page) == (title in seen), (user.email, title)


def test_list_as_coordinator_with_filters_and_badges(world, coordinator_client, incidents, report):
    now = timezone.now()
    late = report(title="Late one", detected_at=now - dt.timedelta(hours=30), severity="critical", category="phishing")
    page = coordinator_client.get(LIST).content.decode()
    assert "Department incident" in page and "Province incident" in page and "Late one" in page
    assert page.count('class="badge bad"') >= 1  # the late report
    response = coordinator_client.get(LIST, {"severity": "critical"})
    assert [r["incident"].title for r in response.context["rows"]] == ["Late one"]
    assert response.context["rows"][0]["reported_late"] is True
    response = coordinator_client.get(LIST, {"category": "phishing", "organization": "MIN"})
    assert [r["incident"].pk for r in response.context["rows"]] == [late.pk]
    response = coordinator_client.get(LIST, {"status": ["triaged"]})
    assert response.context["rows"] == []
    response = coordinator_client.get(LIST, {"status": ["exploded"]})
    assert response.status_code == 400 and response.context["rows"] == []
    assert coordinator_client.get(LIST, {"page": "999"}).status_code == 200


def test_list_paginates(world, as_user, report):
    for i in range(51):
        report(title=f"Incident {i}")
    response = as_user(world.analyst).get(LIST)
    assert len(response.context["rows"]) == 50
    assert len(as_user(world.analyst).get(LIST, {"page": 2}).context["rows"]) == 1


def test_anonymous_is_sent_to_login(client, incidents):
    response = client.get(LIST)
    assert response.status_code == 302 and "login" in response["Location"]


# --- report form ------------------------------------------------------------------------------------


def report_form(world, **extra):
    data = {
        "organization": str(world.ministry.pk),
        "title": "Lộ lọt dữ liệu cổng dịch vụ công",
        "detected_at": local_input(timezone.now() - dt.timedelta(hours=3)),
        "category": "data-leak",
        "severity": "high",
        "suspected_malicious": "true",
        "impact_beyond_organization": "false",
        "description": "Dữ liệu người dùng bị rao bán.",
        "tlp": "amber",
        "people_affected": "1200",
    }
    data.update(extra)
    return data


def test_report_form(world, as_user, make_system, incident_content):
    own = make_system(world.ministry)
    foreign = make_system(world.province)
    unit = make_system(world.department)
    client = as_user(world.analyst)
    # Two organizations may be reported for (the ministry and its department): the analyst's own is preselected.
    fresh = client.get(f"{LIST}new/").context["form"]
    assert fresh.initial["organization"] == world.ministry and list(fresh.fields["systems"].queryset) == [own]
    dept_form = as_user(world.dept_analyst).get(f"{LIST}new/").context["form"]
    assert dept_form.initial["organization"] == world.department
    client = as_user(world.analyst)
    page = client.get(f"{LIST}new/", {"organization": "MIN"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'type="datetime-local"' in html and "<optgroup" in html  # categories grouped by RSIT class
    systems = page.context["form"].fields["systems"].queryset
    assert list(systems) == [own] and foreign not in systems and unit not in systems
    # The systems field follows the chosen organization (HTMX partial).
    partial = client.get(f"{LIST}new/systems/", {"organization": str(world.ministry.pk)}).content.decode()
    assert own.code in partial and unit.code not in partial
    assert foreign.code not in client.get(f"{LIST}new/systems/", {"organization": str(world.province.pk)}).content.decode()
    assert client.get(f"{LIST}new/systems/", {"organization": "not-a-uuid"}).status_code == 200

    detected = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(hours=3)
    response = client.post(f"{LIST}new/", report_form(world, systems=[str(own.pk)], detected_at=local_input(detected)))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert response["Location"] == detail(incident)
    assert incident.detected_at == detected  # read as Vietnam time
    assert list(incident.systems.all()) == [own] and incident.people_affected == 1200
    assert incident.suspected_malicious is True and incident.impact_beyond_organization is False


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"title": ""}, "title"),
        ({"detected_at": "future"}, "detected_at"),
        ({"detected_at": "2026-13-45T99:99"}, "detected_at"),
        ({"detected_at": "1850-01-01T08:00"}, "detected_at"),
        ({"category": "alien-invasion"}, "category"),
        ({"severity": "extreme"}, "severity"),
        ({"suspected_malicious": ""}, "suspected_malicious"),
        ({"organization": "province"}, "organization"),      # not one the analyst may report for
        ({"systems": "foreign"}, "systems"),
        ({"people_affected": "-3"}, "people_affected"),
        ({"tlp": "blue"}, "tlp"),
    ],
)
def test_bad_report_form_is_400_and_writes_nothing(world, as_user, make_system, incident_content, extra, field):
    foreign = make_system(world.province)
    if extra.get("detected_at") == "future":
        extra["detected_at"] = local_input(timezone.now() + dt.timedelta(hours=1))
    if extra.get("organization") == "province":
        extra["organization"] = str(world.province.pk)
    if extra.get("systems") == "foreign":
        extra["systems"] = [str(foreign.pk)]
    client = as_user(world.analyst)
    before = state()
    response = client.post(f"{LIST}new/", report_form(world, **extra))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert state() == before


def test_report_form_refused_to_view_only_roles(world, as_user, incident_content):
    for user in (world.auditor, world.responder, world.nobody):
        client = as_user(user)
        before = state()
        assert client.get(f"{LIST}new/").status_code == 403
        assert client.post(f"{LIST}new/", report_form(world)).status_code == 403
        assert state() == before


# --- detail --------------------------------------------------------------------------------------


def test_detail_for_each_role(world, as_user, incidents):
    dept, prov = incidents
    services.do_assign_responder(dept, world.responder_org, acting_user=world.coordinator)
    # The reporting organization: workflow (triage), comments, tasks, evidence upload; no assignment (analyst).
    response = as_user(world.dept_analyst).get(detail(dept))
    assert response.status_code == 200
    ctx = response.context
    assert [s["to"] for s in ctx["steps"]] == [Status.TRIAGED]
    assert ctx["assign_form"] is None and ctx["comment_form"] and ctx["task_form"] and ctx["evidence_form"]
    html = response.content.decode()
    assert 'class="countdown"' in html and "data-due=" in html and "khien/incidents.js" in html
    assert "<script>" not in html and " style=" not in html
    # The parent organization's administrator may assign responders.
    assert as_user(world.admin).get(detail(dept)).context["assign_form"] is not None
    # An assigned responder takes part but does not triage; an auditor only reads.
    ctx = as_user(world.responder).get(detail(dept)).context
    assert ctx["steps"] == [] and ctx["comment_form"] and ctx["evidence_form"] and ctx["assign_form"] is None
    ctx = as_user(world.auditor).get(detail(dept)).context
    assert ctx["steps"] == [] and ctx["comment_form"] is None and ctx["task_form"] is None
    assert ctx["evidence_form"] is None and ctx["assign_form"] is None
    # Another organization's incident does not exist for them.
    assert as_user(world.other_admin).get(detail(dept)).status_code == 404
    assert as_user(world.responder).get(detail(prov)).status_code == 404
    assert as_user(world.nobody).get(detail(dept)).status_code == 404


def test_other_organization_gets_404_on_every_action(world, as_user, incidents):
    dept, _prov = incidents
    evidence = services.do_add_evidence(dept, acting_user=world.dept_analyst,
                                        uploaded=SimpleUploadedFile("a.log", b"log"))
    task = services.do_add_task(dept, {"title": "t"}, acting_user=world.dept_analyst)
    client = as_user(world.other_admin)
    before = state()
    base = detail(dept)
    for url, data in [
        (base + "transition/", {"status": "triaged"}),
        (base + "assign/", {"responder": str(world.responder_org.pk)}),
        (base + "comments/", {"text": "x"}),
        (base + "tasks/", {"title": "x"}),
        (f"{base}tasks/{task.pk}/status/", {"status": "done"}),
        (base + "evidence/", {"note": "x"}),
        (f"{base}evidence/{evidence.pk}/custody/", {"action": "analysed"}),
        (f"{base}evidence/{evidence.pk}/seal/", {}),
    ]:
        assert client.post(url, data).status_code == 404, url
    assert client.get(f"{LIST}evidence/{evidence.pk}/download/").status_code == 404
    assert state() == before


def test_workflow_through_the_page(world, as_user, incidents):
    from .conftest import give_reports

    dept, _prov = incidents
    give_reports(dept, world.dept_analyst)
    client = as_user(world.dept_analyst)
    url = detail(dept) + "transition/"
    before = state()
    assert client.post(url, {"status": "closed"}).status_code == 409          # not from "new"
    assert client.post(url, {"status": "exploded"}).status_code == 400
    assert as_user(world.auditor).post(url, {"status": "triaged"}).status_code == 403
    assert state() == before
    client = as_user(world.dept_analyst)
    for status in ("triaged", "in_response", "contained", "resolved", "closed"):
        response = client.post(url, {"status": status, "cancel_open_tasks": "1"})
        assert response.status_code == 302, (status, response.status_code)
        if status == "resolved":  # the final report, at the end of the response, before closing
            dept.refresh_from_db()
            give_reports(dept, world.dept_analyst)
    dept.refresh_from_db()
    assert dept.status == Status.CLOSED
    ctx = client.get(detail(dept)).context
    assert [(s["to"], s["reopen"]) for s in ctx["steps"]] == [(Status.IN_RESPONSE, True)]
    before = state()
    response = client.post(url, {"status": "in_response", "reason": "  "})
    assert response.status_code == 400 and state() == before
    assert client.post(url, {"status": "in_response", "reason": "Tái nhiễm"}).status_code == 302
    dept.refresh_from_db()
    assert dept.status == Status.IN_RESPONSE


def test_assign_comment_task_through_the_page(world, as_user, incidents):
    dept, _prov = incidents
    admin = as_user(world.admin)
    base = detail(dept)
    before = state()
    assert admin.post(base + "assign/", {"responder": str(world.province.pk)}).status_code == 400  # not a responder
    assert admin.post(base + "assign/", {"responder": ""}).status_code == 400
    assert as_user(world.dept_analyst).post(base + "assign/", {"responder": str(world.responder_org.pk)}).status_code == 403
    assert state() == before
    admin = as_user(world.admin)
    assert admin.post(base + "assign/", {"responder": str(world.responder_org.pk), "confirmed": "1"}).status_code == 302
    assert dept.assignments.get().responder == world.responder_org

    responder = as_user(world.responder)
    assert responder.post(base + "comments/", {"text": "Đã tiếp nhận"}).status_code == 302
    before = state()
    assert responder.post(base + "comments/", {"text": "   "}).status_code == 400
    assert as_user(world.auditor).post(base + "comments/", {"text": "x"}).status_code == 403
    responder = as_user(world.responder)
    assert responder.post(base + "tasks/", {"title": ""}).status_code == 400
    assert responder.post(base + "tasks/", {"title": "x", "owner": str(world.other_admin.pk)}).status_code == 400
    assert responder.post(base + "tasks/", {"title": "x", "due_at": "soon"}).status_code == 400
    assert state() == before
    due = local_input(timezone.now() + dt.timedelta(days=1))
    assert responder.post(base + "tasks/", {"title": "Cô lập máy chủ", "owner": str(world.responder.pk),
                                            "due_at": due}).status_code == 302
    task = Task.objects.get()
    assert task.owner == world.responder
    assert responder.post(f"{base}tasks/{task.pk}/status/", {"status": "lost"}).status_code == 400
    assert responder.post(f"{base}tasks/{task.pk}/status/", {"status": "done"}).status_code == 302
    task.refresh_from_db()
    assert task.status == "done"
    page = responder.get(base).content.decode()
    assert "Đã tiếp nhận" in page and "Cô lập máy chủ" in page and "RESP" in page


def test_evidence_through_the_page(world, as_user, incidents, settings):
    dept, _prov = incidents
    services.do_assign_responder(dept, world.responder_org, acting_user=world.coordinator)
    base = detail(dept)
    responder = as_user(world.responder)
    content = b"memory dump" * 50
    response = responder.post(base + "evidence/", {"file": SimpleUploadedFile("mem.raw", content),
                                                   "received_from": "MIN-D1"})
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    page = responder.get(base).content.decode()
    assert evidence.sha256 in page and "mem.raw" in page

    download = responder.get(f"{LIST}evidence/{evidence.pk}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == content
    assert download["Content-Type"] == "application/octet-stream"
    assert as_user(world.auditor).get(f"{LIST}evidence/{evidence.pk}/download/").status_code == 200  # may read

    prefix = f"c{evidence.pk.hex[:8]}"
    before = state()
    responder = as_user(world.responder)
    assert responder.post(base + "evidence/", {}).status_code == 400
    settings.KHIEN_MAX_UPLOAD_BYTES = 5
    assert responder.post(base + "evidence/", {"file": SimpleUploadedFile("big.bin", b"123456")}).status_code == 413
    assert responder.post(f"{base}evidence/{evidence.pk}/custody/", {f"{prefix}-action": "lost"}).status_code == 400
    assert responder.post(f"{base}evidence/{evidence.pk}/custody/", {f"{prefix}-action": "transferred"}).status_code == 400
    assert as_user(world.auditor).post(f"{base}evidence/{evidence.pk}/seal/", {}).status_code == 403
    responder = as_user(world.responder)
    assert as_user(world.auditor).post(base + "evidence/", {"note": "x"}).status_code == 403
    assert state() == before and len(list(settings.MEDIA_ROOT.rglob("*.*"))) == 0

    responder = as_user(world.responder)
    assert responder.post(f"{base}evidence/{evidence.pk}/custody/", {
        f"{prefix}-action": "analysed", f"{prefix}-note": "Volatility"}).status_code == 302
    analyst = as_user(world.dept_analyst)
    assert analyst.post(f"{base}evidence/{evidence.pk}/seal/", {"confirmed": "1"}).status_code == 302
    before = state()
    assert analyst.post(f"{base}evidence/{evidence.pk}/seal/", {}).status_code == 409
    assert state() == before
    ctx = analyst.get(base).context
    assert ctx["evidence"][0]["may_seal"] is False and ctx["evidence"][0]["may_custody"] is True
    assert analyst.post(f"{base}evidence/{evidence.pk}/custody/", {
        f"{prefix}-action": "transferred", f"{prefix}-to_party": "Phòng giám định"}).status_code == 302
    assert [c.action for c in evidence.custody.all()] == ["received", "analysed", "sealed", "transferred"]


def test_pages_in_english_and_vietnamese(world, as_user, incidents, client):
    dept, _prov = incidents
    client = as_user(world.dept_analyst)
    client.cookies["khien_language"] = "en"
    html = client.get(detail(dept)).content.decode()
    assert "Deadlines" in html and "Journal" in html
    client.cookies["khien_language"] = "vi"
    html = client.get(detail(dept)).content.decode()
    assert "Thời hạn" in html and "Nhật ký" in html
    assert 'data-label-left="còn %s"' in html and 'data-label-over="quá hạn %s"' in html


def test_later_report_stages_through_the_page(world, as_user, incidents):
    dept, _prov = incidents
    services.do_assign_responder(dept, world.responder_org, acting_user=world.coordinator)
    base = detail(dept)
    analyst = as_user(world.dept_analyst)
    form = analyst.get(base).context["stage_form"]
    assert form.stage["code"] == "notification"
    assert set(form.fields) == {"severity", "services_disrupted", "people_affected"}
    assert form.initial["severity"] == dept.severity
    assert as_user(world.responder).get(base).context["stage_form"] is None  # not the reporting side
    assert as_user(world.auditor).get(base).context["stage_form"] is None

    before = state()
    analyst = as_user(world.dept_analyst)
    assert analyst.post(base + "stages/notification/", {"stage-severity": "high"}).status_code == 400
    assert analyst.post(base + "stages/notification/", {"stage-severity": "meh", "stage-services_disrupted": "Thư",
                                                        "stage-people_affected": "3"}).status_code == 400
    assert analyst.post(base + "stages/final/", {"stage-root_cause": "a", "stage-mitigation": "b"}).status_code == 409
    assert analyst.post(base + "stages/initial/", {}).status_code == 404
    assert analyst.post(base + "stages/bogus/", {}).status_code == 404
    assert as_user(world.auditor).post(base + "stages/notification/", {}).status_code == 403
    assert as_user(world.other_admin).post(base + "stages/notification/", {}).status_code == 404
    assert state() == before

    analyst = as_user(world.dept_analyst)
    response = analyst.post(base + "stages/notification/", {
        "stage-severity": "critical", "stage-services_disrupted": "Thư điện tử", "stage-people_affected": "40"})
    assert response.status_code == 302
    dept.refresh_from_db()
    assert dept.notified_at is not None and dept.severity == "critical" and dept.people_affected == 40
    # The final report waits for the end of the response: the page says so instead of the form, the service refuses.
    page = analyst.get(base)
    assert page.context["stage_form"] is None and "Đã khắc phục" in page.context["stage_waiting"]
    assert page.context["stage_waiting"] in page.content.decode()
    before = state()
    assert analyst.post(base + "stages/final/", {"stage-root_cause": "Mật khẩu yếu",
                                                 "stage-mitigation": "Bật xác thực hai lớp"}).status_code == 409
    assert state() == before
    dept = walk(dept, (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED), world.dept_analyst)
    dept = services.do_transition(dept, Status.RESOLVED, acting_user=world.dept_analyst, cancel_open_tasks=True)
    form = analyst.get(base).context["stage_form"]
    assert form.stage["code"] == "final" and set(form.fields) == {"root_cause", "mitigation"}
    assert analyst.post(base + "stages/final/", {"stage-root_cause": "Mật khẩu yếu",
                                                 "stage-mitigation": "Bật xác thực hai lớp"}).status_code == 302
    dept.refresh_from_db()
    assert dept.final_report_at is not None
    response = analyst.get(base)
    assert response.context["stage_form"] is None
    assert "Đã gửi báo cáo giai đoạn: Thông báo chi tiết" in response.content.decode()  # the journal names it


# --- The walkthrough's findings -----------------------------------------------------------------------------


def test_closing_needs_the_final_report_and_a_closed_incident_has_no_countdown(world, as_user, incidents, api):
    """An incident could be closed with its final report never given; the page then kept "còn 30 ngày" and the
    report form. Closing now needs every report stage (the service's rule, so page and API alike)."""
    dept, _prov = incidents
    for status in (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED):
        dept = services.do_transition(dept, status, acting_user=world.dept_analyst, cancel_open_tasks=True)
    services.do_submit_stage(dept, "notification", {"services_disrupted": "Thư điện tử", "people_affected": 4},
                             acting_user=world.dept_analyst)
    analyst = as_user(world.dept_analyst)
    base = detail(dept)
    page = analyst.get(base)
    close = next(s for s in page.context["steps"] if s["to"] == Status.CLOSED)
    assert close["problem"] and "Báo cáo kết thúc" in close["problem"]  # said beside the disabled button
    assert page.context["stage_form"].stage["code"] == "final"
    machine = api(world.dept_analyst)
    before = state()
    assert analyst.post(base + "transition/", {"status": "closed"}).status_code == 409
    response = machine.post(f"/api/incidents/{dept.pk}/transition/", {"status": "closed"},
                                            format="json")
    assert response.status_code == 409 and "Báo cáo kết thúc" in response.json()["detail"]
    assert state() == before

    assert analyst.post(f"{base}stages/final/", {"stage-root_cause": "Mật khẩu yếu",
                                                  "stage-mitigation": "Đổi mật khẩu"}).status_code == 302
    # (The coordinator's task, left open by the analyst's resolving, is cancelled when closing.)
    assert analyst.post(base + "transition/", {"status": "closed", "cancel_open_tasks": "1"}).status_code == 302
    page = analyst.get(base)
    html = page.content.decode()
    assert page.context["stage_form"] is None and 'class="countdown"' not in html


def test_closed_incident_without_its_reports_shows_no_countdown_nor_form(world, as_user, incidents):
    """One closed before the rule (its reports missing): no live countdown, no report form, no report refused."""
    dept, _prov = incidents
    Incident.objects.filter(pk=dept.pk).update(status=Status.CLOSED, closed_at=timezone.now())
    analyst = as_user(world.dept_analyst)
    page = analyst.get(detail(dept))
    assert page.context["stage_form"] is None and not page.context["flags"]["stage_overdue"]
    assert 'class="countdown"' not in page.content.decode()
    response = analyst.post(f"{detail(dept)}stages/notification/", {
        "stage-severity": "high", "stage-services_disrupted": "x", "stage-people_affected": "1"})
    assert response.status_code == 409


def test_report_form_warns_when_late_and_asks_why(world, as_user, incident_content):
    """30 hours after detection: the form warns that the 24-hour deadline is missed and asks for the reason,
    kept on the incident and shown on its page."""
    client = as_user(world.analyst)
    detected = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(hours=30)
    partial = client.get(f"{LIST}new/late/", {"detected_at": local_input(detected)}).content.decode()
    assert "24" in partial and 'name="late_reason"' in partial and "msg-warning" in partial
    on_time = client.get(f"{LIST}new/late/", {"detected_at": local_input(timezone.now())}).content.decode()
    assert 'name="late_reason"' not in on_time and "msg-warning" not in on_time

    before = state()
    response = client.post(f"{LIST}new/", report_form(world, detected_at=local_input(detected)))
    assert response.status_code == 400 and "late_reason" in response.context["form"].errors
    html = response.content.decode()
    assert "msg-warning" in html and 'name="late_reason"' in html
    assert state() == before
    response = client.post(f"{LIST}new/", report_form(world, detected_at=local_input(detected),
                                                      late_reason="Mất kết nối mạng diện rộng"))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.late_reason == "Mất kết nối mạng diện rộng"
    assert "Mất kết nối mạng diện rộng" in client.get(detail(incident)).content.decode()


def test_report_form_shows_each_label_and_the_error_banner_once(world, as_user, incident_content, monkeypatch):
    client = as_user(world.analyst)
    html = client.get(f"{LIST}new/").content.decode()
    assert html.count("Dấu hiệu") - html.count("Dấu hiệu tấn công") == 2  # the heading, and the hidden label
    assert 'class="visually-hidden">' in html.split('id="observables-heading"')[1][:600]
    # A refusal of the service (not a field's error) is in the one banner, not in a second red box.
    from khien.core.errors import Refused

    def refuse(*args, **kwargs):
        raise Refused("Nền tảng đang bảo trì.", code="maintenance", status=409)

    monkeypatch.setattr(services, "do_report_incident", refuse)
    response = client.post(f"{LIST}new/", report_form(world))
    html = response.content.decode()
    assert response.status_code == 409 and html.count('role="alert"') == 1 and html.count("errorlist") == 0
    assert "Nền tảng đang bảo trì." in html.split('role="alert"')[1][:400]


def test_responder_is_told_what_the_new_incident_waits_for(world, as_user, incidents):
    """A responder on a new incident saw only "no step is open to you"; now: what is awaited, and from whom."""
    dept, _prov = incidents
    services.do_assign_responder(dept, world.responder_org, acting_user=world.coordinator)
    page = as_user(world.responder).get(detail(dept))
    assert page.context["steps"] == []
    awaited = " ".join(page.context["awaited"])
    assert world.department.name in awaited and "Phân loại" in awaited
    html = page.content.decode()
    assert world.department.name in html.split('id="no-step"')[1][:800]
    services.do_transition(dept, Status.TRIAGED, acting_user=world.dept_analyst)
    page = as_user(world.responder).get(detail(dept))
    assert page.context["awaited"] == [] and page.context["steps"]


def test_closed_incident_offers_no_task_form_and_refuses_task_posts(world, as_user, incidents):
    """The walkthrough: the page of a closed incident still offered "Add the task" and the status selects."""
    from .conftest import give_reports

    dept, _prov = incidents
    give_reports(dept, world.dept_analyst)
    task = services.do_add_task(dept, {"title": "Cô lập máy chủ"}, acting_user=world.dept_analyst)
    dept = walk(dept, (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED), world.dept_analyst)
    analyst = as_user(world.dept_analyst)
    base = detail(dept)
    page = analyst.get(base)
    html = page.content.decode()
    assert page.context["task_form"] is None and f"tasks/{task.pk}/status/" not in html
    assert "Cô lập máy chủ" in html  # the tasks are still listed
    before = state()
    assert analyst.post(base + "tasks/", {"title": "Việc mới"}).status_code == 409
    assert analyst.post(f"{base}tasks/{task.pk}/status/", {"status": "done"}).status_code == 409
    assert state() == before


def test_pdf_button_follows_the_page_language(world, as_user, incidents):
    """The walkthrough: on the English page, "PDF report" gave the Vietnamese report. The button now gives the
    page's language, and the other language is one link away."""
    dept, _prov = incidents
    client = as_user(world.dept_analyst)
    client.cookies["khien_language"] = "en"
    html = client.get(detail(dept)).content.decode()
    assert f'id="pdf-report" href="{detail(dept)}report.pdf?lang=en"' in html
    assert f'id="pdf-report-other" href="{detail(dept)}report.pdf?lang=vi"' in html
    client.cookies["khien_language"] = "vi"
    html = client.get(detail(dept)).content.decode()
    assert f'id="pdf-report" href="{detail(dept)}report.pdf?lang=vi"' in html
    assert f'id="pdf-report-other" href="{detail(dept)}report.pdf?lang=en"' in html


def test_task_without_a_person_in_charge_and_evidence_of_a_deleted_account_do_not_break_the_page(
        world, as_user, incidents):
    """The walkthrough: adding a task with no person in charge (the field is optional) made the incident's page a
    500 for everyone from then on (a template filter's argument `t.owner.email` looked up on None). Evidence
    whose uploader's account was deleted did the same."""
    from khien.conftest import _user
    from khien.core.roles import Role

    dept, _prov = incidents
    analyst = as_user(world.dept_analyst)
    assert analyst.post(detail(dept) + "tasks/", {"title": "Kiểm tra nhật ký tường lửa"}).status_code == 302
    leaver = _user("nghi-viec@d1.test.vn", world.department, Role.ORG_ANALYST)
    services.do_add_evidence(dept, acting_user=leaver, note="Ảnh chụp màn hình")
    Evidence.objects.filter(incident=dept).update(uploaded_by=None)  # (what deleting the account does)
    page = analyst.get(detail(dept))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Kiểm tra nhật ký tường lửa" in html and "Ảnh chụp màn hình" in html


def test_triage_form_confirms_or_corrects_the_classification(world, as_user, incidents):
    """The walkthrough: the coordinator's triage was a bare button; the category, severity and TLP could never be
    corrected. The triage step now carries them, prefilled with the report's values."""
    dept, _prov = incidents
    url = detail(dept) + "triage/"
    before = state()
    assert as_user(world.auditor).post(url, {"triage-category": "phishing", "triage-severity": "low",
                                             "triage-tlp": "amber"}).status_code == 403
    assert as_user(world.other_admin).post(url, {}).status_code == 404
    admin = as_user(world.admin)
    page = admin.get(detail(dept))
    step = next(s for s in page.context["steps"] if s["to"] == Status.TRIAGED)
    assert step["triage_form"]["severity"].value() == "high"  # prefilled with the report's values
    assert 'id="triage-form"' in page.content.decode() and page.context["classify_form"] is None  # not twice
    assert admin.post(url, {"triage-category": "nope", "triage-severity": "high",
                            "triage-tlp": "amber"}).status_code == 400
    assert state() == before
    response = admin.post(url, {"triage-category": "phishing", "triage-severity": "critical", "triage-tlp": "red"})
    assert response.status_code == 302
    dept.refresh_from_db()
    assert (dept.status, dept.category, dept.severity, dept.tlp) == (Status.TRIAGED, "phishing", "critical", "red")
    html = admin.get(detail(dept)).content.decode()
    assert "Lừa đảo trực tuyến (phishing)" in html and "TLP:RED" in html
    assert admin.post(url, {"triage-category": "phishing", "triage-severity": "low",
                            "triage-tlp": "red"}).status_code == 409  # triaged already
    dept.refresh_from_db()
    assert dept.severity == "critical"


def test_classification_can_be_corrected_later_with_a_reason(world, as_user, incidents):
    dept, _prov = incidents
    services.do_assign_responder(dept, world.responder_org, acting_user=world.coordinator)
    services.do_transition(dept, Status.TRIAGED, acting_user=world.dept_analyst)
    analyst = as_user(world.dept_analyst)
    page = analyst.get(detail(dept))
    assert page.context["classify_form"] is not None
    assert as_user(world.responder).get(detail(dept)).context["classify_form"] is None
    url = detail(dept) + "classification/"
    before = state()
    assert as_user(world.responder).post(url, {"cls-category": "phishing", "cls-severity": "low",
                                               "cls-tlp": "amber"}).status_code == 403
    analyst = as_user(world.dept_analyst)
    assert analyst.post(url, {"cls-category": "phishing", "cls-severity": "extreme",
                              "cls-tlp": "amber"}).status_code == 400
    assert state() == before
    assert analyst.post(url, {"cls-category": "phishing", "cls-severity": "high", "cls-tlp": "amber",
                              "cls-reason": "Thư giả mạo, không phải mã độc"}).status_code == 302
    dept.refresh_from_db()
    assert dept.category == "phishing"
    html = analyst.get(detail(dept)).content.decode()
    assert "Thư giả mạo, không phải mã độc" in html and "Lừa đảo trực tuyến (phishing)" in html


def test_list_shows_the_next_deadline_with_its_countdown(world, as_user, incidents, report):
    """The walkthrough: the list had no deadline at all; a coordinator could not see which report or SLA falls
    due next without opening each incident. A column gives the soonest one with a live countdown."""
    dept, _prov = incidents
    closed = report(org=world.department, user=world.dept_analyst, title="Closed one", reports_given=True)
    closed = walk(closed, (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED), world.dept_analyst)
    response = as_user(world.dept_analyst).get(LIST)
    rows = {r["incident"].pk: r for r in response.context["rows"]}
    nxt = rows[dept.pk]["next_deadline"]
    assert nxt["label"] == "Phân loại, xử lý" and nxt["due_at"] == dept.reported_at + dt.timedelta(hours=4)
    assert rows[closed.pk]["next_deadline"] is None
    html = response.content.decode()
    assert html.count('class="countdown"') == 1 and "incidents.js" in html
    assert f'data-due="{timezone.localtime(nxt["due_at"]).isoformat()}"'[:27] in html


def test_organization_filter_offers_the_reporting_organizations_of_the_incidents_seen(world, as_user, incidents):
    """The walkthrough: a responder's "reporting organization" filter offered only its own company (the
    organizations it may see in the registry), never those whose incidents it works on."""
    dept, prov = incidents
    services.do_assign_responder(dept, world.responder_org, acting_user=world.coordinator)
    response = as_user(world.responder).get(LIST)
    codes = [value for value, _label in response.context["filter"].form.fields["organization"].widget.choices]
    assert codes == ["", "MIN-D1"]  # not RESP, not the province's
    response = as_user(world.responder).get(LIST, {"organization": "MIN-D1"})
    assert [r["incident"].pk for r in response.context["rows"]] == [dept.pk]
    codes = [v for v, _l in as_user(world.other_admin).get(LIST).context["filter"].form.fields[
        "organization"].widget.choices]
    assert codes == ["", "PROV"]


def test_responder_filter_lists_the_incidents_of_one_assigned_team(world, as_user, incidents, api):
    """What is this team working on: `responder=<code>` on the list, its exports and the API (one FilterSet)."""
    dept, prov = incidents
    services.do_assign_responder(dept, world.responder_org, acting_user=world.coordinator)
    admin = as_user(world.admin)
    response = admin.get(LIST, {"responder": "RESP"})
    assert [r["incident"].pk for r in response.context["rows"]] == [dept.pk]
    codes = [v for v, _l in response.context["filter"].form.fields["responder"].widget.choices]
    assert codes == ["", "RESP"]
    assert admin.get(LIST, {"responder": "NOPE"}).context["rows"] == []
    assert [r["id"] for r in api(world.coordinator).get("/api/incidents/", {"responder": "RESP"}).json()["results"]] \
        == [str(dept.pk)]
    # Another organization's responder team is answered as a code that does not exist (no hint of the assignment).
    for code in ("RESP", "NOPE"):
        refused = api(world.other_admin).get("/api/incidents/", {"responder": code})
        assert refused.status_code == 400 and "responder" in refused.json()


def test_a_task_past_its_due_time_is_flagged_until_done(world, as_user, report):
    """TheHive and DFIR-IRIS users spot late tasks at a glance; the task table showed the due time only."""
    # Reported three hours ago: a task due an hour ago is one of its response (none is due before the report).
    dept = report(org=world.department, user=world.dept_analyst, now=timezone.now() - dt.timedelta(hours=3))
    late = services.do_add_task(dept, {"title": "Thu thập nhật ký", "due_at": timezone.now() - dt.timedelta(hours=1)},
                                acting_user=world.dept_analyst)
    services.do_add_task(dept, {"title": "Vá máy chủ", "due_at": timezone.now() + dt.timedelta(days=1)},
                         acting_user=world.dept_analyst)
    analyst = as_user(world.dept_analyst)
    assert analyst.get(detail(dept)).content.decode().count("task-overdue") == 1
    services.do_set_task_status(late, "done", acting_user=world.dept_analyst)
    assert "task-overdue" not in analyst.get(detail(dept)).content.decode()
