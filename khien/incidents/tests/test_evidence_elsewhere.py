"""Evidence kept elsewhere (C7): a disk image or a memory dump too large to upload is recorded by its name, the
SHA-256 and size its imaging tool gave, and where it is kept; it has a chain of custody and can be sealed like any
evidence; the page, the API, the PDF and `khien evidence verify` say that the platform holds no copy."""
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from khien.core.errors import Forbidden, Refused
from khien.incidents import services
from khien.incidents.models import CustodyAction, EventKind, Evidence, Status

from .conftest import walk
from .test_evidence import URL, audited, state, stored_files

pytestmark = pytest.mark.django_db

SHA = "9f2c4e1b7a3d5c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
IMAGE = {"name": "disk-PC-KT03.E01", "sha256": SHA.upper(), "size": 512_110_190_592,
         "location": "Kho vật chứng PA05, tủ số 3", "note": "Ảnh toàn bộ ổ cứng máy kế toán",
         "received_from": "Phòng Tài chính"}


@pytest.fixture
def incident(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return incident


def test_the_service_records_an_item_kept_elsewhere_with_its_custody_journal_and_audit(world, incident, settings):
    evidence = services.do_add_external_evidence(incident, acting_user=world.responder, **IMAGE)
    assert (evidence.kind, evidence.original_name, evidence.sha256, evidence.size, evidence.location) == (
        "external", "disk-PC-KT03.E01", SHA, 512_110_190_592, "Kho vật chứng PA05, tủ số 3")
    assert not evidence.file and stored_files(settings) == []  # nothing uploaded, nothing stored
    [received] = evidence.custody.all()
    assert (received.action, received.from_party, received.to_party) == (
        CustodyAction.RECEIVED, "Phòng Tài chính", world.responder.email)
    assert incident.events.last().kind == EventKind.EVIDENCE
    assert audited(evidence, "create").get().after["location"] == "Kho vật chứng PA05, tủ số 3"
    # Its hand-overs are recorded, and it is sealed like a file: the declared hash has nothing to contradict it.
    services.do_record_custody(evidence, CustodyAction.TRANSFERRED, acting_user=world.responder,
                               to_party="Viện Khoa học hình sự")
    sealed = services.do_seal_evidence(evidence, acting_user=world.dept_analyst)
    assert sealed.is_sealed and [c.action for c in sealed.custody.all()] == ["received", "transferred", "sealed"]


@pytest.mark.parametrize(("change", "field"), [
    ({"sha256": "abc"}, "sha256"),
    ({"sha256": "z" * 64}, "sha256"),
    ({"sha256": "d41d8cd98f00b204e9800998ecf8427e"}, "sha256"),  # an MD5, not a SHA-256
    ({"size": 0}, "size"),
    ({"size": -5}, "size"),
    ({"size": "12"}, "size"),
    ({"name": "  "}, "name"),
    ({"location": ""}, "location"),
    ({"location": "x" * 301}, "location"),
    ({"received_from": "y" * 301}, "received_from"),
])
def test_bad_declarations_are_refused_with_nothing_written(world, incident, change, field):
    before = state()
    with pytest.raises(ValidationError) as exc:
        services.do_add_external_evidence(incident, acting_user=world.dept_analyst, **{**IMAGE, **change})
    assert field in exc.value.message_dict
    assert state() == before


@pytest.mark.parametrize("who", ["auditor", "trainee", "other_admin", "nobody"])
def test_only_participants_record_it(world, incident, who):
    before = state()
    with pytest.raises(Forbidden):
        services.do_add_external_evidence(incident, acting_user=getattr(world, who), **IMAGE)
    assert state() == before


def test_a_closed_incident_takes_none(world, report):
    incident = walk(report(reports_given=True),
                    (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED), world.analyst)
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_add_external_evidence(incident, acting_user=world.analyst, **IMAGE)
    assert exc.value.status == 409 and state() == before


def test_verify_says_what_it_could_not_check(world, incident, settings, capsys):
    services.do_add_external_evidence(incident, acting_user=world.dept_analyst, **IMAGE)
    services.do_add_evidence(incident, acting_user=world.dept_analyst, note="Ghi chú")
    result = services.verify_evidence()
    assert (result.checked, result.kept_elsewhere, result.ok) == (1, 1, True)
    settings.LANGUAGE_CODE = "en"  # the command reports in the platform's language: read in English here
    call_command("evidence", "verify")
    out = capsys.readouterr().out
    assert "1 item checked" in out and "1 item kept elsewhere: not checked here" in out


def test_the_page_records_it_and_shows_where_it_is_kept(world, incident, as_user):
    client = as_user(world.dept_analyst)
    page = client.get(reverse("incidents:incident_detail", args=[incident.pk])).content.decode()
    assert 'id="evidence-external"' in page and "ảnh đĩa" in page.lower()  # offered, in Vietnamese
    response = client.post(reverse("incidents:evidence_external_add", args=[incident.pk]), {
        "ext-name": "memdump-SRV01.raw", "ext-sha256": SHA, "ext-size": "34.359.738.368",
        "ext-location": "Ổ cứng niêm phong HDD-2026-014", "ext-received_from": "", "ext-note": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    evidence = Evidence.objects.get(incident=incident)
    assert (evidence.kind, evidence.size) == ("external", 34_359_738_368)  # thousands separators understood
    page = client.get(reverse("incidents:incident_detail", args=[incident.pk])).content.decode()
    assert "memdump-SRV01.raw" in page and "Ổ cứng niêm phong HDD-2026-014" in page and SHA in page
    assert reverse("incidents:evidence_download", args=[evidence.pk]) not in page  # nothing to download


def test_the_page_keeps_what_was_typed_when_refused(world, incident, as_user):
    client = as_user(world.dept_analyst)
    before = state()
    response = client.post(reverse("incidents:evidence_external_add", args=[incident.pk]), {
        "ext-name": "disk.E01", "ext-sha256": "d41d8cd98f00b204e9800998ecf8427e", "ext-size": "4 GB",
        "ext-location": "Kho vật chứng"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Kho vật chứng" in page and "disk.E01" in page  # typed values given back
    assert "Chưa thêm được chứng cứ" in page  # said at the top, in Vietnamese
    assert state() == before
    # The service's own check speaks at its field too (a well-formed size, a wrong hash).
    response = client.post(reverse("incidents:evidence_external_add", args=[incident.pk]), {
        "ext-name": "disk.E01", "ext-sha256": "d41d8cd98f00b204e9800998ecf8427e", "ext-size": "4096",
        "ext-location": "Kho vật chứng"})
    assert response.status_code == 400 and "64" in response.content.decode()
    assert state() == before


def test_the_page_refuses_outsiders(world, incident, as_user):
    before = state()
    response = as_user(world.auditor).post(reverse("incidents:evidence_external_add", args=[incident.pk]),
                                           {f"ext-{k}": v for k, v in IMAGE.items()})
    assert response.status_code in (403, 404) and state()[:3] == before[:3]  # (the denial itself is audited)


def test_the_api_records_it_and_refuses_bad_input(world, api, incident):
    url = f"{URL}{incident.pk}/evidence/external/"
    client = api(world.responder)
    before = state()
    assert client.post(url, {**IMAGE, "size": 0}, format="json").status_code == 400
    response = client.post(url, {**IMAGE, "sha256": "nope"}, format="json")
    assert response.status_code == 400 and "sha256" in response.json()
    assert api(world.auditor).post(url, IMAGE, format="json").status_code == 403
    assert api(world.other_admin).post(url, IMAGE, format="json").status_code == 404
    assert state()[0] == before[0]
    response = client.post(url, IMAGE, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["kind"], data["location"], data["sha256"], data["download_url"]) == (
        "external", IMAGE["location"], SHA, None)
    assert client.get(f"{URL}{incident.pk}/evidence/{data['id']}/download/").status_code == 404


@pytest.mark.skipif(not __import__("khien.incidents.exports", fromlist=["x"]).pdf_available(),
                    reason="run scripts/vendor_assets.py for the PDF fonts")
def test_the_pdf_says_where_it_is_kept(world, incident):
    from khien.incidents import exports

    from .test_exports import _pdf_lines

    services.do_add_external_evidence(incident, acting_user=world.dept_analyst, **IMAGE)
    with translation.override("en"):
        text = " ".join(_pdf_lines(exports.incident_pdf(incident, world.dept_analyst, language="en")))
    assert "disk-PC-KT03.E01" in text and "Kho vật chứng PA05, tủ số 3" in text and SHA in text
