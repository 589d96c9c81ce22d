"""Fixes from the auditor's walkthrough (an auditor: a role that only reads) of the incidents:

1. someone without the right to a write is told so (403: the API with a detail in the user's language, the page
   with the rights message) before any check of the incident's state or of the input: a closed incident's step, an
   empty list to share, a triage or custody form left empty answered "wrong state" (409) or "wrong input" (400);
2. the API refuses (400, nothing changed) a field its write does not take, naming it — a correction of the report
   silently ignored the severity, the status, the time of detection; a task "assignee" was dropped and the task
   created with nobody in charge — and says where the category, severity, TLP and status are changed;
3. "My open tasks" is shown only to those who may be in charge of a task (not an auditor);
4. a PDF report the server cannot make tells the reader to ask the platform operator (the script to run is for the
   server's log, not for the reader).
"""
import datetime as dt
import html
import logging
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.utils import timezone, translation

from khien.core.errors import Forbidden
from khien.core.models import AuditEntry
from khien.incidents import services
from khien.incidents.models import Evidence, Incident, IncidentEvent, Observable, Status, Task

from .conftest import walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(world, report):
    """A ministry incident with a responder, a task, an evidence item and an observable."""
    incident = report(observables=[("domain", "hoadon.demo-khien.vn")])
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    task = services.do_add_task(incident, {"title": "Cô lập máy chủ"}, acting_user=world.analyst)
    evidence = services.do_add_evidence(incident, acting_user=world.analyst, note="Nhật ký tường lửa")
    return SimpleNamespace(incident=incident, task=task, evidence=evidence,
                           observable=Observable.objects.get(incident=incident))


def _written() -> tuple:
    """Everything a write leaves behind: audit entries, journal lines, and the rows of the incidents."""
    return (AuditEntry.objects.count(), IncidentEvent.objects.count(), Task.objects.count(),
            Evidence.objects.count(), Observable.objects.count(), Incident.objects.count(),
            list(Incident.objects.order_by("pk").values_list("status", "severity", "category", "title")))


def _reason(right: str, user, incident, evidence=None) -> str:
    """The refusal the service gives `user` for `right`, in English."""
    with translation.override("en"), pytest.raises(Forbidden) as refused:
        services.require_right(user, incident, right, evidence=evidence)
    return str(refused.value.message)


# --- 1. The right first ---------------------------------------------------------------------------------------


def test_walk_auditor_a_step_on_a_closed_incident_is_refused_for_the_right_not_the_state(world, report, api):
    incident = walk(report(), [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED,
                               Status.CLOSED], world.analyst)
    client = api(world.auditor)
    before = _written()
    answer = client.post(f"/api/incidents/{incident.pk}/transition/", {"status": Status.IN_RESPONSE, "reason": "x"},
                         format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 403, answer.content
    assert answer.json()["detail"] == _reason("workflow", world.auditor, incident)
    assert "closed" not in answer.json()["detail"].lower()
    # In Vietnamese by default.
    answer = client.post(f"/api/incidents/{incident.pk}/transition/", {"status": "nonsense"}, format="json")
    assert answer.status_code == 403
    with translation.override("vi"):
        assert answer.json()["detail"] == str(services.RIGHTS["workflow"][1])
    assert _written() == before
    # Those with the right still hear about the state.
    answer = api(world.analyst).post(f"/api/incidents/{incident.pk}/transition/", {"status": Status.CONTAINED},
                                     format="json")
    assert answer.status_code == 409


def test_walk_auditor_every_api_write_refuses_the_auditor_before_reading_the_input(world, case, api):
    client = api(world.auditor)
    pk, task, evidence, observable = case.incident.pk, case.task.pk, case.evidence.pk, case.observable.pk
    calls = [
        ("post", "transition/", {"status": "nonsense"}),
        ("post", "classification/", {"severity": "nonsense"}),
        ("patch", "", {"reference": "SC-2000-000001", "title": ""}),
        ("post", "stage/", {}),
        ("post", "assign/", {}),
        ("post", "unassign/", {}),
        ("post", "journal/", {}),
        ("post", "tasks/", {"assignee": "analyst@min.test.vn"}),
        ("post", "tasks/standard/", {}),
        ("patch", f"tasks/{task}/", {"title": "x"}),
        ("post", f"tasks/{task}/status/", {}),
        ("post", "observables/", []),
        ("delete", f"observables/{observable}/", None),
        ("post", "observables/share/", {"observables": [], "tlp": "nonsense"}),
        ("post", "evidence/", {}),
        ("post", "evidence/external/", {}),
        ("post", f"evidence/{evidence}/custody/", {}),
        ("post", f"evidence/{evidence}/seal/", {"note": "x" * 30000}),
    ]
    before = _written()
    for method, path, body in calls:
        answer = getattr(client, method)(f"/api/incidents/{pk}/{path}", body, format="json",
                                         HTTP_ACCEPT_LANGUAGE="en")
        assert answer.status_code == 403, (method, path, answer.content)
        assert answer.json()["code"] == "forbidden" and "permission" not in answer.json()["detail"], (path, answer.json())
    # Reporting: an auditor reports for no organization.
    answer = client.post("/api/incidents/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden", answer.content
    assert _written() == before


def test_walk_auditor_the_share_with_an_empty_list_is_refused_for_the_right(world, case, api):
    answer = api(world.auditor).post(f"/api/incidents/{case.incident.pk}/observables/share/", {"observables": []},
                                     format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 403
    assert answer.json()["detail"] == _reason("participate", world.auditor, case.incident)
    # A participant with an empty list: the input.
    answer = api(world.analyst).post(f"/api/incidents/{case.incident.pk}/observables/share/", {"observables": []},
                                     format="json")
    assert answer.status_code == 400


def test_walk_auditor_every_page_write_refuses_the_auditor_with_the_rights_message(world, case, as_user):
    client = as_user(world.auditor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    incident, pk = case.incident, case.incident.pk
    task, evidence, observable = case.task.pk, case.evidence.pk, case.observable.pk
    participate = _reason("participate", world.auditor, incident)
    pages = [
        ("transition/", {"status": "nonsense"}, _reason("workflow", world.auditor, incident)),
        ("triage/", {"triage-category": "nonsense"}, _reason("triage", world.auditor, incident)),
        ("classification/", {}, _reason("classify", world.auditor, incident)),
        ("correct/", {}, _reason("correct", world.auditor, incident)),
        ("stages/notification/", {}, _reason("report", world.auditor, incident)),
        ("assign/", {}, _reason("assign", world.auditor, incident)),
        (f"assign/{world.responder_org.pk}/remove/", {"reason": "x" * 6000}, _reason("unassign", world.auditor, incident)),
        ("comments/", {}, _reason("comment", world.auditor, incident)),
        ("tasks/", {}, participate),
        ("tasks/standard/", {}, participate),
        (f"tasks/{task}/edit/", {}, participate),
        (f"tasks/{task}/status/", {}, participate),
        ("evidence/", {}, participate),
        ("evidence/external/", {}, participate),
        (f"evidence/{evidence}/custody/", {}, participate),
        (f"evidence/{evidence}/seal/", {"note": "x" * 30000},
         _reason("seal", world.auditor, incident, evidence=case.evidence)),
        ("observables/", {}, participate),
        (f"observables/{observable}/remove/", {}, participate),
        ("observables/share/", {}, participate),
    ]
    before = _written()
    for path, data, reason in pages:
        answer = client.post(f"/incidents/{pk}/{path}", data)
        assert answer.status_code == 403, (path, answer.status_code)
        assert reason in html.unescape(answer.content.decode()), path
    answer = client.get(f"/incidents/{pk}/correct/")
    assert answer.status_code == 403
    answer = client.post("/incidents/new/", {})
    assert answer.status_code == 403 and _reason_report(world.auditor) in html.unescape(answer.content.decode())
    assert _written() == before


def _reason_report(user) -> str:
    with translation.override("en"), pytest.raises(Forbidden) as refused:
        services.require_may_report(user)
    return str(refused.value.message)


def test_walk_auditor_custody_triage_and_classification_pages_answer_403_not_400(world, case, as_user):
    """The three pages the walkthrough named, in Vietnamese (the default)."""
    client = as_user(world.auditor)
    base = f"/incidents/{case.incident.pk}/"
    for path in ("triage/", "classification/", f"evidence/{case.evidence.pk}/custody/"):
        answer = client.post(base + path, {})
        assert answer.status_code == 403, path
        assert "errorlist" not in answer.content.decode(), path


def test_walk_auditor_a_responder_is_still_told_the_state_of_a_step_it_may_take(world, case, api):
    """The right comes first, the state after: an assigned responder asking to contain a new incident hears that the
    step does not exist from there (409), not that it may not."""
    answer = api(world.responder).post(f"/api/incidents/{case.incident.pk}/transition/",
                                       {"status": Status.CONTAINED}, format="json")
    assert answer.status_code == 409
    answer = api(world.responder).post(f"/api/incidents/{case.incident.pk}/transition/",
                                       {"status": Status.TRIAGED}, format="json")
    assert answer.status_code == 403


# --- 2. Fields a write does not take ------------------------------------------------------------------------


def test_walk_auditor_a_report_correction_refuses_the_fields_it_does_not_change(world, report, api):
    incident = report()
    client = api(world.analyst)
    before = _written()
    answer = client.patch(f"/api/incidents/{incident.pk}/", {
        "title": "Tiêu đề đã sửa", "detected_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
        "severity": "low", "status": "closed", "organization": world.province.code, "reference": "SC-2000-000001",
        "category": "phishing", "tlp": "clear",
    }, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert {"detected_at", "severity", "status", "organization", "reference", "category", "tlp"} <= set(body)
    assert "title" not in body
    for name in ("category", "severity", "tlp"):
        assert "/classification/" in body[name][0], body[name]
    assert "/transition/" in body["status"][0]
    assert _written() == before
    incident.refresh_from_db()
    assert incident.title == "Mã độc trên máy chủ thư điện tử" and incident.severity == "high"
    # What it takes still works.
    answer = client.patch(f"/api/incidents/{incident.pk}/", {"title": "Tiêu đề đã sửa"}, format="json")
    assert answer.status_code == 200 and answer.json()["title"] == "Tiêu đề đã sửa"


def test_walk_auditor_a_task_with_an_unknown_field_is_not_created(world, report, api):
    incident = report()
    client = api(world.analyst)
    before = _written()
    answer = client.post(f"/api/incidents/{incident.pk}/tasks/",
                         {"title": "Cô lập máy chủ", "assignee": world.analyst.email}, format="json",
                         HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400 and list(answer.json()) == ["assignee"], answer.content
    answer = client.post(f"/api/incidents/{incident.pk}/tasks/", {"title": "Cô lập máy chủ", "status": "done"},
                         format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400 and "/status/" in answer.json()["status"][0], answer.content
    assert _written() == before
    answer = client.post(f"/api/incidents/{incident.pk}/tasks/",
                         {"title": "Cô lập máy chủ", "owner": world.analyst.email}, format="json")
    assert answer.status_code == 201 and answer.json()["owner"] == world.analyst.email


@pytest.mark.parametrize("path, body, refused", [
    ("transition/", {"status": "triaged", "note": "x"}, "note"),
    ("classification/", {"severity": "low", "status": "triaged"}, "status"),
    ("journal/", {"text": "Ghi chú", "author": "x"}, "author"),
    ("observables/", [{"value": "1.2.3.4", "shared_at": "2026-01-01T00:00:00Z"}], None),
])
def test_walk_auditor_other_writes_refuse_unknown_fields(world, report, api, path, body, refused):
    incident = report()
    client = api(world.analyst)
    before = _written()
    answer = client.post(f"/api/incidents/{incident.pk}/{path}", body, format="json")
    assert answer.status_code == 400, answer.content
    if refused:
        assert refused in answer.json()
    assert _written() == before


def test_walk_auditor_a_report_with_a_status_is_refused(world, incident_content, api):
    answer = api(world.analyst).post("/api/incidents/", {
        "organization": world.ministry.code, "title": "Mã độc", "detected_at": timezone.now().isoformat(),
        "category": "infected-system", "severity": "high", "suspected_malicious": True,
        "impact_beyond_organization": False, "description": "Mã độc", "status": "closed",
    }, format="json")
    assert answer.status_code == 400 and "status" in answer.json(), answer.content
    assert not Incident.objects.exists()


# --- 3. "My open tasks" -----------------------------------------------------------------------------------


def test_walk_auditor_my_open_tasks_only_for_who_may_hold_tasks(world, case, as_user):
    assert services.may_hold_tasks(world.coordinator)  # (the coordinator signs in with a second factor)
    for user, shown in ((world.auditor, False), (world.trainee, False), (world.analyst, True),
                        (world.responder, True)):
        client = as_user(user)
        page = client.get("/incidents/").content.decode()
        assert ('id="tasks-link"' in page) is shown, user
        page = client.get("/incidents/tasks/").content.decode()
        assert ('id="my-open-tasks"' in page) is shown, user


def test_walk_auditor_someone_still_in_charge_of_a_task_sees_the_link(world, case, as_user):
    """A person put in charge as an analyst, now an auditor, still holds the task: the link shows it to them."""
    from khien.core.roles import Role

    Task.objects.filter(pk=case.task.pk).update(owner=world.auditor)
    assert services.may_hold_tasks(world.auditor)
    world.auditor.memberships.update(role=Role.AUDITOR)
    page = as_user(world.auditor).get("/incidents/").content.decode()
    assert 'id="tasks-link"' in page


# --- 4. The PDF without its fonts -------------------------------------------------------------------------


def test_walk_auditor_pdf_unavailable_asks_the_operator(world, report, as_user, settings, tmp_path, caplog):
    settings.KHIEN_PDF_FONT_DIR = str(tmp_path / "no-fonts")
    incident = report()
    client = as_user(world.auditor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with caplog.at_level(logging.ERROR, logger="khien.incidents"):
        answer = client.get(f"/incidents/{incident.pk}/report.pdf")
    assert answer.status_code == 503
    text = answer.content.decode()
    assert "operator" in text and "scripts/" not in text and ".py" not in text, text
    assert "scripts/vendor_assets.py" in caplog.text
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "vi"
    text = client.get(f"/incidents/{incident.pk}/report.pdf").content.decode()
    assert "scripts/" not in text
