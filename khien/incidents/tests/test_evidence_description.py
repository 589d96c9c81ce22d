"""A file kept as evidence with its description (the note stored on the file's evidence item), on the page and in
the API; the chain of custody names people, as the journal does, not by their e-mail addresses."""
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from khien.incidents import services
from khien.incidents.models import Evidence

pytestmark = pytest.mark.django_db

CONTENT = b"pcap \x00\x01 evidence " * 50


def upload():
    return SimpleUploadedFile("capture.pcap", CONTENT, content_type="application/vnd.tcpdump.pcap")


@pytest.fixture
def incident(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return incident


def test_the_service_keeps_a_file_with_its_description(world, incident):
    evidence = services.do_add_evidence(incident, acting_user=world.responder, uploaded=upload(),
                                        note="  Bản ghi lưu lượng mạng cổng 443, trích từ tường lửa  ")
    assert evidence.kind == "file" and evidence.original_name == "capture.pcap"
    assert evidence.note == "Bản ghi lưu lượng mạng cổng 443, trích từ tường lửa"
    assert evidence.sha256 == hashlib.sha256(CONTENT).hexdigest()  # the file's hash, not the description's
    assert services.check_evidence(evidence) == ""


def test_the_page_keeps_a_file_with_its_description(world, incident, as_user):
    client = as_user(world.dept_analyst)
    response = client.post(reverse("incidents:evidence_add", args=[incident.pk]),
                           {"file": upload(), "note": "Ảnh đĩa máy trạm phòng kế toán", "received_from": "Phòng CNTT"})
    assert response.status_code == 302, response.content.decode()[:2000]
    evidence = Evidence.objects.get(incident=incident)
    assert (evidence.kind, evidence.original_name, evidence.note) == ("file", "capture.pcap",
                                                                       "Ảnh đĩa máy trạm phòng kế toán")
    page = client.get(reverse("incidents:incident_detail", args=[incident.pk])).content.decode()
    assert "Ảnh đĩa máy trạm phòng kế toán" in page  # shown with the file


def test_the_api_keeps_a_file_with_its_description(world, incident, api):
    response = api(world.responder).post(f"/api/incidents/{incident.pk}/evidence/",
                                         {"file": upload(), "note": "Tệp nhật ký máy chủ"}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "file" and response.json()["note"] == "Tệp nhật ký máy chủ"


def test_the_chain_of_custody_names_people(world, incident, as_user):
    world.responder.full_name = "Trần Thị Ứng Cứu"
    world.responder.save()
    evidence = services.do_add_evidence(incident, acting_user=world.responder, uploaded=upload())
    services.do_record_custody(evidence, "analysed", acting_user=world.responder)
    page = as_user(world.dept_analyst).get(reverse("incidents:incident_detail", args=[incident.pk])).content.decode()
    start = page.index('class="timeline custody"')
    custody = page[start:page.index("</ol>", start)]
    assert "Trần Thị Ứng Cứu" in custody
    assert world.responder.email not in custody


@pytest.mark.skipif(not __import__("khien.incidents.exports", fromlist=["x"]).pdf_available(),
                    reason="run scripts/vendor_assets.py for the PDF fonts")
def test_the_pdf_names_people_in_the_chain_of_custody_and_keeps_the_description(world, incident):
    from khien.incidents import exports

    from .test_exports import _pdf_lines

    world.responder.full_name = "Trần Thị Ứng Cứu"
    world.responder.save()
    evidence = services.do_add_evidence(incident, acting_user=world.responder, uploaded=upload(),
                                        note="Ảnh đĩa máy trạm phòng kế toán")
    services.do_record_custody(evidence, "analysed", acting_user=world.responder)
    text = " ".join(_pdf_lines(exports.incident_pdf(incident, world.dept_analyst, language="vi")))
    from django.utils import translation
    with translation.override("vi"):
        journal_heading = translation.gettext("Journal")
    start = text.index("capture.pcap")
    evidence_part = text[start:text.index(journal_heading, start)]  # the journal still names people by e-mail
    assert "Trần Thị Ứng Cứu" in evidence_part and world.responder.email not in evidence_part
    assert "Ảnh đĩa máy trạm phòng kế toán" in evidence_part
