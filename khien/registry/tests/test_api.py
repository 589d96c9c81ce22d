"""The registry API, role by role: what each may read and write, and what it is refused with nothing changed."""
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from khien.core import services as core_services
from khien.core.models import AuditEntry
from khien.registry.models import InformationSystem, Isac, LevelStatus, Membership, Organization, Province, Sector

pytestmark = pytest.mark.django_db

ORGS = "/api/registry/organizations/"
SYSTEMS = "/api/registry/systems/"
LEVEL1 = {"system_kind": "internal_admin", "data_kind": "public", "data_volume": "none",
          "served_scope": "internal", "impact": "organization"}

VISIBLE_ORGS = {
    "coordinator": {"NCSC", "MIN", "MIN-D1", "PROV", "PROV-C1", "RESP"},
    "admin": {"MIN", "MIN-D1"},
    "analyst": {"MIN", "MIN-D1"},
    "auditor": {"MIN", "MIN-D1"},
    "trainee": {"MIN", "MIN-D1"},
    "responder": {"RESP"},
    "other_admin": {"PROV", "PROV-C1"},
}
ROLES = list(VISIBLE_ORGS)
# Rights over the ministry's objects (khien/core/roles.py).
CAN_ADD = {"coordinator", "admin", "analyst"}
CAN_CHANGE = {"coordinator", "admin", "analyst"}
CAN_DELETE = {"coordinator", "admin"}


def audit_len():
    return AuditEntry.objects.count()


@pytest.fixture
def systems(world, make_system):
    return {
        "min": make_system(world.ministry, name="Cổng bộ"),
        "dept": make_system(world.department, name="Quản lý văn bản"),
        "prov": make_system(world.province, name="Dịch vụ công tỉnh"),
    }


def codes(response):
    assert response.status_code == 200, response.content
    return {row["code"] for row in response.json()["results"]}


# --- Authentication ---------------------------------------------------------------


@pytest.mark.parametrize("url", [ORGS, SYSTEMS, "/api/registry/sectors/", "/api/registry/stats/"])
def test_anonymous_is_401_with_token_challenge(api, url):
    response = api().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_bad_and_revoked_tokens_are_401(world, api):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Token khn_not-a-real-key")
    assert client.get(ORGS).status_code == 401
    token, key = core_services.do_create_api_token(world.admin, acting_user=world.admin)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(ORGS).status_code == 200
    core_services.do_revoke_api_token(token, acting_user=world.admin)
    assert client.get(ORGS).status_code == 401


def test_coordinator_token_needs_no_second_factor(world, api):
    response = api(world.coordinator).get(ORGS)
    assert codes(response) == VISIBLE_ORGS["coordinator"]


def test_user_without_membership_sees_nothing(world, api, systems):
    client = api(world.nobody)
    assert codes(client.get(ORGS)) == set()
    assert codes(client.get(SYSTEMS)) == set()


# --- Reading ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_lists_show_only_visible_objects(world, api, systems, who):
    client = api(getattr(world, who))
    assert codes(client.get(ORGS)) == VISIBLE_ORGS[who]
    expected = {s.code for s in systems.values() if s.owner.code in VISIBLE_ORGS[who]}
    assert codes(client.get(SYSTEMS)) == expected


@pytest.mark.parametrize("who", ROLES)
def test_detail_of_another_organization_is_404(world, api, systems, who):
    client = api(getattr(world, who))
    for org in (world.ministry, world.province, world.responder_org):
        response = client.get(f"{ORGS}{org.pk}/")
        assert response.status_code == (200 if org.code in VISIBLE_ORGS[who] else 404)
    for system in systems.values():
        response = client.get(f"{SYSTEMS}{system.pk}/")
        assert response.status_code == (200 if system.owner.code in VISIBLE_ORGS[who] else 404)


def test_system_representation(world, api, make_system):
    system = make_system(world.ministry, operator=world.department, ip_ranges=["10.0.0.0/8"], layer4_status="in_place")
    data = api(world.analyst).get(f"{SYSTEMS}{system.pk}/").json()
    assert data["owner"] == "MIN" and data["operator"] == "MIN-D1"
    assert data["ip_ranges"] == ["10.0.0.0/8"]
    assert data["connected_to_national_monitoring"] is True
    assert "level_unapproved" in data["gaps"] and "layer4_missing" not in data["gaps"]
    assert data["level_status"] == "draft" and data["criteria"] == {}


def test_operator_organization_reads_but_cannot_write(world, api, make_system):
    system = make_system(world.province, operator=world.ministry)
    client = api(world.admin)
    assert client.get(f"{SYSTEMS}{system.pk}/").status_code == 200
    before = audit_len()
    response = client.patch(f"{SYSTEMS}{system.pk}/", {"purpose": "x"}, format="json")
    assert response.status_code == 403
    assert InformationSystem.objects.get(pk=system.pk).purpose == ""
    assert audit_len() == before


def test_reference_data_is_read_only(world, api):
    client = api(world.trainee)
    sectors = client.get("/api/registry/sectors/").json()
    assert sectors["count"] == Sector.objects.count() > 0
    assert client.get("/api/registry/provinces/").json()["count"] == Province.objects.count() == 34
    fw = client.get("/api/registry/level-frameworks/2026.1/").json()
    assert fw["is_current"] and fw["data"]["questions"]
    assert client.post("/api/registry/sectors/", {"code": "x"}, format="json").status_code == 405
    code = Sector.objects.first().code
    assert client.delete(f"/api/registry/sectors/{code}/").status_code == 405


# --- Writing systems --------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_create_system_per_role(world, api, who):
    client = api(getattr(world, who))
    before = audit_len()
    response = client.post(SYSTEMS, {"code": "SYS-API", "name": "Hệ thống API", "owner": "MIN",
                                     "ip_ranges": ["203.0.113.0/24"]}, format="json")
    if who in CAN_ADD:
        assert response.status_code == 201, response.content
        system = InformationSystem.objects.get(code="SYS-API")
        assert system.owner == world.ministry and response.json()["id"] == str(system.pk)
        assert audit_len() == before + 1
    else:
        # Roles without any right to add are 403; a user who cannot see MIN gets 400 on the owner code.
        assert response.status_code in (400, 403)
        if who == "other_admin":
            assert response.status_code == 400 and "owner" in response.json()
        else:
            assert response.status_code == 403
        assert not InformationSystem.objects.filter(code="SYS-API").exists()
        assert audit_len() == before


@pytest.mark.parametrize("who", ROLES)
def test_update_system_per_role(world, api, systems, who):
    client = api(getattr(world, who))
    system = systems["min"]
    before = audit_len()
    response = client.patch(f"{SYSTEMS}{system.pk}/", {"purpose": "Cập nhật"}, format="json")
    if who in CAN_CHANGE:
        assert response.status_code == 200, response.content
        assert response.json()["purpose"] == "Cập nhật"
        assert audit_len() == before + 1
    else:
        assert response.status_code == (403 if "MIN" in VISIBLE_ORGS[who] else 404)
        assert InformationSystem.objects.get(pk=system.pk).purpose == ""
        assert audit_len() == before


@pytest.mark.parametrize("who", ROLES)
def test_delete_system_per_role(world, api, systems, who):
    client = api(getattr(world, who))
    system = systems["min"]
    before = audit_len()
    response = client.delete(f"{SYSTEMS}{system.pk}/")
    if who in CAN_DELETE:
        assert response.status_code == 204
        assert not InformationSystem.objects.filter(pk=system.pk).exists()
        assert audit_len() == before + 1
    else:
        assert response.status_code == (403 if "MIN" in VISIBLE_ORGS[who] else 404)
        assert InformationSystem.objects.filter(pk=system.pk).exists()
        assert audit_len() == before


def test_a_system_on_record_is_not_deleted_via_api(world, api, make_system):
    from .test_views import submitted_system

    system = submitted_system(world, make_system)
    admin = api(world.admin)
    before = audit_len()
    response = admin.delete(f"{SYSTEMS}{system.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "on_record"
    assert InformationSystem.objects.filter(pk=system.pk).exists() and audit_len() == before


def test_writes_to_another_organization_are_refused(world, api, systems):
    client = api(world.admin)
    target = systems["prov"]
    before = audit_len()
    assert client.patch(f"{SYSTEMS}{target.pk}/", {"purpose": "x"}, format="json").status_code == 404
    assert client.put(f"{SYSTEMS}{target.pk}/", {"code": target.code, "name": "x", "owner": "MIN"},
                      format="json").status_code == 404
    assert client.delete(f"{SYSTEMS}{target.pk}/").status_code == 404
    assert client.post(f"{SYSTEMS}{target.pk}/level/submit/", {}, format="json").status_code == 404
    # Moving one's own system to another organization is refused too.
    mine = systems["min"]
    response = client.patch(f"{SYSTEMS}{mine.pk}/", {"owner": "PROV"}, format="json")
    assert response.status_code == 400 and "owner" in response.json()
    assert client.patch(f"{ORGS}{world.province.pk}/", {"hotline": "1"}, format="json").status_code == 404
    assert client.delete(f"{ORGS}{world.commune.pk}/").status_code == 404
    target.refresh_from_db()
    assert target.purpose == "" and target.name != "x"
    assert InformationSystem.objects.get(pk=mine.pk).owner == world.ministry
    assert Organization.objects.get(pk=world.province.pk).hotline == ""
    assert Organization.objects.filter(pk=world.commune.pk).exists()
    assert audit_len() == before


@pytest.mark.parametrize("payload,field", [
    ({"ip_ranges": ["10.0.0.0/33"]}, "ip_ranges"),
    ({"ip_ranges": "10.0.0.0/8"}, "ip_ranges"),
    ({"domains": ["bad domain"]}, "domains"),
    ({"products": ["nginx 1.2"]}, "products"),
    ({"products": [1, 2]}, "products"),
    ({"proposed_level": 7}, "proposed_level"),
    ({"proposed_level": "high"}, "proposed_level"),
    ({"owner": "NO-SUCH-ORG"}, "owner"),
    ({"operator": "PROV"}, "operator"),
    ({"criteria": ["a", "b"]}, "criteria"),
    ({"criteria": {"system_kind": "internal_admin"}}, "criteria"),
    ({"operational_status": "running"}, "operational_status"),
    ({"layer3_status": "in_place"}, "layer3_assessed_on"),
    ({"layer3_assessed_on": "31/12/2025"}, "layer3_assessed_on"),
    ({"code": "has space"}, "code"),
    ({"important_to_national_security": "maybe"}, "important_to_national_security"),
])
def test_validation_errors_name_the_field(world, api, payload, field):
    client = api(world.analyst)
    before = audit_len()
    body = {"code": "SYS-V", "name": "Hệ thống", "owner": "MIN", **payload}
    response = client.post(SYSTEMS, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not InformationSystem.objects.filter(name="Hệ thống").exists()
    assert audit_len() == before


def test_duplicate_code_is_400(world, api, systems):
    response = api(world.analyst).post(SYSTEMS, {"code": systems["min"].code, "name": "x", "owner": "MIN"},
                                       format="json")
    assert response.status_code == 400 and "code" in response.json()


def test_malformed_and_oversized_bodies_are_4xx(world, api, settings):
    client = api(world.analyst)
    response = client.generic("POST", SYSTEMS, b'{"code": "X", "name":', content_type="application/json")
    assert response.status_code == 400
    response = client.generic("POST", SYSTEMS, b"[1, 2, 3]", content_type="application/json")
    assert response.status_code == 400
    response = client.generic("POST", SYSTEMS, b"\xff\xfe\x00garbage", content_type="application/json")
    assert response.status_code == 400
    response = client.generic("POST", SYSTEMS, b"[" * 100000 + b"]" * 100000, content_type="application/json")
    assert response.status_code in (400, 413)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"code": "SYS-BIG", "name": "x", "owner": "MIN", "purpose": "a" * 5000})
    response = client.generic("POST", SYSTEMS, body, content_type="application/json")
    assert response.status_code == 413
    assert not InformationSystem.objects.filter(code__in=["X", "SYS-BIG"]).exists()


def test_full_update_with_put(world, api, systems):
    system = systems["min"]
    client = api(world.admin)
    body = client.get(f"{SYSTEMS}{system.pk}/").json()
    body.update({"name": "Tên mới", "domains": ["Portal.Example.VN"], "criteria": LEVEL1, "proposed_level": 1})
    response = client.put(f"{SYSTEMS}{system.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    system.refresh_from_db()
    assert system.name == "Tên mới" and system.domains == ["portal.example.vn"]
    assert system.suggested_level == 1 and system.framework.version == "2026.1"


# --- Organizations ----------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_create_organization_per_role(world, api, who):
    client = api(getattr(world, who))
    before = audit_len()
    sector = Sector.objects.first()
    province = Province.objects.first()
    response = client.post(ORGS, {"code": "MIN-NEW", "name_vi": "Cục mới", "org_type": "agency", "parent": "MIN",
                                  "province": province.code, "sectors": [sector.code]}, format="json")
    if who in CAN_ADD:
        assert response.status_code == 201, response.content
        org = Organization.objects.get(code="MIN-NEW")
        assert org.parent == world.ministry and org.province == province
        assert list(org.sectors.all()) == [sector]
        assert response.json()["sectors"] == [sector.code]
        assert audit_len() == before + 1
    else:
        assert response.status_code == (400 if who == "other_admin" else 403)
        assert not Organization.objects.filter(code="MIN-NEW").exists()
        assert audit_len() == before


def test_top_level_organization_only_by_coordinator(world, api):
    body = {"code": "NEW-MIN", "name_vi": "Bộ mới", "org_type": "ministry"}
    assert api(world.admin).post(ORGS, body, format="json").status_code == 403
    assert api(world.coordinator).post(ORGS, body, format="json").status_code == 201


@pytest.mark.parametrize("who", ROLES)
def test_update_and_delete_organization_per_role(world, api, who):
    Membership.objects.filter(organization=world.department).delete()  # a unit with members cannot be deleted
    client = api(getattr(world, who))
    before = audit_len()
    response = client.patch(f"{ORGS}{world.department.pk}/", {"hotline": "1900 1234"}, format="json")
    if who in CAN_CHANGE:
        assert response.status_code == 200
        assert Organization.objects.get(pk=world.department.pk).hotline == "1900 1234"
    else:
        assert response.status_code == (403 if "MIN-D1" in VISIBLE_ORGS[who] else 404)
        assert Organization.objects.get(pk=world.department.pk).hotline == ""
        assert audit_len() == before
    response = client.delete(f"{ORGS}{world.department.pk}/")
    if who in CAN_DELETE:
        assert response.status_code == 204
        assert not Organization.objects.filter(pk=world.department.pk).exists()
    else:
        assert response.status_code == (403 if "MIN-D1" in VISIBLE_ORGS[who] else 404)
        assert Organization.objects.filter(pk=world.department.pk).exists()


def test_organization_move_via_api(world, api):
    client = api(world.coordinator)
    response = client.patch(f"{ORGS}{world.department.pk}/", {"parent": "PROV"}, format="json")
    assert response.status_code == 200
    assert Organization.objects.get(pk=world.department.pk).path.startswith(world.province.path)
    response = client.patch(f"{ORGS}{world.province.pk}/", {"parent": "MIN-D1"}, format="json")
    assert response.status_code == 400 and "parent" in response.json()


def test_organization_with_units_cannot_be_deleted(world, api):
    client = api(world.coordinator)
    before = audit_len()
    response = client.delete(f"{ORGS}{world.ministry.pk}/")
    assert response.status_code == 400 and response.json()["detail"]
    assert Organization.objects.filter(pk=world.ministry.pk).exists()
    assert audit_len() == before


def test_organization_that_data_refers_to_is_switched_off_not_deleted(world, api):
    """An alert source (or an incident, intelligence, an ISAC it operates) keeps its organization: a 400 naming
    them, nothing changed (this answered 500)."""
    from khien.telemetry import services as telemetry_services

    telemetry_services.do_create_source(world.commune, "fw-commune", "cef", acting_user=world.coordinator)
    client = api(world.coordinator)
    before = audit_len()
    response = client.delete(f"{ORGS}{world.commune.pk}/")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "in_use" and "nguồn cảnh báo" in response.json()["detail"]
    assert Organization.objects.filter(pk=world.commune.pk).exists() and audit_len() == before


# --- Pagination, filters, ordering ------------------------------------------------


def test_pagination_shape_and_limit_offset(world, api, make_system):
    for _ in range(5):
        make_system(world.ministry)
    client = api(world.admin)
    data = client.get(SYSTEMS, {"limit": 2, "offset": 2}).json()
    assert set(data) == {"count", "next", "previous", "results"}
    assert data["count"] == 5 and len(data["results"]) == 2
    assert "limit=2" in data["next"] and "offset=4" in data["next"]
    assert data["previous"] is not None
    everything = [r["code"] for r in client.get(SYSTEMS, {"limit": 100}).json()["results"]]
    assert [r["code"] for r in data["results"]] == everything[2:4]
    last = client.get(SYSTEMS, {"limit": 2, "offset": 4}).json()
    assert last["next"] is None and len(last["results"]) == 1
    orgs = client.get(ORGS).json()
    assert set(orgs) == {"count", "next", "previous", "results"}


def test_filters_and_ordering(world, api, make_system):
    hanoi, hue = Province.objects.order_by("code")[:2]
    Organization.objects.filter(pk=world.ministry.pk).update(province=hanoi)
    Organization.objects.filter(pk=world.department.pk).update(province=hue)
    make_system(world.ministry, code="A-APPROVED", name="Cổng thanh toán", approved_level=3,
                proposed_level=3, level_status=LevelStatus.APPROVED)
    make_system(world.ministry, code="B-SUBMITTED", name="Thư điện tử", proposed_level=2,
                level_status=LevelStatus.SUBMITTED)
    make_system(world.department, code="C-DRAFT", name="Văn bản")
    make_system(world.province, code="D-OTHER", name="Cổng tỉnh", approved_level=3, level_status=LevelStatus.APPROVED)
    client = api(world.admin)
    assert codes(client.get(SYSTEMS, {"level": 3})) == {"A-APPROVED"}
    assert codes(client.get(SYSTEMS, {"level_status": "submitted"})) == {"B-SUBMITTED"}
    assert codes(client.get(SYSTEMS, {"q": "cổng"})) == {"A-APPROVED"}
    assert codes(client.get(SYSTEMS, {"province": hue.code})) == {"C-DRAFT"}
    assert codes(client.get(SYSTEMS, {"owner": "MIN-D1"})) == {"C-DRAFT"}
    assert codes(client.get(ORGS, {"province": hanoi.code})) == {"MIN"}
    assert codes(client.get(ORGS, {"q": "D1"})) == {"MIN-D1"}
    ordered = client.get(SYSTEMS, {"ordering": "-code"}).json()["results"]
    assert [r["code"] for r in ordered] == ["C-DRAFT", "B-SUBMITTED", "A-APPROVED"]
    assert client.get(SYSTEMS, {"level": 9}).status_code == 400
    assert client.get(SYSTEMS, {"level_status": "nonsense"}).status_code == 400


# --- Workflow ---------------------------------------------------------------------


def test_level_workflow_via_api(world, api, head):
    analyst, admin, auditor, head = api(world.analyst), api(world.admin), api(world.auditor), api(head)
    response = analyst.post(SYSTEMS, {"code": "SYS-WF", "name": "Quy trình", "owner": "MIN",
                                      "criteria": LEVEL1, "proposed_level": 1}, format="json")
    assert response.status_code == 201
    assert response.json()["suggested_level"] == 1
    url = f"{SYSTEMS}{response.json()['id']}/"

    # Without a dossier the submission is refused.
    response = analyst.post(url + "level/submit/", {}, format="json")
    assert response.status_code == 400 and response.json()["detail"]
    pdf = SimpleUploadedFile("ho-so.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    assert auditor.post(url + "dossier/", {"file": pdf}, format="multipart").status_code == 403
    pdf.seek(0)
    response = analyst.post(url + "dossier/", {"file": pdf}, format="multipart")
    assert response.status_code == 201 and response.json()["size"] == 13
    assert analyst.post(url + "dossier/", {}, format="multipart").status_code == 400
    assert len(analyst.get(url + "dossier/").json()) == 1

    assert auditor.post(url + "level/submit/", {}, format="json").status_code == 403
    response = analyst.post(url + "level/submit/", {}, format="json")
    assert response.status_code == 200 and response.json()["level_status"] == "submitted"
    assert analyst.post(url + "level/submit/", {}, format="json").status_code == 409
    assert analyst.post(url + "level/appraise/", {"note": "ok"}, format="json").status_code == 403
    response = admin.post(url + "level/appraise/", {"note": "Đạt yêu cầu"}, format="json")
    assert response.status_code == 200 and response.json()["appraisal_opinion"] == "Đạt yêu cầu"

    before = audit_len()
    today = timezone.localdate().isoformat()
    response = admin.post(url + "level/approve/", {"decision_number": "1/QĐ", "decision_date": today}, format="json")
    assert response.status_code == 403  # four eyes: the appraiser does not approve too
    response = head.post(url + "level/approve/", {"decision_number": "", "decision_date": "2026-01-05"}, format="json")
    assert response.status_code == 400
    response = head.post(url + "level/approve/", {"decision_number": "1/QĐ", "decision_date": "05/01/2026"},
                          format="json")
    assert response.status_code == 400 and "decision_date" in response.json()
    future = (timezone.localdate().replace(year=timezone.localdate().year + 1)).isoformat()
    assert head.post(url + "level/approve/", {"decision_number": "1/QĐ", "decision_date": future},
                      format="json").status_code == 400
    assert audit_len() == before
    response = head.post(url + "level/approve/", {"decision_number": "1/QĐ", "decision_date": today}, format="json")
    assert response.status_code == 200
    assert response.json()["approved_level"] == 1 and response.json()["decision_number"] == "1/QĐ"
    assert audit_len() == before + 1

    events = analyst.get(url + "events/").json()
    assert [e["action"] for e in events] == ["submit", "appraise", "approve"]
    assert events[0]["actor_email"] == world.analyst.email
    assert analyst.post(url + "level/publish/", {}, format="json").status_code == 404
    # Level fields are not writable directly.
    response = admin.patch(url, {"level_status": "draft", "approved_level": 5}, format="json")
    system = InformationSystem.objects.get(code="SYS-WF")
    assert system.level_status == "approved" and system.approved_level == 1


# --- ISACs, memberships, stats, exports, imports, schema -----------------------


def test_isacs(world, api):
    body = {"code": "ISAC-MIN", "name_vi": "ISAC Bộ", "operator": "MIN", "members": ["MIN", "MIN-D1"]}
    assert api(world.analyst).post("/api/registry/isacs/", body, format="json").status_code == 403
    response = api(world.admin).post("/api/registry/isacs/", body, format="json")
    assert response.status_code == 201, response.content
    isac = Isac.objects.get(code="ISAC-MIN")
    assert {o.code for o in isac.members.all()} == {"MIN", "MIN-D1"}
    assert api(world.other_admin).get(f"/api/registry/isacs/{isac.pk}/").status_code == 404
    assert api(world.other_admin).patch(f"/api/registry/isacs/{isac.pk}/", {"description": "x"},
                                        format="json").status_code == 404
    response = api(world.auditor).patch(f"/api/registry/isacs/{isac.pk}/", {"description": "x"}, format="json")
    assert response.status_code == 403
    response = api(world.admin).patch(f"/api/registry/isacs/{isac.pk}/", {"description": "Cộng đồng"}, format="json")
    assert response.status_code == 200 and Isac.objects.get(pk=isac.pk).description == "Cộng đồng"


def test_memberships(world, api):
    url = "/api/registry/memberships/"
    admin = api(world.admin)
    listed = {(m["organization"], m["user"]) for m in admin.get(url).json()["results"]}
    assert ("MIN", world.analyst.email) in listed
    assert not any(org == "PROV" for org, _u in listed)
    assert api(world.analyst).get(url).json()["count"] == 0
    analyst, other_admin = api(world.analyst), api(world.other_admin)
    before = audit_len()
    body = {"organization": "MIN-D1", "user": world.nobody.email, "role": "org_analyst"}
    assert analyst.post(url, body, format="json").status_code == 403
    response = admin.post(url, {**body, "organization": "PROV"}, format="json")
    assert response.status_code == 400 and "organization" in response.json()
    response = admin.post(url, {**body, "role": "national_coordinator"}, format="json")
    assert response.status_code == 403
    assert audit_len() == before
    response = admin.post(url, body, format="json")
    assert response.status_code == 201
    membership = Membership.objects.get(user=world.nobody)
    assert admin.post(url, body, format="json").status_code == 409  # already a member (the service's answer)
    response = admin.patch(f"{url}{membership.pk}/", {"role": "auditor"}, format="json")
    assert response.status_code == 200 and Membership.objects.get(pk=membership.pk).role == "auditor"
    assert other_admin.delete(f"{url}{membership.pk}/").status_code == 404
    assert admin.delete(f"{url}{membership.pk}/").status_code == 204
    assert not Membership.objects.filter(user=world.nobody).exists()
    # Given, changed, removed; and the removal of the person's only role closed their account.
    assert audit_len() == before + 4


def test_stats(world, api, systems):
    data = api(world.admin).get("/api/registry/stats/").json()
    assert isinstance(data, dict) and data


def test_export_via_api_is_scoped(world, api, systems):
    response = api(world.admin).get(SYSTEMS + "export/", {"file_format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert systems["min"].code in text and systems["prov"].code not in text
    response = api(world.admin).get(ORGS + "export/", {"file_format": "xlsx", "q": "D1"})
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert api(world.admin).get(SYSTEMS + "export/", {"file_format": "pdf"}).status_code == 400


def test_import_via_api(world, api, settings):
    settings.KHIEN_IMPORT_SYNC = True
    csv_file = SimpleUploadedFile("orgs.csv", "code,name_vi,org_type,parent_code\nMIN-API,Cục API,agency,MIN\n"
                                  .encode(), content_type="text/csv")
    response = api(world.admin).post("/api/registry/imports/", {"kind": "organizations", "file": csv_file},
                                     format="multipart")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "done" and response.json()["created_count"] == 1
    assert Organization.objects.get(code="MIN-API").parent == world.ministry
    job_url = f"/api/registry/imports/{response.json()['id']}/"
    assert api(world.admin).get(job_url).status_code == 200
    assert api(world.coordinator).get(job_url).status_code == 404  # a job belongs to whoever started it
    bad = SimpleUploadedFile("x.csv", b"nope,columns\n1,2\n")
    response = api(world.admin).post("/api/registry/imports/", {"kind": "organizations", "file": bad},
                                     format="multipart")
    assert response.status_code == 400 and "nope" in response.json()["detail"]
    csv_file = SimpleUploadedFile("orgs.csv", b"code,name_vi,org_type,parent_code\nMIN-X,X,agency,MIN\n")
    response = api(world.analyst).post("/api/registry/imports/", {"kind": "organizations", "file": csv_file},
                                       format="multipart")
    assert response.status_code == 403


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/registry/systems/{id}/level/{step}/" in text
    assert "tokenAuth" in text


def test_schema_and_docs_are_served(api):
    client = api()
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_control_characters_in_text_are_refused(world, api):
    """A bell or an escape in a name or a hotline is a 400 naming the field, in Vietnamese; tabs and line breaks in
    an address are text."""
    client = api(world.admin)
    before = audit_len()
    for field, value in (("hotline", "028\u0007 1234"), ("name_vi", "Cục\u001b[31m"), ("address", "a\u0000b")):
        response = client.patch(f"{ORGS}{world.department.pk}/", {field: value}, format="json")
        assert response.status_code == 400 and field in response.json(), (field, response.content)
    assert "ký tự điều khiển" in str(client.patch(f"{ORGS}{world.department.pk}/", {"hotline": "\u0007"},
                                                  format="json").json())
    assert audit_len() == before
    ok = client.patch(f"{ORGS}{world.department.pk}/", {"address": "Tầng 3\n\t12 Phố Huế"}, format="json")
    assert ok.status_code == 200 and Organization.objects.get(pk=world.department.pk).address == "Tầng 3\n\t12 Phố Huế"


def test_dates_outside_the_platforms_years_are_refused(world, api, make_system):
    """Year 1 and 9999 were accepted (200); dates are held to the years of `core.timerange`, as date-times are."""
    system = make_system(world.ministry)
    client = api(world.admin)
    before = audit_len()
    for field in ("layer3_assessed_on", "layer4_connected_on"):
        for value in ("0001-01-01", "9999-12-31", "1969-12-31"):
            response = client.patch(f"{SYSTEMS}{system.pk}/", {field: value}, format="json")
            assert response.status_code == 400 and field in response.json(), (field, value, response.content)
    assert audit_len() == before
    system.refresh_from_db()
    assert system.layer3_assessed_on is None and system.layer4_connected_on is None
    response = client.patch(f"{SYSTEMS}{system.pk}/", {"layer4_connected_on": "2024-05-01"}, format="json")
    assert response.status_code == 200 and response.json()["layer4_connected_on"] == "2024-05-01"


def test_a_level_decision_dated_year_one_is_refused(world, api, make_system):
    # Appraised, so that the step may be taken and the input is judged (the state is judged before it).
    system = make_system(world.ministry, level_status=LevelStatus.APPRAISED, proposed_level=2)
    response = api(world.coordinator).post(f"{SYSTEMS}{system.pk}/level/approve/",
                                           {"decision_number": "1/QĐ", "decision_date": "0001-01-01"}, format="json")
    assert response.status_code == 400 and "decision_date" in response.json()
    system.refresh_from_db()
    assert system.decision_date is None


def test_an_administrator_cannot_switch_off_their_own_organization_via_api(world, api):
    admin, coordinator = api(world.admin), api(world.coordinator)
    before = audit_len()
    response = admin.patch(f"{ORGS}{world.ministry.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 403 and response.json()["detail"]
    assert Organization.objects.get(pk=world.ministry.pk).is_active and audit_len() == before
    response = admin.patch(f"{ORGS}{world.department.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    response = coordinator.patch(f"{ORGS}{world.ministry.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
