"""Evidence integrity as a responder meets it: a stored file changed (or gone) after it was received is not served as
evidence (409, recorded in its chain of custody and audited), the page, the API and the PDF say each item's
integrity, and "Verify integrity" checks an item on demand. Also: placeholder hashes refused for evidence kept
elsewhere, sizes in decimal units, and `khien evidence verify` in one language."""
import hashlib
import io
import os

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from pypdf import PdfReader

from khien.core.audit import verify as audit_verify
from khien.core.models import AuditEntry
from khien.incidents import evidence as integrity_rule
from khien.incidents import services
from khien.incidents.models import CustodyEvent, Evidence

pytestmark = pytest.mark.django_db

CONTENT = b"1733500000.123 10.0.0.5 TCP_MISS/200 GET http://c2.example/beacon\n" * 50
URL = "/api/incidents/"


@pytest.fixture
def incident(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return incident


@pytest.fixture
def proxy_log(world, incident):
    return services.do_add_evidence(incident, acting_user=world.dept_analyst,
                                    uploaded=SimpleUploadedFile("proxy.log", CONTENT, content_type="text/plain"))


def tamper(settings, evidence, extra=b"# appended later\n"):
    path = settings.MEDIA_ROOT / evidence.file.name
    path.write_bytes(path.read_bytes() + extra)


def flip_one_bit(settings, evidence):
    path = settings.MEDIA_ROOT / evidence.file.name
    data = bytearray(path.read_bytes())
    data[5] ^= 1  # same size: only the hash tells
    path.write_bytes(bytes(data))


def checks(evidence):
    return [(c.action, c.actor_email) for c in evidence.custody.all() if c.action in integrity_rule.CHECK_ACTIONS]


def english(client):
    client.cookies["khien_language"] = "en"
    return client


def writes():
    return CustodyEvent.objects.count(), AuditEntry.objects.count()


# --- downloads check the hash --------------------------------------------------------------------------


def test_an_intact_file_is_served_and_said_intact(world, api, incident, proxy_log):
    response = api(world.responder).get(f"{URL}{incident.pk}/evidence/{proxy_log.pk}/download/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == CONTENT
    assert response["X-Khien-SHA256"] == hashlib.sha256(CONTENT).hexdigest()
    assert response["X-Khien-Integrity"] == "intact"
    assert checks(proxy_log) == []  # a download that found nothing wrong records nothing


def test_a_tampered_file_is_not_served_over_the_api_and_the_failure_is_recorded_once(world, api, incident, proxy_log,
                                                                                    settings):
    tamper(settings, proxy_log)
    client = api(world.auditor)  # who only reads gets the same refusal; the platform records what it found
    client.credentials(HTTP_ACCEPT_LANGUAGE="en", **client._credentials)
    url = f"{URL}{incident.pk}/evidence/{proxy_log.pk}/download/"
    response = client.get(url)
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "content_changed" and "no longer matches the SHA-256" in body["detail"]
    assert "X-Khien-SHA256" not in response
    assert checks(proxy_log) == [("content_changed", world.auditor.email)]
    step = proxy_log.custody.get(action="content_changed")
    found = hashlib.sha256(CONTENT + b"# appended later\n").hexdigest()
    assert found in step.note  # what was found, in the chain of custody
    assert AuditEntry.objects.filter(object_type="incidents.custodyevent", object_id=str(step.pk),
                                     action="create").exists()
    assert audit_verify().ok
    # Tried again: refused again, nothing more recorded (the same finding).
    before = writes()
    assert client.get(url).status_code == 409
    assert writes() == before


def test_a_tampered_file_is_not_served_from_the_page_which_says_why(world, client, incident, proxy_log, settings):
    tamper(settings, proxy_log)
    english(client).force_login(world.responder)
    response = client.get(f"/incidents/evidence/{proxy_log.pk}/download/")
    assert response.status_code == 409
    page = response.content.decode()
    assert "This file no longer matches the SHA-256 recorded when it was received" in page
    assert "Content changed" in page  # the item itself says it
    assert checks(proxy_log) == [("content_changed", world.responder.email)]


def test_a_missing_file_is_refused_and_recorded(world, api, incident, proxy_log, settings):
    os.remove(settings.MEDIA_ROOT / proxy_log.file.name)
    response = api(world.responder).get(f"{URL}{incident.pk}/evidence/{proxy_log.pk}/download/")
    assert response.status_code == 409 and response.json()["code"] == "file_missing"
    assert checks(proxy_log) == [("file_missing", world.responder.email)]
    data = api(world.responder).get(f"{URL}{incident.pk}/evidence/").json()
    assert data[0]["integrity"]["state"] == "file_missing"


def test_participants_may_still_take_the_altered_file_for_analysis_marked_and_audited(world, api, incident,
                                                                                      proxy_log, settings):
    tamper(settings, proxy_log)
    url = f"{URL}{incident.pk}/evidence/{proxy_log.pk}/download/?altered=1"
    assert api(world.auditor).get(url).status_code == 403  # reads only: not a handler of the incident
    responder = api(world.responder)
    responder.credentials(HTTP_ACCEPT_LANGUAGE="en", **responder._credentials)
    response = responder.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CONTENT + b"# appended later\n"
    assert response["X-Khien-Integrity"] == "content_changed"
    assert response["X-Khien-SHA256"] == proxy_log.sha256  # the recorded one, said as recorded
    assert response["X-Khien-SHA256-Found"] == hashlib.sha256(CONTENT + b"# appended later\n").hexdigest()
    assert 'filename="ALTERED-proxy.log"' in response["Content-Disposition"]  # never saved as the evidence itself
    export = AuditEntry.objects.filter(action="export", object_id=str(proxy_log.pk)).get()
    assert export.after["served"] == "altered" and export.actor_email == world.responder.email
    # An intact file is never served "as altered"; a missing one cannot be.
    os.remove(settings.MEDIA_ROOT / proxy_log.file.name)
    assert api(world.responder).get(url).status_code == 409


def test_the_page_offers_the_altered_file_only_to_participants(world, client, incident, proxy_log, settings):
    tamper(settings, proxy_log)
    english(client).force_login(world.auditor)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Content changed" in page and "Download the altered file for analysis" not in page
    assert f'href="/incidents/evidence/{proxy_log.pk}/download/"' not in page  # not offered as evidence
    assert client.get(f"/incidents/evidence/{proxy_log.pk}/download/?altered=1").status_code == 403
    client.force_login(world.responder)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"/incidents/evidence/{proxy_log.pk}/download/?altered=1" in page
    response = client.get(f"/incidents/evidence/{proxy_log.pk}/download/?altered=1")
    assert response.status_code == 200 and response["X-Khien-Integrity"] == "content_changed"


# --- "Verify integrity" -----------------------------------------------------------------------------------


def test_verify_over_the_api_records_each_result(world, api, incident, proxy_log, settings):
    client = api(world.responder)
    url = f"{URL}{incident.pk}/evidence/{proxy_log.pk}/verify/"
    assert client.get(f"{URL}{incident.pk}/evidence/").json()[0]["integrity"]["state"] == "unverified"
    response = client.post(url, {}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["integrity"]["state"] == "verified" and data["integrity"]["checked_at"]
    assert data["custody"][-1]["action"] == "verified"
    flip_one_bit(settings, proxy_log)  # same size: only reading it whole finds it
    assert client.get(f"{URL}{incident.pk}/evidence/").json()[0]["integrity"]["state"] == "verified"
    data = client.post(url, {}, format="json").json()
    assert data["integrity"]["state"] == "content_changed"
    assert [c["action"] for c in data["custody"]] == ["received", "verified", "content_changed"]
    assert AuditEntry.objects.filter(object_type="incidents.custodyevent", action="create").count() >= 2
    assert audit_verify().ok


def test_verify_is_refused_to_readers_other_organizations_and_items_kept_elsewhere(world, api, incident, proxy_log):
    url = f"{URL}{incident.pk}/evidence/{proxy_log.pk}/verify/"
    auditor, other, analyst = api(world.auditor), api(world.other_admin), api(world.dept_analyst)  # tokens audited
    before = writes()
    assert auditor.post(url, {}, format="json").status_code == 403
    assert other.post(url, {}, format="json").status_code == 404
    assert writes() == before
    external = services.do_add_external_evidence(
        incident, acting_user=world.dept_analyst, name="disk.E01", sha256=hashlib.sha256(b"disk").hexdigest(),
        size=512_000_000_000, location="Kho vật chứng")
    before = writes()
    response = analyst.post(f"{URL}{incident.pk}/evidence/{external.pk}/verify/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "kept_elsewhere"
    assert writes() == before


def test_verify_from_the_page_a_sealed_item_too(world, client, incident, proxy_log, settings):
    services.do_seal_evidence(proxy_log, acting_user=world.dept_analyst)
    english(client).force_login(world.responder)
    response = client.post(f"/incidents/{incident.pk}/evidence/{proxy_log.pk}/verify/", follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Integrity verified: the content matches its SHA-256" in page and "Verified " in page
    assert checks(proxy_log) == [("verified", world.responder.email)]
    tamper(settings, proxy_log)
    page = client.post(f"/incidents/{incident.pk}/evidence/{proxy_log.pk}/verify/", follow=True).content.decode()
    assert "Integrity check failed" in page
    assert checks(proxy_log)[-1] == ("content_changed", world.responder.email)
    client.force_login(world.auditor)
    assert client.post(f"/incidents/{incident.pk}/evidence/{proxy_log.pk}/verify/").status_code == 403
    assert "Verify integrity" not in client.get(f"/incidents/{incident.pk}/").content.decode()


def test_the_page_says_a_change_seen_without_reading_the_file(world, client, incident, proxy_log, settings):
    """An appended or truncated file is seen from its size at once, before any download or check."""
    english(client).force_login(world.responder)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Not verified since it was received." in page and "Verify integrity" in page
    tamper(settings, proxy_log)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Content changed: it no longer matches the SHA-256 recorded when it was received." in page


def test_integrity_checks_are_not_typed_in_as_custody_steps(world, api, incident, proxy_log):
    responder = api(world.responder)
    before = writes()
    for action in ("verified", "content_changed", "file_missing"):
        response = responder.post(f"{URL}{incident.pk}/evidence/{proxy_log.pk}/custody/",
                                             {"action": action}, format="json")
        assert response.status_code == 400
        with pytest.raises(ValidationError):
            services.do_record_custody(proxy_log, action, acting_user=world.responder)
    assert writes() == before


def test_the_pdf_says_each_items_integrity_and_exact_size(world, client, incident, proxy_log, settings):
    services.do_verify_evidence(proxy_log, acting_user=world.responder)
    english(client).force_login(world.responder)
    response = client.get(f"/incidents/{incident.pk}/report.pdf?lang=en")
    assert response.status_code == 200
    text = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split())
    assert "Integrity: Verified" in text
    assert f"{integrity_rule.size_label(len(CONTENT))} ({len(CONTENT):,} bytes)" in text


def test_files_are_hashed_in_chunks(settings, world, incident):
    """A large file is read chunk by chunk, never whole (a disk image would not fit in memory)."""
    big = b"x" * (integrity_rule.CHUNK * 2 + 10)
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst,
                                        uploaded=SimpleUploadedFile("big.bin", big))
    reads = []

    class Spy(io.BytesIO):
        def read(self, n=-1):
            reads.append(n)
            return super().read(n)

    found = integrity_rule.integrity(evidence, Spy(big))
    assert found.ok and reads and all(0 < n <= integrity_rule.CHUNK for n in reads)


# --- evidence kept elsewhere: placeholder hashes --------------------------------------------------------


@pytest.mark.parametrize("sha256", ["a" * 64, "0" * 64, "F" * 64, hashlib.sha256(b"").hexdigest()])
def test_a_placeholder_hash_is_refused(world, api, client, incident, sha256):
    client = api(world.dept_analyst)  # (creating its token is audited)
    client.credentials(HTTP_ACCEPT_LANGUAGE="en", **client._credentials)
    before = (Evidence.objects.count(),) + writes()
    with pytest.raises(ValidationError) as exc:
        services.do_add_external_evidence(incident, acting_user=world.dept_analyst, name="disk.E01", sha256=sha256,
                                          size=4096, location="Kho")
    assert "sha256" in exc.value.message_dict
    response = client.post(f"{URL}{incident.pk}/evidence/external/",
                           {"name": "disk.E01", "sha256": sha256, "size": 4096, "location": "Kho"}, format="json")
    said = " ".join(response.json()["sha256"])
    assert response.status_code == 400 and ("not a real SHA-256" in said or "SHA-256 of an empty file" in said)
    assert (Evidence.objects.count(),) + writes() == before


def test_a_placeholder_hash_is_said_at_the_field_on_the_page(world, client, incident):
    english(client).force_login(world.dept_analyst)
    response = client.post(f"/incidents/{incident.pk}/evidence/external/", {
        "ext-name": "disk.E01", "ext-sha256": "a" * 64, "ext-size": "4096", "ext-location": "Kho vật chứng"})
    assert response.status_code == 400
    assert "This is not a real SHA-256 (the same character 64 times)" in response.content.decode()
    assert not Evidence.objects.filter(kind="external").exists()


# --- sizes in decimal units ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size, en, vi", [
    (512_000_000_000, "512 GB", "512 GB"),
    (161_700, "161.7 kB", "161,7 kB"),
    (999, "999 bytes", None),
    (999_960, "1 MB", "1 MB"),
    (34_359_738_368, "34.4 GB", "34,4 GB"),
])
def test_size_label_in_decimal_units(size, en, vi):
    with translation.override("en"):
        assert integrity_rule.size_label(size) == en
    if vi:
        with translation.override("vi"):
            assert integrity_rule.size_label(size) == vi


def test_the_page_writes_a_disk_images_size_in_decimal_units(world, client, incident):
    services.do_add_external_evidence(incident, acting_user=world.dept_analyst, name="disk.E01",
                                      sha256=hashlib.sha256(b"disk").hexdigest(), size=512_000_000_000,
                                      location="Kho vật chứng")
    english(client).force_login(world.dept_analyst)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "512 GB" in page and "476.8" not in page


# --- `khien evidence verify` speaks one language ------------------------------------------------------------


def test_the_command_reports_in_the_platforms_language_whatever_is_active(world, incident, proxy_log, settings):
    os.remove(settings.MEDIA_ROOT / proxy_log.file.name)
    settings.LANGUAGE_CODE = "en"
    err = io.StringIO()
    with translation.override("vi"), pytest.raises(CommandError) as exc:
        call_command("evidence", "verify", stdout=io.StringIO(), stderr=err)
    # The item's line and the summary alike (the item's problem was Vietnamese, the summary English, before).
    assert "the file is missing" in err.getvalue() and "1 problem in 1 item(s) checked" in str(exc.value)
    assert "evidence" in err.getvalue()
