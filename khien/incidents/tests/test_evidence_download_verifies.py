"""A download that finds the file intact is a real integrity check: the item's "Verified …" moves to its time (page,
API, PDF), without a custody step per download (the chain of custody stays readable); it is in the audit log as an
export of the file served intact. A failure found after it is recorded again in the chain."""
import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from khien.core.audit import verify as audit_verify
from khien.core.models import AuditEntry
from khien.core.texts import shown_time
from khien.incidents import evidence as integrity_rule
from khien.incidents import services
from khien.incidents.models import CustodyEvent

pytestmark = pytest.mark.django_db

# The reported incident with a responder, and its proxy log kept as evidence: the integrity tests' fixtures.
from .test_evidence_integrity import CONTENT, incident, proxy_log  # noqa: F401,E402


def state_of(evidence):
    evidence.refresh_from_db()
    return integrity_rule.integrity_state(evidence)


def downloaded(client, evidence):
    response = client.get(f"/incidents/evidence/{evidence.pk}/download/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == CONTENT
    return response


def test_an_intact_download_says_verified_at_its_time_without_a_custody_step(world, client, incident, proxy_log):
    assert state_of(proxy_log).state == "unverified"
    steps = CustodyEvent.objects.count()
    client.force_login(world.responder)
    client.cookies["khien_language"] = "en"
    before = timezone.now()
    downloaded(client, proxy_log)
    state = state_of(proxy_log)
    assert state.state == "verified" and state.checked_at >= before
    assert CustodyEvent.objects.count() == steps  # the chain of custody is not filled with downloads
    # Who took it, and what was found, is in the audit log (an export, served intact).
    entry = AuditEntry.objects.filter(action="export", object_id=str(proxy_log.pk)).get()
    assert entry.after["served"] == "intact" and entry.after["sha256_found"] == hashlib.sha256(CONTENT).hexdigest()
    assert entry.actor_email == world.responder.email and audit_verify().ok
    # The page says it.
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"Verified {shown_time(state.checked_at)}: matches its SHA-256." in page


def test_a_later_download_moves_the_verified_time_past_the_last_recorded_check(world, api, client, incident,
                                                                              proxy_log):
    _found, step = services.do_verify_evidence(proxy_log, acting_user=world.dept_analyst)
    CustodyEvent.objects.filter(pk=step.pk).update(at=step.at - dt.timedelta(days=3))  # checked three days ago
    assert state_of(proxy_log).checked_at == step.at - dt.timedelta(days=3)
    steps = CustodyEvent.objects.count()
    response = api(world.auditor).get(f"/api/incidents/{incident.pk}/evidence/{proxy_log.pk}/download/")
    assert response.status_code == 200 and response["X-Khien-Integrity"] == "intact"
    state = state_of(proxy_log)
    assert state.state == "verified" and timezone.now() - state.checked_at < dt.timedelta(minutes=1)
    assert CustodyEvent.objects.count() == steps
    data = api(world.auditor).get(f"/api/incidents/{incident.pk}/evidence/").json()
    assert data[0]["integrity"]["state"] == "verified"


def test_a_change_found_after_an_intact_download_is_recorded_again(world, client, incident, proxy_log, settings):
    path = settings.MEDIA_ROOT / proxy_log.file.name
    path.write_bytes(CONTENT + b"# appended\n")
    client.force_login(world.responder)
    assert client.get(f"/incidents/evidence/{proxy_log.pk}/download/").status_code == 409
    path.write_bytes(CONTENT)  # the operator put the file back
    downloaded(client, proxy_log)
    assert state_of(proxy_log).state == "verified"
    path.write_bytes(CONTENT + b"# appended\n")  # changed the same way again: a new finding, recorded again
    assert client.get(f"/incidents/evidence/{proxy_log.pk}/download/").status_code == 409
    assert list(proxy_log.custody.filter(action="content_changed").values_list("action", flat=True)) == [
        "content_changed", "content_changed"]
    assert state_of(proxy_log).state == "content_changed"


def test_a_refused_download_verifies_nothing(world, client, as_user, incident, proxy_log):
    other = as_user(world.other_admin)  # another organization: the incident is not there for it
    before = AuditEntry.objects.exclude(action="login").count()
    assert other.get(f"/incidents/evidence/{proxy_log.pk}/download/").status_code == 404
    assert AuditEntry.objects.exclude(action="login").count() == before
    assert state_of(proxy_log).state == "unverified"
