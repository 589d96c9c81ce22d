"""Correcting the initial report (a typo in the title, a system found affected later), as TheHive and DFIR-IRIS let
a case be edited: the reporting side and the coordinator, while the incident is open; the journal says which
fields changed and why, the audit log keeps the values; the detection time and the classification are not here."""
import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from khien.core.errors import Refused
from khien.core.models import AuditEntry
from khien.incidents import services
from khien.incidents.models import EventKind, Incident, IncidentEvent, Status

from .conftest import walk


def test_the_reporter_corrects_the_title_and_the_systems_on_the_page(world, report, make_system, as_user):
    first, later = make_system(world.ministry), make_system(world.ministry)
    foreign = make_system(world.province)
    incident = report(systems=[first], title="Mã độc trên may chủ")
    client = as_user(world.analyst)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="correct-report"' in page
    form = client.get(f"/incidents/{incident.pk}/correct/").content.decode()
    assert "Mã độc trên may chủ" in form and f'value="{foreign.pk}"' not in form  # only the organization's systems
    data = {"title": "Mã độc trên máy chủ thư điện tử", "suspected_malicious": "true",
            "impact_beyond_organization": "false", "systems": [str(first.pk), str(later.pk)],
            "description": incident.description, "reason": "Sửa lỗi chính tả; thêm hệ thống bị ảnh hưởng"}
    before = AuditEntry.objects.count()
    response = client.post(f"/incidents/{incident.pk}/correct/", data)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "Mã độc trên máy chủ thư điện tử"
    assert set(incident.systems.all()) == {first, later}
    line = IncidentEvent.objects.get(incident=incident, kind=EventKind.CORRECTED)
    assert line.text == "Sửa lỗi chính tả; thêm hệ thống bị ảnh hưởng" and set(line.data["fields"]) == {"title", "systems"}
    assert AuditEntry.objects.count() > before
    with translation.override("en"):
        client.cookies["khien_language"] = "en"
        journal = client.get(f"/incidents/{incident.pk}/").content.decode().split('id="journal"')[1]
    assert "Report corrected" in journal and "Title" in journal and "Affected systems" in journal
    # The same values again change nothing and write nothing.
    lines = IncidentEvent.objects.count()
    assert client.post(f"/incidents/{incident.pk}/correct/", data).status_code == 302
    assert IncidentEvent.objects.count() == lines


def test_others_may_not_correct_and_a_closed_incident_is_not_corrected(world, report, as_user, api):
    incident = report()
    for user in (world.other_admin, world.auditor):
        response = as_user(user).get(f"/incidents/{incident.pk}/correct/")
        assert response.status_code in (403, 404)
        assert api(user).patch(f"/api/incidents/{incident.pk}/", {"title": "x"}, format="json").status_code in (403, 404)
    walk(incident, [Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED],
         world.analyst)
    with pytest.raises(Refused) as closed:
        services.do_correct_report(incident, {"title": "Tiêu đề mới"}, acting_user=world.analyst)
    assert closed.value.status == 409
    assert api(world.analyst).patch(f"/api/incidents/{incident.pk}/", {"title": "Tiêu đề mới"},
                                    format="json").status_code == 409
    assert 'id="correct-report"' not in as_user(world.analyst).get(f"/incidents/{incident.pk}/").content.decode()
    assert Incident.objects.get(pk=incident.pk).title != "Tiêu đề mới"


def test_the_api_patches_the_report_and_refuses_bad_input(world, report, make_system, api):
    incident = report()
    client = api(world.analyst)
    answer = client.patch(f"/api/incidents/{incident.pk}/", {"people_affected": 1200, "reason": "Số liệu mới"},
                          format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["people_affected"] == 1200
    foreign = make_system(world.province)
    for body in ({"title": ""}, {"description": "x" * 20001}, {"people_affected": -1},
                 {"data_exposed": False, "personal_data_exposed": True}, {"systems": [foreign.code]}):
        refused = client.patch(f"/api/incidents/{incident.pk}/", body, format="json")
        assert refused.status_code == 400, (body, refused.content)
    incident.refresh_from_db()
    assert incident.people_affected == 1200 and incident.title and not incident.systems.exists()
    # The detection time is not corrected (the deadlines count from it): the field is not taken.
    detected = incident.detected_at
    client.patch(f"/api/incidents/{incident.pk}/", {"detected_at": "2026-01-01T00:00:00Z"}, format="json")
    incident.refresh_from_db()
    assert incident.detected_at == detected


def test_the_service_refuses_a_system_of_another_organization(world, report, make_system):
    incident = report()
    with pytest.raises(ValidationError) as refused:
        services.do_correct_report(incident, {}, systems=[make_system(world.province)], acting_user=world.analyst)
    assert "systems" in refused.value.message_dict


def test_an_unanswered_initial_question_stays_as_it_is(world, report, as_user):
    """An incident made from a SOC alert may not know yet whether the act was malicious: correcting its title does not
    force an answer."""
    incident = report()
    Incident.objects.filter(pk=incident.pk).update(suspected_malicious=None)
    response = as_user(world.analyst).post(f"/incidents/{incident.pk}/correct/", {
        "title": "Tiêu đề đã sửa", "description": incident.description, "impact_beyond_organization": "false"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "Tiêu đề đã sửa" and incident.suspected_malicious is None
