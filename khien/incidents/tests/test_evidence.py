"""Evidence (C7): files and notes with SHA-256, the chain of custody, sealing, tamper detection, API and audit."""
import datetime as dt
import hashlib
import io
import os

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation

from khien.core import audit
from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.incidents import services
from khien.incidents.models import CustodyAction, CustodyEvent, EventKind, Evidence, IncidentEvent, SealedError, Status

from .conftest import walk

pytestmark = pytest.mark.django_db

CONTENT = b"pcap \x00\x01 binary evidence " * 100
URL = "/api/incidents/"


def upload(name="capture.pcap", content=CONTENT, content_type="application/vnd.tcpdump.pcap"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def state():
    return (Evidence.objects.count(), CustodyEvent.objects.count(), IncidentEvent.objects.count(),
            AuditEntry.objects.count())


def stored_files(settings):
    root = settings.MEDIA_ROOT
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def audited(obj, action):
    return AuditEntry.objects.filter(object_id=str(obj.pk), action=action, object_type=obj._meta.label_lower)


@pytest.fixture
def incident(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return incident


# --- adding -----------------------------------------------------------------------------------


def test_add_file_evidence(world, incident, settings):
    evidence = services.do_add_evidence(incident, acting_user=world.responder, uploaded=upload(),
                                        received_from="Máy chủ MAIL-01")
    assert evidence.kind == "file" and evidence.original_name == "capture.pcap"
    assert evidence.sha256 == hashlib.sha256(CONTENT).hexdigest() and evidence.size == len(CONTENT)
    assert evidence.uploaded_by == world.responder and evidence.content_type == "application/vnd.tcpdump.pcap"
    # Stored under a random name in the incident's folder; the uploaded name is only a label.
    assert evidence.file.name.startswith(f"evidence/{incident.pk}/") and "capture" not in evidence.file.name
    assert stored_files(settings) == [evidence.file.name]
    assert (settings.MEDIA_ROOT / evidence.file.name).read_bytes() == CONTENT
    [received] = evidence.custody.all()
    assert (received.action, received.from_party, received.to_party, received.actor) == (
        CustodyAction.RECEIVED, "Máy chủ MAIL-01", world.responder.email, world.responder)
    event = incident.events.last()
    assert event.kind == EventKind.EVIDENCE and event.data["evidence_id"] == str(evidence.pk)
    entry = audited(evidence, "create").get()
    assert entry.after["sha256"] == evidence.sha256 and entry.organization_id == str(world.department.pk)
    assert audit.verify().ok


def test_add_note_evidence(world, incident):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, note="  Ảnh chụp màn hình đã lưu  ")
    assert evidence.kind == "note" and evidence.note == "Ảnh chụp màn hình đã lưu" and not evidence.file
    assert evidence.sha256 == hashlib.sha256("Ảnh chụp màn hình đã lưu".encode()).hexdigest()
    assert audited(evidence, "create").exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "file"),
        ({"note": "   "}, "file"),
        ({"note": "x" * 20001}, "note"),
        ({"note": "x", "received_from": "y" * 301}, "received_from"),
    ],
)
def test_bad_evidence_refused_with_nothing_written(world, incident, settings, kwargs, field):
    if kwargs.get("uploaded") == "file":
        kwargs["uploaded"] = upload()
    before = state()
    with pytest.raises(ValidationError) as exc:
        services.do_add_evidence(incident, acting_user=world.dept_analyst, **kwargs)
    assert field in exc.value.message_dict
    assert state() == before and stored_files(settings) == []


def test_too_large_file_is_413_and_nothing_stored(world, incident, settings):
    settings.KHIEN_MAX_UPLOAD_BYTES = 100
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload(content=b"x" * 101))
    assert exc.value.status == 413
    # A file whose announced size lies is measured while it is read.
    liar = upload(content=b"x" * 101)
    liar.size = 10
    with pytest.raises(Refused) as exc:
        services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=liar)
    assert exc.value.status == 413
    assert state() == before and stored_files(settings) == []
    assert services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload(content=b"x" * 100)).size == 100


@pytest.mark.parametrize("who", ["auditor", "trainee", "other_admin", "nobody"])
def test_add_evidence_refused_for_non_participants(world, incident, settings, who):
    before = state()
    with pytest.raises(Forbidden):
        services.do_add_evidence(incident, acting_user=getattr(world, who), uploaded=upload())
    assert state() == before and stored_files(settings) == []


def test_closed_incident_takes_no_evidence(world, report, settings):
    incident = report(reports_given=True)
    incident = walk(incident, (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED, Status.CLOSED), world.analyst)
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_add_evidence(incident, acting_user=world.analyst, uploaded=upload())
    assert exc.value.status == 409
    assert state() == before and stored_files(settings) == []


# --- chain of custody ---------------------------------------------------------------------------


def test_chain_of_custody(world, incident):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload())
    services.do_record_custody(evidence, CustodyAction.TRANSFERRED, acting_user=world.dept_analyst,
                               from_party="Phòng CNTT MIN-D1", to_party="Công ty ứng cứu RESP", note="Niêm phong túi số 7")
    at = timezone.now()
    analysed = services.do_record_custody(evidence, CustodyAction.ANALYSED, acting_user=world.responder, at=at)
    assert analysed.at == at
    services.do_record_custody(evidence, CustodyAction.RETURNED, acting_user=world.responder, to_party="MIN-D1")
    assert list(evidence.custody.values_list("action", flat=True)) == ["received", "transferred", "analysed", "returned"]
    assert analysed.actor == world.responder
    assert audited(analysed, "create").get().organization_id == str(world.department.pk)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"action": "lost"}, "action"),
        ({"action": "sealed"}, "action"),                      # sealing is its own service
        ({"action": "transferred"}, "to_party"),               # to whom?
        ({"action": "analysed", "at": "future"}, "at"),
        ({"action": "analysed", "at": "naive"}, "at"),
        ({"action": "analysed", "at": "before"}, "at"),
        ({"action": "analysed", "note": "x" * 20001}, "note"),
    ],
)
def test_bad_custody_refused(world, incident, args, field):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, note="n")
    at = args.pop("at", None)
    if at == "future":
        args["at"] = timezone.now() + dt.timedelta(minutes=5)
    elif at == "naive":
        args["at"] = dt.datetime(2026, 1, 1, 8, 0)
    elif at == "before":
        args["at"] = evidence.uploaded_at - dt.timedelta(days=1)
    action = args.pop("action")
    before = state()
    with pytest.raises(ValidationError) as exc:
        services.do_record_custody(evidence, action, acting_user=world.dept_analyst, **args)
    assert field in exc.value.message_dict
    assert state() == before


def test_custody_refused_for_non_participants(world, incident):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, note="n")
    before = state()
    for who in ("auditor", "other_admin", "nobody"):
        with pytest.raises(Forbidden):
            services.do_record_custody(evidence, "analysed", acting_user=getattr(world, who))
    assert state() == before


def test_custody_events_are_append_only(world, incident):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, note="n")
    event = evidence.custody.get()
    event.note = "rewritten"
    with pytest.raises(SealedError):
        event.save()
    with pytest.raises(SealedError):
        event.delete()
    assert evidence.custody.get().note == ""


# --- sealing ------------------------------------------------------------------------------------


def test_seal_freezes_everything(world, incident, settings):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload())
    with pytest.raises(Forbidden):  # a responder works on the reporting side's evidence but does not seal it
        services.do_seal_evidence(evidence, acting_user=world.responder)
    with pytest.raises(Forbidden):
        services.do_seal_evidence(evidence, acting_user=world.auditor)
    sealed = services.do_seal_evidence(evidence, acting_user=world.dept_analyst, note="Niêm phong")
    assert sealed.sealed_at is not None and sealed.sealed_by == world.dept_analyst
    assert sealed.custody.last().action == CustodyAction.SEALED
    entry = audited(sealed, "update").get()
    assert entry.before["sealed_at"] is None and entry.after["sealed_at"] is not None

    before = state()
    with pytest.raises(Refused) as exc:  # sealed once
        services.do_seal_evidence(sealed, acting_user=world.coordinator)
    assert exc.value.status == 409
    # The model refuses too, whoever calls it and whatever the instance in hand says.
    stale = Evidence.objects.get(pk=evidence.pk)
    stale.sealed_at = None
    stale.original_name = "renamed.pcap"
    with pytest.raises(SealedError) as exc:
        stale.save()
    assert exc.value.status == 409
    with pytest.raises(SealedError):
        stale.delete()
    assert state() == before
    assert Evidence.objects.get(pk=evidence.pk).original_name == "capture.pcap"


def test_a_sealed_item_still_travels_and_each_hand_over_is_recorded_after_the_seal(world, incident):
    """Sealing fixes the file, its hash and description and the steps so far; the sealed package then goes to the
    forensic laboratory and back, and those hand-overs are the chain of custody a court reads."""
    evidence = services.do_add_evidence(incident, acting_user=world.responder, uploaded=upload())
    sealed = services.do_seal_evidence(evidence, acting_user=world.dept_analyst, note="Niêm phong")
    before = audited(sealed, "update").count()
    with pytest.raises(ValidationError) as exc:  # dated before the seal
        services.do_record_custody(sealed, "transferred", acting_user=world.coordinator, to_party="Phòng giám định",
                                   at=sealed.sealed_at - dt.timedelta(minutes=5))
    assert "at" in exc.value.message_dict
    services.do_record_custody(sealed, "transferred", acting_user=world.coordinator, to_party="Phòng giám định")
    services.do_record_custody(sealed, "returned", acting_user=world.responder, to_party="Đơn vị báo cáo")
    assert [c.action for c in sealed.custody.order_by("at", "pk")] == ["received", "sealed", "transferred", "returned"]
    fresh = Evidence.objects.get(pk=sealed.pk)
    assert fresh.sealed_at == sealed.sealed_at and fresh.sha256 == sealed.sha256  # still sealed, unchanged
    assert audited(sealed, "update").count() == before
    with pytest.raises(Forbidden):  # only the incident's participants record custody, sealed or not
        services.do_record_custody(sealed, "analysed", acting_user=world.other_admin)


def test_altered_file_is_not_sealed(world, incident, settings):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload())
    (settings.MEDIA_ROOT / evidence.file.name).write_bytes(CONTENT + b"!")
    before = state()
    with pytest.raises(Refused) as exc:
        services.do_seal_evidence(evidence, acting_user=world.dept_analyst)
    assert exc.value.status == 409 and exc.value.code == "integrity"
    assert state() == before


# --- tamper detection: `khien evidence verify` ----------------------------------------------------------


def test_verify_detects_a_modified_file(world, incident, report, settings):
    settings.LANGUAGE_CODE = "en"  # the command reports in the platform's language: read in English here
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload())
    services.do_seal_evidence(evidence, acting_user=world.dept_analyst)
    services.do_add_evidence(incident, acting_user=world.dept_analyst, note="ghi chú")
    other = report(title="Other")
    services.do_add_evidence(other, acting_user=world.analyst, uploaded=upload("other.log", b"log"))
    out = io.StringIO()
    call_command("evidence", "verify", stdout=out)
    assert "3 items checked" in out.getvalue()

    path = settings.MEDIA_ROOT / evidence.file.name
    data = bytearray(path.read_bytes())
    data[10] ^= 1  # one bit, same size
    path.write_bytes(bytes(data))
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("evidence", "verify", stdout=io.StringIO(), stderr=err)
    assert "1 problem in 3 item(s) checked" in str(exc.value)
    assert incident.reference in err.getvalue() and str(evidence.pk) in err.getvalue()
    assert "SHA-256" in err.getvalue()
    # Only the other incident: intact.
    out = io.StringIO()
    call_command("evidence", "verify", "--incident", other.reference, stdout=out)
    assert "1 item checked" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("evidence", "verify", "--incident", incident.reference, stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError):
        call_command("evidence", "verify", "--incident", "SC-1999-000001", stdout=io.StringIO())


def test_verify_detects_a_missing_file_and_an_altered_note(world, incident, settings):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload())
    note = services.do_add_evidence(incident, acting_user=world.dept_analyst, note="original")
    os.remove(settings.MEDIA_ROOT / evidence.file.name)
    Evidence.objects.filter(pk=note.pk).update(note="forged")  # behind the services' back
    with translation.override("en"):
        result = services.verify_evidence()
    assert result.checked == 2 and not result.ok
    problems = {e.pk: p for e, p in result.problems}
    assert "missing" in problems[evidence.pk] and "SHA-256" in problems[note.pk]


@pytest.mark.django_db(transaction=True)  # the command closes the database connections when it ends
def test_verify_exit_status_from_the_command_line(world, incident, settings):
    """`khien evidence verify` exits 1 on a problem and 0 when intact, as the operator runs it."""
    from django.core.management import ManagementUtility

    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload())
    utility = ManagementUtility(["khien", "evidence", "verify", "--skip-checks"])
    utility.execute()  # no SystemExit: intact
    (settings.MEDIA_ROOT / evidence.file.name).write_bytes(b"")
    with pytest.raises(SystemExit) as exc:
        ManagementUtility(["khien", "evidence", "verify", "--skip-checks"]).execute()
    assert exc.value.code == 1


# --- API ----------------------------------------------------------------------------------------------


def test_evidence_over_the_api(world, api, incident, settings):
    url = f"{URL}{incident.pk}/evidence/"
    responder = api(world.responder)
    response = responder.post(url, {"file": upload(), "received_from": "SOC"}, format="multipart")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["sha256"] == hashlib.sha256(CONTENT).hexdigest() and data["uploaded_by"] == world.responder.email
    assert [c["action"] for c in data["custody"]] == ["received"]
    evidence_url = f"{url}{data['id']}/"
    response = responder.get(data["download_url"])
    assert response.status_code == 200 and b"".join(response.streaming_content) == CONTENT
    assert response["Content-Type"] == "application/octet-stream" and "attachment" in response["Content-Disposition"]
    assert response["X-Khien-SHA256"] == data["sha256"]

    response = api(world.dept_analyst).post(url, {"note": "Nhật ký tường lửa đã trích xuất"}, format="json")
    assert response.status_code == 201 and response.json()["kind"] == "note" and response.json()["download_url"] is None

    response = responder.post(evidence_url + "custody/", {"action": "analysed", "note": "Phân tích xong"}, format="json")
    assert response.status_code == 201 and response.json()["actor_email"] == world.responder.email
    assert [c["action"] for c in responder.get(evidence_url + "custody/").json()] == ["received", "analysed"]
    assert api(world.auditor).post(evidence_url + "seal/", {}, format="json").status_code == 403  # reads only
    response = api(world.dept_analyst).post(evidence_url + "seal/", {"note": "Niêm phong"}, format="json")
    assert response.status_code == 200 and response.json()["sealed_by"] == world.dept_analyst.email
    assert api(world.dept_analyst).post(evidence_url + "seal/", {}, format="json").status_code == 409
    # The sealed item still travels: a hand-over after the seal is recorded.
    response = responder.post(evidence_url + "custody/", {"action": "transferred", "to_party": "Phòng giám định"},
                              format="json")
    assert response.status_code == 201
    rows = responder.get(url).json()
    assert len(rows) == 2 and rows[0]["sealed_at"] is not None


def test_api_refusals_write_nothing(world, api, incident, settings):
    url = f"{URL}{incident.pk}/evidence/"
    client = api(world.dept_analyst)
    auditor = api(world.auditor)  # (creating a token is audited too)
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload())
    before = state()
    assert client.post(url, {}, format="json").status_code == 400
    assert client.post(url, {"file": "not a file"}, format="multipart").status_code == 400
    settings.KHIEN_MAX_UPLOAD_BYTES = 10
    assert client.post(url, {"file": upload()}, format="multipart").status_code == 413
    custody = f"{url}{evidence.pk}/custody/"
    assert client.post(custody, {"action": "sealed"}, format="json").status_code == 400
    assert client.post(custody, {"action": "transferred"}, format="json").status_code == 400
    assert client.post(custody, {"action": "analysed", "at": "yesterday"}, format="json").status_code == 400
    assert auditor.post(custody, {"action": "analysed"}, format="json").status_code == 403
    assert auditor.post(url, {"note": "x"}, format="json").status_code == 403
    assert client.post(f"{url}00000000-0000-0000-0000-000000000000/seal/", {}, format="json").status_code == 404
    assert state() == before and len(stored_files(settings)) == 1


def test_another_organization_cannot_see_or_download(world, api, incident, report):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, uploaded=upload())
    base = f"{URL}{incident.pk}/evidence/"
    for user in (world.other_admin, world.nobody):
        client = api(user)
        assert client.get(base).status_code == 404
        assert client.get(f"{base}{evidence.pk}/download/").status_code == 404
        assert client.get(f"{base}{evidence.pk}/custody/").status_code == 404
        assert client.post(f"{base}{evidence.pk}/seal/", {}, format="json").status_code == 404
    # Through an incident the caller does see, someone else's evidence is still not found.
    own = report(org=world.province, user=world.other_admin, title="Province")
    response = api(world.other_admin).get(f"{URL}{own.pk}/evidence/{evidence.pk}/download/")
    assert response.status_code == 404
    assert Evidence.objects.visible_to(world.other_admin).count() == 0
    assert CustodyEvent.objects.visible_to(world.other_admin).count() == 0
    assert Evidence.objects.visible_to(world.responder).count() == 1  # assigned responder


def test_an_empty_file_is_refused_over_the_api_as_on_the_page(world, api, incident, settings):
    client = api(world.dept_analyst)
    before = state()
    response = client.post(f"{URL}{incident.pk}/evidence/", {"file": upload(content=b"")}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()
    assert state() == before and stored_files(settings) == []


def test_control_characters_are_refused_on_the_evidence_pages(world, client, incident, settings):
    """The API refused them already (`core.api.fields`); the page's form took a bell or an escape."""
    client.force_login(world.dept_analyst)
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst, note="Nhật ký")
    base = f"/incidents/{incident.pk}/evidence/"
    before = state()
    for data in ({"note": "a\x07b"}, {"note": "Nhật ký", "received_from": "SOC\x1b[31m"}):
        assert client.post(base, data).status_code == 400
    assert client.post(f"{base}{evidence.pk}/custody/", {"action": "analysed", "note": "x\x1by"}).status_code == 400
    assert client.post(f"{base}{evidence.pk}/seal/", {"note": "x\x07"}).status_code == 400
    assert state() == before
    assert client.post(base, {"note": "Dòng 1\n\tDòng 2"}).status_code == 302  # tabs and line breaks are text
