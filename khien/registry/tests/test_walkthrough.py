"""Problems found in a browser walkthrough (re-import of an export, deleting organizations, form errors in one
round, a level proposed below the suggestion, a readable export)."""
import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from khien.core.errors import Forbidden, Refused
from khien.registry import imports, services
from khien.registry.models import ImportStatus, InformationSystem, LevelStatus, Membership, Organization

SYSTEMS = "/api/registry/systems/"
ORGS = "/api/registry/organizations/"
LEVEL1 = {"system_kind": "internal_admin", "data_kind": "internal", "data_volume": "none",
          "served_scope": "internal", "impact": "organization"}
LEVEL4 = dict(LEVEL1, served_scope="nationwide")  # citizens and businesses nationwide: level 4


@pytest.fixture(autouse=True)
def _sync(settings):
    settings.KHIEN_IMPORT_SYNC = True


def _import(kind, content, user, name="f.csv"):
    return imports.start_import(kind, SimpleUploadedFile(name, content), acting_user=user)


def _csv_rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def _csv_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
def outside_operated(world):
    """A system of the ministry operated by an organization outside the ministry's tree (RESP)."""
    return services.do_create_system({"code": "SYS-OUT", "name": "Cổng", "owner": world.ministry,
                                      "operator": world.responder_org, "criteria": LEVEL1},
                                     acting_user=world.coordinator)


# --- 1. References the object has already may stay --------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_own_export_with_an_outside_operator_imports_back(world, outside_operated, fmt):
    content, _t, name = imports.export_file("systems", InformationSystem.objects.visible_to(world.admin), fmt)
    job = _import("systems", content, world.admin, name)
    assert job.status == ImportStatus.DONE, job.errors
    assert InformationSystem.objects.get(code="SYS-OUT").operator == world.responder_org


def test_naming_a_new_outside_organization_is_refused_alike_whether_it_exists_or_not(world, outside_operated):
    rows = [{"code": "SYS-OUT", "name": "Cổng", "owner_code": "MIN", "operator_code": "PROV"},
            {"code": "SYS-NEW", "name": "Mới", "owner_code": "MIN", "operator_code": "RESP"},
            {"code": "SYS-NEW2", "name": "Mới", "owner_code": "MIN", "operator_code": "NO-SUCH-ORG"}]
    job = _import("systems", _csv_bytes(rows), world.admin)
    assert job.status == ImportStatus.REJECTED
    messages = {e["row"]: e["message"] for e in job.errors}
    assert messages[2] == imports._("No organization with code “%(v)s” that you can see.") % {"v": "PROV"}
    assert messages[3].replace("RESP", "X") == messages[4].replace("NO-SUCH-ORG", "X")  # no probing
    assert InformationSystem.objects.get(code="SYS-OUT").operator == world.responder_org


def test_api_put_keeps_an_outside_operator_but_cannot_choose_one(world, api, outside_operated):
    client = api(world.admin)
    body = client.get(f"{SYSTEMS}{outside_operated.pk}/").json()
    assert body["operator"] == "RESP"
    writable = {k: v for k, v in body.items() if k not in {"gaps", "connected_to_national_monitoring"}}
    response = client.put(f"{SYSTEMS}{outside_operated.pk}/", dict(writable, name="Cổng mới"), format="json")
    assert response.status_code == 200, response.content
    assert InformationSystem.objects.get(pk=outside_operated.pk).name == "Cổng mới"
    other = services.do_create_system({"code": "SYS-MINE", "name": "Của tôi", "owner": world.ministry},
                                      acting_user=world.admin)
    refused = [client.patch(f"{SYSTEMS}{other.pk}/", {"operator": code}, format="json") for code in ("RESP", "NOPE")]
    assert [r.status_code for r in refused] == [400, 400]
    assert (refused[0].json()["operator"][0].replace("RESP", "X")
            == refused[1].json()["operator"][0].replace("NOPE", "X"))
    assert InformationSystem.objects.get(pk=other.pk).operator is None


def test_form_edit_keeps_an_outside_operator(world, as_user, outside_operated):
    client = as_user(world.admin)
    form = client.get(reverse("registry:system_edit", args=[outside_operated.pk])).context["form"]
    assert world.responder_org in form.fields["operator"].queryset
    new = client.get(reverse("registry:system_create")).context["form"]
    assert world.responder_org not in new.fields["operator"].queryset


def test_service_refuses_a_new_operator_the_user_cannot_see(world, outside_operated):
    system = services.do_create_system({"code": "SYS-MINE", "name": "Của tôi", "owner": world.ministry},
                                       acting_user=world.admin)
    with pytest.raises(ValidationError) as exc:
        services.do_update_system(system, {"operator": world.province}, acting_user=world.admin)
    assert "operator" in exc.value.message_dict
    services.do_update_system(outside_operated, {"operator": world.responder_org, "name": "Giữ"},
                              acting_user=world.admin)  # kept: fine


# --- 2. Deleting organizations ----------------------------------------------------------------


def test_org_admin_cannot_delete_their_own_organization(world, api, as_user):
    Membership.objects.filter(organization=world.department).delete()
    services.do_create_organization({"code": "TOP-EMPTY", "name_vi": "Trống", "org_type": "ministry"},
                                    acting_user=world.coordinator)
    Membership.objects.create(user=world.other_admin, organization=Organization.objects.get(code="TOP-EMPTY"),
                              role="org_admin")
    empty_top = Organization.objects.get(code="TOP-EMPTY")
    with pytest.raises(Forbidden):
        services.do_delete_organization(world.ministry, acting_user=world.admin)
    assert api(world.admin).delete(f"{ORGS}{world.ministry.pk}/").status_code == 403
    client = as_user(world.admin)
    page = client.get(reverse("registry:organization_detail", args=[world.ministry.pk]))
    assert reverse("registry:organization_delete", args=[world.ministry.pk]) not in page.content.decode()
    assert client.get(reverse("registry:organization_delete", args=[world.ministry.pk])).status_code == 403
    # Even an empty top-level organization: only the national coordinator.
    Membership.objects.filter(organization=empty_top).delete()
    Membership.objects.create(user=world.admin, organization=empty_top, role="org_admin")
    Membership.objects.filter(organization=empty_top).delete()
    with pytest.raises(Forbidden):
        services.do_delete_organization(empty_top, acting_user=world.other_admin)
    services.do_delete_organization(empty_top, acting_user=world.coordinator)
    # A unit under the administrator's organization, empty: the administrator may.
    services.do_delete_organization(world.department, acting_user=world.admin)
    assert not Organization.objects.filter(pk=world.department.pk).exists()


def test_organization_with_members_systems_or_incidents_cannot_be_deleted(world, make_system):
    from khien.incidents.models import Incident, ReportingPolicy, Taxonomy

    with pytest.raises(Refused) as exc:  # MIN-D1 has a member
        services.do_delete_organization(world.department, acting_user=world.coordinator)
    assert exc.value.code == "in_use"
    Membership.objects.filter(organization=world.department).delete()
    make_system(world.department)
    now = timezone.now()
    policy = ReportingPolicy.objects.create(version="t", title="t", data={}, source_sha256="0" * 64)
    taxonomy = Taxonomy.objects.create(version="t", title="t", data={}, source_sha256="0" * 64)
    Incident.objects.create(reference="TEST-1", organization=world.department, title="Sự cố", detected_at=now,
                            reported_at=now, category="other", severity="low", description="…", policy=policy,
                            taxonomy=taxonomy)
    blocking, _lost = services.organization_dependents(world.department)
    labels = dict(blocking)
    with translation.override("en"):
        blocking, _lost = services.organization_dependents(world.department)
    assert dict(blocking) == {"information systems it owns": 1, "incidents": 1}, labels
    with pytest.raises(Refused):
        services.do_delete_organization(world.department, acting_user=world.coordinator)
    assert Organization.objects.filter(pk=world.department.pk).exists()


def test_confirm_page_lists_what_keeps_the_organization(world, coordinator_client, make_system):
    make_system(world.department)
    url = reverse("registry:organization_delete", args=[world.department.pk])
    response = coordinator_client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="blocking"' in page and "<strong>1</strong>" in page
    assert 'type="submit"' not in page.split('id="blocking"')[1].split("</div>")[0]  # no delete button
    assert reverse("registry:organization_edit", args=[world.department.pk]) in page  # switch it off instead
    assert coordinator_client.post(url).status_code == 400
    assert Organization.objects.filter(pk=world.department.pk).exists()


# --- 3. All the form's errors at once ------------------------------------------------------------


def test_system_form_shows_every_error_in_one_round(world, as_user, make_system):
    from khien.registry.tests.test_views import system_post

    planned = make_system(world.ministry)
    response = as_user(world.admin).post(reverse("registry:system_edit", args=[planned.pk]), system_post(
        world.ministry, code="bad code!", operational_status="in_operation", layer3_status="in_place"))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"code", "operational_status", "layer3_assessed_on"} <= set(errors), errors


def test_model_clean_reports_every_rule(world, make_system):
    system = InformationSystem.objects.get(pk=make_system(world.ministry).pk)  # planned, as stored
    system.operational_status, system.layer3_status = "in_operation", "in_place"
    with pytest.raises(ValidationError) as exc:
        system.clean()
    assert set(exc.value.message_dict) == {"operational_status", "layer3_assessed_on"}


# --- 4. A level below the suggestion needs a justification ---------------------------------------


def test_form_requires_a_justification_below_the_suggestion(world, as_user):
    from khien.registry.tests.test_views import crit, system_post

    client = as_user(world.admin)
    post = system_post(world.ministry, proposed_level="3", **crit(LEVEL4))
    response = client.post(reverse("registry:system_create"), post)
    assert response.status_code == 400
    assert "level_justification" in response.context["form"].errors
    assert not InformationSystem.objects.filter(code="SYS-NEW").exists()
    response = client.post(reverse("registry:system_create"), dict(post, level_justification="Chỉ phục vụ thử nghiệm."))
    assert response.status_code == 302
    system = InformationSystem.objects.get(code="SYS-NEW")
    assert (system.suggested_level, system.proposed_level, system.level_justification) == (
        4, 3, "Chỉ phục vụ thử nghiệm.")
    page = client.get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert 'id="level-justification"' in page and "Chỉ phục vụ thử nghiệm." in page
    # At or above the suggestion: no justification needed.
    assert client.post(reverse("registry:system_create"), system_post(
        world.ministry, code="SYS-AT", proposed_level="4", **crit(LEVEL4))).status_code == 302


def test_api_requires_a_justification_below_the_suggestion(world, api):
    client = api(world.admin)
    body = {"code": "SYS-API", "name": "API", "owner": "MIN", "criteria": LEVEL4, "proposed_level": 3}
    response = client.post(SYSTEMS, body, format="json")
    assert response.status_code == 400 and "level_justification" in response.json(), response.content
    response = client.post(SYSTEMS, dict(body, level_justification="Lý do."), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["level_justification"] == "Lý do."


def test_import_requires_a_justification_below_the_suggestion(world):
    row = {"code": "SYS-IMP", "name": "Nhập", "owner_code": "MIN", "proposed_level": "3",
           **{f"criteria_{k}": v for k, v in LEVEL4.items()}}
    job = _import("systems", _csv_bytes([row]), world.admin)
    assert job.status == ImportStatus.REJECTED
    assert [e["field"] for e in job.errors] == ["level_justification"]
    job = _import("systems", _csv_bytes([dict(row, level_justification="Lý do.")]), world.admin)
    assert job.status == ImportStatus.DONE, job.errors
    assert InformationSystem.objects.get(code="SYS-IMP").level_justification == "Lý do."


def test_submit_refuses_a_proposal_below_the_suggestion_without_justification(world):
    system = InformationSystem.objects.create(code="SYS-OLD", name="Cũ", owner=world.ministry, criteria=LEVEL4,
                                              suggested_level=4, proposed_level=3)  # saved before the rule
    system.dossier_files.create(original_name="a.pdf", size=1, sha256="0" * 64, file="dossiers/x")
    with pytest.raises(Refused):
        services.do_level_step(system, "submit", acting_user=world.analyst)
    services.do_update_system(system, {"level_justification": "Lý do."}, acting_user=world.analyst)
    assert services.do_level_step(system, "submit", acting_user=world.analyst).level_status == LevelStatus.SUBMITTED


# --- 5. A readable export that still imports back ---------------------------------------------------


def test_export_values_are_readable_and_read_only_columns_are_ignored(world, make_system):
    system = make_system(world.ministry, layer1_status="in_place", internet_facing=True)
    with translation.override("vi"):
        content, _t, _n = imports.export_file("systems", InformationSystem.objects.filter(pk=system.pk), "csv")
    [row] = _csv_rows(content)
    assert row["layer1_status"] == "Đã triển khai" and row["operational_status"] == "Đang lập kế hoạch / xây dựng"
    assert row["internet_facing"] == "có" and row["level_status"] == "Bản nháp" and row["approved_level"] == ""
    with translation.override("en"):
        content_en, _t, _n = imports.export_file("systems", InformationSystem.objects.filter(pk=system.pk), "csv")
    assert _csv_rows(content_en)[0]["layer1_status"] == "In place"
    # Read back in either language; the read-only columns change nothing and are not an error.
    for data in (content, content_en):
        job = _import("systems", data, world.admin)
        assert job.status == ImportStatus.DONE and job.updated_count == 0, job.errors
    edited = dict(row, approved_level="5", level_status="Đã phê duyệt", layer2_status="Triển khai một phần")
    job = _import("systems", _csv_bytes([edited]), world.admin)
    assert job.status == ImportStatus.DONE and job.updated_count == 1, job.errors
    system.refresh_from_db()
    assert (system.approved_level, system.level_status, system.layer2_status) == (None, "draft", "partial")


def test_template_leaves_out_the_read_only_columns(world, as_user):
    response = as_user(world.admin).get(reverse("registry:import") + "?template=systems")
    header = response.content.decode("utf-8-sig").strip().split(",")
    assert "level_justification" in header and "approved_level" not in header and "level_status" not in header
