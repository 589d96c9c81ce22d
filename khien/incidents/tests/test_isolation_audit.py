"""Cross-organization isolation of incidents: a user of the ministry (MIN) against the province's (PROV) incident.

Every nested route of an incident the user cannot see is a 404 and changes nothing, whatever the role; a task's
owner named by e-mail gets one answer whether the account exists or not (no probing of other organizations'
people).
"""

import pytest

from khien.incidents import services
from khien.incidents.models import Evidence, Incident, IncidentEvent, Observable, Task

pytestmark = pytest.mark.django_db

ROLES = ["analyst", "admin", "auditor", "trainee", "dept_analyst", "responder"]


@pytest.fixture
def foreign(world, report, make_system):
    """PROV's incident with a system, an observable, a task and a file kept as evidence."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    system = make_system(world.province)
    incident = report(org=world.province, user=world.other_admin, systems=[system],
                      observables=[("ipv4", "45.33.21.9")])
    task = services.do_add_task(incident, {"title": "Cô lập máy chủ"}, acting_user=world.other_admin)
    evidence = services.do_add_evidence(incident, acting_user=world.other_admin,
                                        uploaded=SimpleUploadedFile("log.txt", b"secret log"))
    return incident, system, incident.observables.get(), task, evidence


def _counts():
    return (Incident.objects.count(), IncidentEvent.objects.count(), Task.objects.count(),
            Evidence.objects.count(), Observable.objects.count())


def _api_calls(incident, observable, task, evidence):
    base = f"/api/incidents/{incident.pk}/"
    ev = f"{base}evidence/{evidence.pk}/"
    return [
        ("get", base, None), ("get", f"{base}journal/", None), ("get", f"{base}tasks/", None),
        ("get", f"{base}observables/", None), ("get", f"{base}evidence/", None), ("get", f"{ev}download/", None),
        ("get", f"{ev}custody/", None),
        ("post", f"{base}journal/", {"text": "x"}), ("post", f"{base}tasks/", {"title": "x"}),
        ("post", f"{base}tasks/{task.pk}/status/", {"status": "done"}),
        ("post", f"{base}observables/", [{"value": "evil.example"}]),
        ("delete", f"{base}observables/{observable.pk}/", None),
        ("post", f"{base}observables/share/", {"observables": [str(observable.pk)], "tlp": "green",
                                               "collection": str(observable.pk)}),
        ("post", f"{base}transition/", {"status": "triaged"}), ("post", f"{base}stage/", {"stage": "notification"}),
        ("post", f"{base}assign/", {"responder": "RESP"}),
        ("post", f"{base}evidence/", {"note": "x"}), ("post", f"{ev}custody/", {"action": "analysed"}),
        ("post", f"{ev}seal/", {}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_api_every_route_of_a_foreign_incident_is_a_404(world, api, foreign, role):
    incident, _system, observable, task, evidence = foreign
    client = api(getattr(world, role))
    before = _counts()
    for method, url, body in _api_calls(incident, observable, task, evidence):
        response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
        assert response.status_code == 404, (method, url, response.status_code, response.content[:200])
    assert _counts() == before
    # Naming the other organization is answered as naming one that does not exist: refused, nothing listed.
    listed = client.get("/api/incidents/", {"organization": world.province.code})
    assert listed.status_code == 400 and incident.reference not in listed.content.decode()
    stats = client.get("/api/incidents/stats/").json()
    assert incident.reference not in str(stats) and stats["total"] == 0


@pytest.mark.parametrize("role", ROLES)
def test_pages_of_a_foreign_incident_are_404s(world, client, foreign, role):
    incident, _system, observable, task, evidence = foreign
    client.force_login(getattr(world, role))
    before = _counts()
    base = f"/incidents/{incident.pk}/"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}report.pdf").status_code == 404
    assert client.get(f"/incidents/evidence/{evidence.pk}/download/").status_code == 404
    for url, data in [(f"{base}transition/", {"status": "triaged"}), (f"{base}comments/", {"text": "x"}),
                      (f"{base}tasks/", {"title": "x"}), (f"{base}tasks/{task.pk}/status/", {"status": "done"}),
                      (f"{base}assign/", {"responder": str(world.responder_org.pk)}),
                      (f"{base}evidence/", {"note": "x"}),
                      (f"{base}evidence/{evidence.pk}/custody/", {"action": "analysed"}),
                      (f"{base}evidence/{evidence.pk}/seal/", {}), (f"{base}observables/", {"obs-observables": "1.2.3.4"}),
                      (f"{base}observables/{observable.pk}/remove/", {}),
                      (f"{base}stages/notification/", {})]:
        assert client.post(url, data).status_code == 404, url
    assert _counts() == before
    for fmt in ("csv", "xlsx"):
        export = client.get("/incidents/", {"format": fmt, "organization": world.province.code})
        assert export.status_code in (200, 400) and incident.reference.encode() not in export.content
        assert client.get("/incidents/", {"format": fmt}).status_code == 200  # its own export is still given
    assert incident.reference.encode() not in client.get("/incidents/stats/").content


def test_nested_objects_of_a_foreign_incident_are_not_reachable_through_ones_own(world, api, report, foreign):
    """Own incident in the path, another organization's evidence, task or observable id after it: 404."""
    _incident, _system, observable, task, evidence = foreign
    own = report()
    client = api(world.analyst)
    base = f"/api/incidents/{own.pk}/"
    assert client.get(f"{base}evidence/{evidence.pk}/download/").status_code == 404
    assert client.post(f"{base}evidence/{evidence.pk}/seal/", {}, format="json").status_code == 404
    assert client.post(f"{base}tasks/{task.pk}/status/", {"status": "done"}, format="json").status_code == 404
    assert client.delete(f"{base}observables/{observable.pk}/").status_code == 404
    share = client.post(f"{base}observables/share/", {"observables": [str(observable.pk)], "tlp": "clear",
                                                      "collection": "0b6f4b3e-7f57-4a46-9c7c-2f0f1a7b3c11"},
                        format="json")
    assert share.status_code == 403
    assert Observable.objects.get(pk=observable.pk).shared_at is None


def test_reporting_with_a_foreign_system_or_for_a_foreign_organization_is_refused(world, api, foreign, incident_content):
    _incident, system, *_ = foreign
    client = api(world.analyst)
    before = _counts()
    body = {"title": "x", "detected_at": "2026-12-01T00:00:00+07:00", "category": "infected-system", "severity": "high",
            "suspected_malicious": True, "impact_beyond_organization": False, "description": "x"}
    with_system = client.post("/api/incidents/", {**body, "organization": world.ministry.code, "systems": [system.code]},
                              format="json")
    assert with_system.status_code == 400 and system.name not in with_system.content.decode()
    for_other = client.post("/api/incidents/", {**body, "organization": world.province.code}, format="json")
    assert for_other.status_code == 400
    assert _counts() == before


def test_a_task_owner_named_by_email_does_not_tell_whether_the_account_exists(world, api, report):
    """An account of another organization, an auditor (who only reads) and an address nobody has get the same
    answer."""
    own = report()
    client = api(world.analyst)
    other = client.post(f"/api/incidents/{own.pk}/tasks/", {"title": "x", "owner": world.other_admin.email},
                        format="json")
    nobody = client.post(f"/api/incidents/{own.pk}/tasks/", {"title": "x", "owner": "no-such-person@test.vn"},
                         format="json")
    auditor = client.post(f"/api/incidents/{own.pk}/tasks/", {"title": "x", "owner": world.auditor.email},
                          format="json")
    assert other.status_code == nobody.status_code == auditor.status_code == 400
    assert other.json() == nobody.json() == auditor.json()
    assert not Task.objects.filter(incident=own).exists()
    mine = client.post(f"/api/incidents/{own.pk}/tasks/", {"title": "x", "owner": world.admin.email}, format="json")
    assert mine.status_code == 201 and mine.json()["owner"] == world.admin.email
