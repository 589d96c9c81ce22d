"""Input limits and pages of a walkthrough as operator, coordinator and responder: the API took report text of any
length (a description of two million characters, a 234-page PDF), kept a "reason for the late report" on a report on
time, took "personal data exposed" with "data exposed: no"; the page hid the size limit of evidence files and the
real error of a reopen reason, said nothing to a responder about sharing as STIX, and the PDF's journal named people
by e-mail address."""
import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.html import escape

from khien.core.models import AuditEntry
from khien.incidents import exports, inputs, services
from khien.incidents.forms import EvidenceForm, IncidentReportForm, StageForm
from khien.incidents.models import Incident, IncidentEvent, Status
from khien.intel import services as intel_services

from .conftest import walk
from .test_api import body, iso
from .test_exports import _pdf_lines, needs_fonts
from .test_views import local_input, report_form

pytestmark = pytest.mark.django_db

URL = "/api/incidents/"


def written():
    return Incident.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.count()


def _late(hours=30):
    return timezone.now() - dt.timedelta(hours=hours)


# --- 1. The API's report text has the forms' limits ----------------------------------------------------------------


@pytest.mark.parametrize("field, limit, extra", [
    ("description", inputs.DESCRIPTION_MAX, {}),
    ("services_disrupted", inputs.SERVICES_DISRUPTED_MAX, {}),
    ("late_reason", inputs.LATE_REASON_MAX, {"detected_at": iso(_late())}),
])
def test_the_api_refuses_report_text_over_the_forms_limit(world, api, incident_content, field, limit, extra):
    client = api(world.analyst)
    before = written()
    response = client.post(URL, body(**extra, **{field: "x" * (limit + 1)}), format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field] and str(limit) in response.json()[field][0]
    assert written() == before
    # The limit itself is taken, as by the form.
    response = client.post(URL, body(**extra, **{field: "x" * limit}), format="json")
    assert response.status_code == 201, response.content
    assert len(getattr(Incident.objects.get(pk=response.json()["id"]), field)) == limit


def test_the_form_and_the_api_take_their_limits_from_one_place(world):
    form = IncidentReportForm(user=world.analyst)
    from khien.incidents.api.serializers import IncidentSerializer, StageSubmitSerializer

    api_fields, stage_fields = IncidentSerializer().fields, StageSubmitSerializer().fields
    for name, limit in inputs.REPORT_TEXT_MAX.items():
        if name in form.fields:
            assert form.fields[name].max_length == limit, name
        if name in api_fields and not api_fields[name].read_only:
            assert api_fields[name].max_length == limit, name
        if name in stage_fields:
            assert stage_fields[name].max_length == limit, name


def test_the_api_refuses_a_final_report_over_the_limit_and_changes_nothing(world, api, report):
    incident = walk(report(reports_given=True), [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED], world.analyst)
    incident = services.do_transition(incident, Status.RESOLVED, acting_user=world.analyst, cancel_open_tasks=True)
    client = api(world.analyst)
    before = written()
    for field in ("root_cause", "mitigation"):
        data = {"stage": "final", "root_cause": "Mật khẩu yếu", "mitigation": "Đổi mật khẩu"}
        data[field] = "x" * 300_000
        response = client.post(f"{URL}{incident.pk}/stage/", data, format="json")
        assert response.status_code == 400 and list(response.json()) == [field], response.content
    incident.refresh_from_db()
    assert incident.final_report_at is None and incident.root_cause == "" and written() == before
    response = client.post(f"{URL}{incident.pk}/stage/", {"stage": "final", "root_cause": "x" * inputs.ROOT_CAUSE_MAX,
                                                         "mitigation": "Đổi mật khẩu"}, format="json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path, data, field", [
    ("journal/", {"text": "x" * (inputs.COMMENT_MAX + 1)}, "text"),
    ("transition/", {"status": "triaged", "reason": "x" * (services.REASON_MAX_CHARS + 1)}, "reason"),
    ("classification/", {"severity": "low", "reason": "x" * (services.REASON_MAX_CHARS + 1)}, "reason"),
])
def test_the_apis_other_texts_are_bounded_too(world, api, report, path, data, field):
    incident = report()
    client = api(world.analyst)
    before = written()
    response = client.post(f"{URL}{incident.pk}/{path}", data, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert written() == before
    assert Incident.objects.get(pk=incident.pk).status == Status.NEW


# --- 1b. A reason for lateness is kept only on a late report ------------------------------------------------------


def test_the_api_does_not_keep_a_late_reason_on_a_report_on_time(world, api, incident_content):
    response = api(world.analyst).post(URL, body(late_reason="L" * 300), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["late_reason"] == "" and response.json()["reported_late"] is False
    assert Incident.objects.get(pk=response.json()["id"]).late_reason == ""
    # A late report keeps it.
    response = api(world.analyst).post(URL, body(detected_at=iso(_late()), late_reason="Mất điện"), format="json")
    assert response.status_code == 201 and response.json()["late_reason"] == "Mất điện"


def test_the_form_does_not_keep_a_late_reason_on_a_report_on_time(world, as_user, incident_content):
    client = as_user(world.analyst)
    response = client.post("/incidents/new/", report_form(world, late_reason="L" * 300))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.late_reason == ""
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="late-reason"' not in page and "L" * 300 not in page
    response = client.post("/incidents/new/", report_form(world, title="Muộn", detected_at=local_input(_late()),
                                                          late_reason="Mất điện"))
    assert response.status_code == 302 and Incident.objects.get(title="Muộn").late_reason == "Mất điện"


# --- 6. "Personal data exposed" with "data exposed: no" ------------------------------------------------------------


def test_the_form_refuses_personal_data_exposed_without_data_exposed(world, as_user, incident_content):
    response = as_user(world.analyst).post("/incidents/new/", report_form(world, personal_data_exposed="on"))
    assert response.status_code == 400
    errors = response.context["form"].errors["personal_data_exposed"]
    assert errors == [inputs.exposure_problem(False, True)]
    assert not Incident.objects.exists()
    response = as_user(world.analyst).post("/incidents/new/", report_form(world, personal_data_exposed="on",
                                                                         data_exposed="on"))
    assert response.status_code == 302
    assert Incident.objects.filter(data_exposed=True, personal_data_exposed=True).count() == 1


def test_the_api_refuses_the_contradiction_and_reads_personal_data_as_data(world, api, incident_content):
    client = api(world.analyst)
    before = written()
    response = client.post(URL, body(data_exposed=False, personal_data_exposed=True), format="json")
    assert response.status_code == 400 and list(response.json()) == ["personal_data_exposed"], response.content
    assert written() == before
    response = client.post(URL, body(personal_data_exposed=True), format="json")  # data_exposed not said
    assert response.status_code == 201, response.content
    assert response.json()["data_exposed"] is True and response.json()["personal_data_exposed"] is True


def test_a_stage_refuses_the_contradiction_too(world, api, report):
    incident = report()
    response = api(world.analyst).post(f"{URL}{incident.pk}/stage/", {
        "stage": "notification", "services_disrupted": "Thư điện tử", "people_affected": 3,
        "data_exposed": False, "personal_data_exposed": True}, format="json")
    assert response.status_code == 400 and "personal_data_exposed" in response.json()
    assert Incident.objects.get(pk=incident.pk).notified_at is None
    stage = {"code": "notification", "required_fields": ["services_disrupted", "data_exposed",
                                                         "personal_data_exposed"]}
    form = StageForm({"services_disrupted": "Thư", "personal_data_exposed": "on"}, incident=incident, stage=stage)
    assert not form.is_valid() and "personal_data_exposed" in form.errors


# --- 4 and 9. Limits said next to the fields ---------------------------------------------------------------------


def test_the_evidence_file_field_states_the_size_limit(world, as_user, report, settings):
    incident = report()
    page = as_user(world.analyst).get(f"/incidents/{incident.pk}/").content.decode()
    mb = settings.KHIEN_MAX_UPLOAD_BYTES // 2**20
    assert escape(inputs.upload_limit_text()) in page and f" {mb} MB" in inputs.upload_limit_text()
    with override_settings(KHIEN_MAX_UPLOAD_BYTES=5 * 2**20):  # the setting the service checks, not a number here
        assert " 5 MB" in EvidenceForm().fields["file"].help_text


def test_the_description_states_its_limit(world, as_user, incident_content):
    page = as_user(world.analyst).get("/incidents/new/").content.decode()
    assert "Tối đa 20.000 ký tự." in page and "Tối đa 5.000 ký tự." in page


# --- 5. The real error of a form of the incident page -------------------------------------------------------------


def test_a_reopen_reason_too_long_says_so(world, as_user, report):
    incident = walk(report(reports_given=True), [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED,
                                                 Status.RESOLVED], world.analyst)
    response = as_user(world.analyst).post(f"/incidents/{incident.pk}/transition/", {
        "status": Status.IN_RESPONSE, "reason": "x" * (services.REASON_MAX_CHARS + 1)})
    assert response.status_code == 400
    top = [str(m) for m in response.context["messages"]]
    assert len(top) == 1 and "Hãy chọn trạng thái hợp lệ" not in top[0]
    assert top[0].startswith("Chưa thực hiện được bước “Mở lại”") and "5000" in top[0], top
    page = response.content.decode()
    reopen = next(s for s in response.context["steps"] if s["reopen"])
    assert reopen["form"].errors["reason"] and escape(reopen["form"].errors["reason"][0]) in page
    assert Incident.objects.get(pk=incident.pk).status == Status.RESOLVED
    # An unknown status still says so.
    response = as_user(world.analyst).post(f"/incidents/{incident.pk}/transition/", {"status": "nowhere"})
    assert response.status_code == 400
    assert "Hãy chọn trạng thái hợp lệ." in [str(m) for m in response.context["messages"]]


# --- 7. Who shares as STIX -----------------------------------------------------------------------------------------


def test_a_responder_is_told_who_shares_as_stix(world, as_user, report):
    intel_services.do_create_collection({"title": "MIN feed", "owner": world.ministry, "kind": "group"},
                                        acting_user=world.coordinator)
    incident = report(observables=[("domain", "evil.example.com")])
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    response = as_user(world.responder).get(f"/incidents/{incident.pk}/")
    page = response.content.decode()
    assert response.context["share_form"] is None and 'id="share-by-others"' in page
    response = as_user(world.analyst).get(f"/incidents/{incident.pk}/")
    assert response.context["share_form"] is not None and 'id="share-by-others"' not in response.content.decode()
    # Neither for someone who only reads (an auditor), nor on an incident without observables.
    assert 'id="share-by-others"' not in as_user(world.auditor).get(f"/incidents/{incident.pk}/").content.decode()
    bare = report()
    services.do_assign_responder(bare, world.responder_org, acting_user=world.coordinator)
    assert 'id="share-by-others"' not in as_user(world.responder).get(f"/incidents/{bare.pk}/").content.decode()


# --- 8. The PDF names people as the page does ----------------------------------------------------------------------


@needs_fonts
def test_the_pdf_journal_and_tasks_name_people_as_the_page(world, report):
    world.analyst.full_name = "Nguyễn Văn Phân Tích"
    world.analyst.save(update_fields=["full_name"])
    incident = report()
    services.do_add_comment(incident, "Đã cô lập máy chủ.", acting_user=world.analyst)
    services.do_add_task(incident, {"title": "Thu thập nhật ký", "owner": world.analyst}, acting_user=world.analyst)
    text = " ".join(_pdf_lines(exports.incident_pdf(incident, world.analyst, language="vi")))
    journal = text[text.index("Nhật ký"):]
    assert "Nguyễn Văn Phân Tích" in journal and world.analyst.email not in journal
    tasks = text[text.index("Nhiệm vụ"):text.index("Chứng cứ số")]
    assert "Nguyễn Văn Phân Tích" in tasks and world.analyst.email not in tasks


def test_the_service_itself_keeps_the_limits_and_the_exposure_rule(world, report):
    """Callers that bypass the forms and the API (the demo, an incident made from alerts, a script) meet the same
    rules in the service; a later stage cannot contradict what an earlier one said (personal data exposed)."""
    import pytest
    from django.core.exceptions import ValidationError

    from khien.incidents import services
    from khien.incidents.inputs import DESCRIPTION_MAX
    from khien.incidents.models import Incident

    before = Incident.objects.count()
    with pytest.raises(ValidationError) as refused:
        report(description="x" * (DESCRIPTION_MAX + 1))
    assert "description" in refused.value.message_dict and Incident.objects.count() == before
    incident = report(data_exposed=True, personal_data_exposed=True)
    services.do_transition(incident, "triaged", acting_user=world.analyst)
    with pytest.raises(ValidationError) as contradiction:
        services.do_submit_stage(incident, "notification", {"data_exposed": False}, acting_user=world.analyst)
    assert "data_exposed" in contradiction.value.message_dict
    incident.refresh_from_db()
    assert incident.notified_at is None and incident.data_exposed is True
