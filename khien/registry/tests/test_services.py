"""The registry services' rules: rights per role, the organization tree, the level workflow, the audit trail."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.registry import services
from khien.registry.models import InformationSystem, LevelEvent, LevelStatus, Membership, Organization

pytestmark = pytest.mark.django_db

BASE_ANSWERS = {"system_kind": "internal_admin", "data_kind": "public", "data_volume": "none",
                "served_scope": "internal", "impact": "organization"}
KIND_FOR_LEVEL = {1: "internal_admin", 2: "public_service", 3: "sector_operations", 4: "national_platform"}


def answers(level):
    a = dict(BASE_ANSWERS)
    if level == 5:
        a["impact"] = "national_security_severe"
    else:
        a["system_kind"] = KIND_FOR_LEVEL[level]
    return a


def audit_len():
    return AuditEntry.objects.count()


def refused(exc_info, status):
    assert exc_info.value.status == status, exc_info.value.message


@pytest.fixture
def proposal(world):
    """A draft system of the ministry with criteria, proposed level and a dossier file, ready to submit."""

    def make(level=1, owner=None, code=None):
        owner = owner or world.ministry
        system = services.do_create_system(
            {"code": code or f"SYS-L{level}", "name": f"Hệ thống cấp {level}", "owner": owner,
             "criteria": answers(level), "proposed_level": level},
            acting_user=world.coordinator,
        )
        services.do_add_dossier_file(system, SimpleUploadedFile("ho-so.pdf", b"%PDF-1.4 dossier"),
                                     acting_user=world.coordinator)
        return system

    return make


def step(system, name, user, **kwargs):
    return services.do_level_step(system, name, acting_user=user, **kwargs)


def approve_kwargs(**extra):
    return {"decision_number": "123/QĐ-BTTTT", "decision_date": timezone.localdate(), **extra}


# --- Organizations ------------------------------------------------------------------


def test_move_rewrites_descendant_paths(world):
    grandchild = services.do_create_organization(
        {"code": "MIN-D1-X", "name_vi": "Phòng X", "org_type": "agency", "parent": world.department},
        acting_user=world.admin)
    assert grandchild.path.startswith(world.department.path)
    before = audit_len()

    services.do_update_organization(world.department, {"parent": world.province}, acting_user=world.coordinator)

    department = Organization.objects.get(pk=world.department.pk)
    grandchild.refresh_from_db()
    assert department.path == f"{world.province.path}{department.id.hex}/"
    assert grandchild.path == f"{department.path}{grandchild.id.hex}/"
    assert audit_len() == before + 1
    # The subtree now belongs to the province: its admin sees it, the ministry's no longer does.
    assert Organization.objects.visible_to(world.other_admin).filter(pk=grandchild.pk).exists()
    assert not Organization.objects.visible_to(world.admin).filter(pk=grandchild.pk).exists()


def test_move_under_own_descendant_is_refused(world):
    before, path = audit_len(), world.ministry.path
    with pytest.raises(ValidationError) as exc:
        services.do_update_organization(world.ministry, {"parent": world.department}, acting_user=world.coordinator)
    assert "parent" in exc.value.message_dict
    world.ministry.refresh_from_db()
    assert world.ministry.path == path and world.ministry.parent_id is None
    assert audit_len() == before


def test_admin_cannot_move_a_unit_into_another_tree(world):
    before = audit_len()
    with pytest.raises(Forbidden):
        services.do_update_organization(world.department, {"parent": world.province}, acting_user=world.admin)
    world.department.refresh_from_db()
    assert world.department.parent_id == world.ministry.pk
    assert audit_len() == before


def test_only_the_coordinator_creates_top_level_organizations(world):
    data = {"code": "NEW-MIN", "name_vi": "Bộ mới", "org_type": "ministry"}
    with pytest.raises(Forbidden):
        services.do_create_organization(data, acting_user=world.admin)
    org = services.do_create_organization(data, acting_user=world.coordinator)
    assert org.parent is None and org.path == f"/{org.id.hex}/"


@pytest.mark.parametrize("who,allowed", [
    ("coordinator", True), ("admin", True), ("analyst", True), ("auditor", False), ("trainee", False),
    ("responder", False), ("other_admin", False), ("nobody", False),
])
def test_create_unit_rights_per_role(world, who, allowed):
    user = getattr(world, who)
    before = audit_len()
    data = {"code": "MIN-NEW", "name_vi": "Đơn vị mới", "org_type": "agency", "parent": world.ministry}
    if allowed:
        org = services.do_create_organization(data, acting_user=user)
        assert org.path.startswith(world.ministry.path)
        assert audit_len() == before + 1
        entry = AuditEntry.objects.order_by("-seq").first()
        assert entry.action == "create" and entry.object_id == str(org.pk) and entry.actor_email == user.email
    else:
        with pytest.raises(Forbidden):
            services.do_create_organization(data, acting_user=user)
        assert not Organization.objects.filter(code="MIN-NEW").exists()
        assert audit_len() == before


@pytest.mark.parametrize("who,allowed", [
    ("coordinator", True), ("admin", True), ("analyst", True), ("dept_analyst", True), ("auditor", False),
    ("trainee", False), ("responder", False), ("other_admin", False),
])
def test_update_organization_rights_per_role(world, who, allowed):
    before = audit_len()
    if allowed:
        services.do_update_organization(world.department, {"hotline": "1900 0001"}, acting_user=getattr(world, who))
        assert Organization.objects.get(pk=world.department.pk).hotline == "1900 0001"
        assert audit_len() == before + 1
        entry = AuditEntry.objects.order_by("-seq").first()
        assert entry.before["hotline"] == "" and entry.after["hotline"] == "1900 0001"
    else:
        with pytest.raises(Forbidden):
            services.do_update_organization(world.department, {"hotline": "1900 0001"}, acting_user=getattr(world, who))
        assert Organization.objects.get(pk=world.department.pk).hotline == ""
        assert audit_len() == before


@pytest.mark.parametrize("field", ["hotline", "duty_officer_phone", "head_phone"])
def test_telephone_fields_take_telephone_numbers(world, field):
    for number in ("113", "+84 24 3943 1234", "(024) 3943-1234", "024.3943.1234 máy lẻ 12"):
        services.do_update_organization(world.department, {field: number}, acting_user=world.admin)
        assert getattr(Organization.objects.get(pk=world.department.pk), field) == number
    before = audit_len()
    for text in ("gọi tôi khi cần", "12", "call 113"):
        with pytest.raises(ValidationError) as exc, translation.override("vi"):
            services.do_update_organization(world.department, {field: text}, acting_user=world.admin)
        assert "số điện thoại" in exc.value.message_dict[field][0]
    assert getattr(Organization.objects.get(pk=world.department.pk), field) == "024.3943.1234 máy lẻ 12"
    assert audit_len() == before


@pytest.mark.parametrize("change", [{"code": "MIN-RENAMED"}, {"is_active": False}])
def test_only_who_may_delete_an_organization_changes_its_code_or_switches_it_off(world, change):
    """Analysts edit an organization's details, not its identity: renaming the code or switching the organization
    off is for its administrators and the coordinator."""
    before = audit_len()
    for analyst in (world.analyst, world.dept_analyst):
        with pytest.raises(Forbidden):
            services.do_update_organization(world.department, dict(change, hotline="1900 0002"), acting_user=analyst)
    department = Organization.objects.get(pk=world.department.pk)
    assert (department.code, department.is_active, department.hotline) == ("MIN-D1", True, "")
    assert audit_len() == before
    # Sent unchanged (a whole form), they are no change; the administrator may change them.
    services.do_update_organization(world.department, {"code": "MIN-D1", "is_active": True, "hotline": "1900 0002"},
                                    acting_user=world.dept_analyst)
    services.do_update_organization(world.department, change, acting_user=world.admin)
    department.refresh_from_db()
    assert (department.code, department.is_active) == (change.get("code", "MIN-D1"), change.get("is_active", True))


def test_delete_organization(world):
    with pytest.raises(Forbidden):  # analysts may add and change, not delete
        services.do_delete_organization(world.department, acting_user=world.analyst)
    with pytest.raises(Refused) as exc:  # still has a unit
        services.do_delete_organization(world.ministry, acting_user=world.coordinator)
    refused(exc, 400)
    Membership.objects.filter(organization=world.department).delete()  # members keep a unit from being deleted
    before = audit_len()
    services.do_delete_organization(world.department, acting_user=world.admin)
    assert not Organization.objects.filter(pk=world.department.pk).exists()
    assert audit_len() == before + 1


def test_organization_with_systems_cannot_be_deleted(world, make_system):
    make_system(world.department)
    with pytest.raises(Refused):
        services.do_delete_organization(world.department, acting_user=world.admin)
    assert Organization.objects.filter(pk=world.department.pk).exists()


# --- Systems ------------------------------------------------------------------------


@pytest.mark.parametrize("who,allowed", [
    ("coordinator", True), ("admin", True), ("analyst", True), ("auditor", False), ("trainee", False),
    ("responder", False), ("other_admin", False), ("dept_analyst", False),
])
def test_create_system_rights_per_role(world, who, allowed):
    before = audit_len()
    data = {"code": "SYS-NEW", "name": "Cổng dịch vụ công", "owner": world.ministry}
    if allowed:
        system = services.do_create_system(data, acting_user=getattr(world, who))
        assert system.level_status == LevelStatus.DRAFT
        assert audit_len() == before + 1
    else:
        with pytest.raises(Forbidden):
            services.do_create_system(data, acting_user=getattr(world, who))
        assert not InformationSystem.objects.filter(code="SYS-NEW").exists()
        assert audit_len() == before


def test_system_criteria_give_a_suggested_level(world):
    system = services.do_create_system(
        {"code": "SYS-C", "name": "C", "owner": world.ministry, "criteria": answers(3), "proposed_level": 3},
        acting_user=world.analyst)
    assert system.suggested_level == 3 and system.framework.version == "2026.1"
    assert "3" in system.suggestion_reason


def test_incomplete_criteria_are_refused(world):
    with pytest.raises(ValidationError) as exc:
        services.do_create_system({"code": "SYS-C", "name": "C", "owner": world.ministry,
                                   "criteria": {"system_kind": "internal_admin"}}, acting_user=world.analyst)
    assert "criteria" in exc.value.message_dict


def test_bad_lists_are_refused_and_nothing_is_written(world):
    before = audit_len()
    for field, value in (("ip_ranges", ["10.0.0.300/8"]), ("domains", ["not a domain"]), ("products", ["nginx"])):
        with pytest.raises(ValidationError) as exc:
            services.do_create_system({"code": "SYS-BAD", "name": "x", "owner": world.ministry, field: value},
                                      acting_user=world.analyst)
        assert field in exc.value.message_dict
    assert not InformationSystem.objects.filter(code="SYS-BAD").exists()
    assert audit_len() == before


def test_lists_are_normalized(world):
    system = services.do_create_system(
        {"code": "SYS-N", "name": "x", "owner": world.ministry, "ip_ranges": ["10.1.2.3/8"],
         "domains": ["Portal.Gov.VN.", "portal.gov.vn"]}, acting_user=world.analyst)
    assert system.ip_ranges == ["10.0.0.0/8"] and system.domains == ["portal.gov.vn"]


@pytest.mark.parametrize("who,allowed", [
    ("admin", True), ("analyst", True), ("auditor", False), ("trainee", False), ("other_admin", False),
    ("responder", False),
])
def test_update_system_rights_per_role(world, make_system, who, allowed):
    system = make_system(world.ministry)
    before = audit_len()
    if allowed:
        services.do_update_system(system, {"purpose": "Mới"}, acting_user=getattr(world, who))
        assert InformationSystem.objects.get(pk=system.pk).purpose == "Mới"
        assert audit_len() == before + 1
    else:
        with pytest.raises(Forbidden):
            services.do_update_system(system, {"purpose": "Mới"}, acting_user=getattr(world, who))
        assert InformationSystem.objects.get(pk=system.pk).purpose == ""
        assert audit_len() == before


def test_operator_may_read_but_not_change(world, make_system):
    system = make_system(world.province, operator=world.ministry)
    assert InformationSystem.objects.visible_to(world.analyst).filter(pk=system.pk).exists()
    with pytest.raises(Forbidden):
        services.do_update_system(system, {"purpose": "x"}, acting_user=world.admin)


def test_moving_a_system_needs_the_right_on_the_new_owner(world, make_system):
    system = make_system(world.ministry)
    with pytest.raises(Forbidden):
        services.do_update_system(system, {"owner": world.province}, acting_user=world.admin)
    assert InformationSystem.objects.get(pk=system.pk).owner_id == world.ministry.pk


def test_delete_system_rights(world, make_system):
    system = make_system(world.ministry)
    with pytest.raises(Forbidden):
        services.do_delete_system(system, acting_user=world.analyst)
    with pytest.raises(Forbidden):
        services.do_delete_system(system, acting_user=world.other_admin)
    before = audit_len()
    services.do_delete_system(system, acting_user=world.admin)
    assert not InformationSystem.objects.filter(pk=system.pk).exists()
    assert audit_len() == before + 1


def test_a_system_whose_level_was_submitted_is_retired_not_deleted(world, proposal, head):
    """Its dossier and the decisions taken on it are the record the appraiser and approver relied on."""
    system = proposal(1)
    step(system, "submit", world.analyst)
    for user in (world.admin, world.coordinator):
        before = audit_len()
        with pytest.raises(Refused) as exc:
            services.do_delete_system(system, acting_user=user)
        refused(exc, 409)
        assert InformationSystem.objects.filter(pk=system.pk).exists() and system.dossier_files.get().file.storage.exists(
            system.dossier_files.get().file.name)
        assert audit_len() == before
    step(system, "appraise", world.admin, note="Đạt")
    step(system, "approve", head, **approve_kwargs())
    step(system, "revise", world.analyst)  # back to draft, the approved level still on record
    with pytest.raises(Refused):
        services.do_delete_system(system, acting_user=world.admin)
    services.do_update_system(system, {"operational_status": "retired"}, acting_user=world.admin)
    assert InformationSystem.objects.get(pk=system.pk).operational_status == "retired"


def test_a_system_already_in_use_is_registered_as_in_operation_with_its_gap(world):
    """The plans ask to classify every system in operation: one running today is registered as it is, and its
    missing approval shows as a gap rather than being hidden behind a false "planned"."""
    system = services.do_create_system({"code": "SYS-OLD", "name": "Cổng cũ", "owner": world.ministry,
                                        "operational_status": "in_operation"}, acting_user=world.admin)
    assert system.operational_status == "in_operation" and system.approved_level is None
    assert "level_unapproved" in system.four_layer_gaps()
    # Suspended for maintenance and resumed: still the same system in use, no new approval asked.
    services.do_update_system(system, {"operational_status": "suspended"}, acting_user=world.admin)
    services.do_update_system(system, {"operational_status": "in_operation"}, acting_user=world.admin)


def test_a_planned_system_is_put_in_operation_only_with_an_approved_level(world, proposal, head):
    system = proposal(1)
    before = audit_len()
    with pytest.raises(ValidationError) as exc:
        services.do_update_system(system, {"operational_status": "in_operation", "purpose": "x" * 3},
                                  acting_user=world.admin)
    assert "operational_status" in exc.value.message_dict
    stored = InformationSystem.objects.get(pk=system.pk)
    assert stored.operational_status == "planned" and stored.purpose != "xxx"
    assert audit_len() == before
    step(system, "submit", world.analyst)
    step(system, "appraise", world.admin, note="Đạt")
    step(system, "approve", head, **approve_kwargs())
    services.do_update_system(system, {"operational_status": "in_operation"}, acting_user=world.admin)
    assert InformationSystem.objects.get(pk=system.pk).operational_status == "in_operation"


# --- Level workflow -----------------------------------------------------------------


def test_full_workflow_levels_1_and_2_by_the_owner(world, proposal, head):
    for level in (1, 2):
        system = proposal(level)
        before = audit_len()
        system = step(system, "submit", world.analyst)
        assert system.level_status == LevelStatus.SUBMITTED
        system = step(system, "appraise", world.admin, note="Hồ sơ đầy đủ")
        assert system.level_status == LevelStatus.APPRAISED and system.appraisal_opinion == "Hồ sơ đầy đủ"
        system = step(system, "approve", head, **approve_kwargs())
        assert system.level_status == LevelStatus.APPROVED and system.approved_level == level
        assert system.decision_number == "123/QĐ-BTTTT"
        assert audit_len() == before + 3
        assert [e.action for e in system.level_events.all()] == ["submit", "appraise", "approve"]
        assert [e.actor_id for e in system.level_events.all()] == [world.analyst.pk, world.admin.pk, head.pk]
        assert "level_unapproved" not in system.four_layer_gaps()


def test_submit_refusals(world, proposal):
    bare = services.do_create_system({"code": "SYS-BARE", "name": "x", "owner": world.ministry},
                                     acting_user=world.analyst)
    before = audit_len()
    with pytest.raises(Refused) as exc:  # no proposed level
        step(bare, "submit", world.analyst)
    refused(exc, 400)
    services.do_update_system(bare, {"proposed_level": 1}, acting_user=world.analyst)
    with pytest.raises(Refused) as exc:  # no criteria
        step(bare, "submit", world.analyst)
    refused(exc, 400)
    services.do_update_system(bare, {"criteria": answers(1)}, acting_user=world.analyst)
    before = audit_len()
    with pytest.raises(Refused) as exc:  # no dossier file
        step(bare, "submit", world.analyst)
    refused(exc, 400)
    assert InformationSystem.objects.get(pk=bare.pk).level_status == LevelStatus.DRAFT
    assert audit_len() == before
    assert not LevelEvent.objects.filter(system=bare).exists()

    system = proposal(1)
    for who in ("auditor", "trainee", "responder", "other_admin"):
        with pytest.raises(Forbidden) as exc:
            step(system, "submit", getattr(world, who))
        refused(exc, 403)
    assert InformationSystem.objects.get(pk=system.pk).level_status == LevelStatus.DRAFT


def test_wrong_state_is_409_and_changes_nothing(world, proposal):
    system = proposal(1)
    before = audit_len()
    for name in ("appraise", "approve", "return", "revise"):
        with pytest.raises(Refused) as exc:
            step(system, name, world.coordinator, note="x", **approve_kwargs())
        refused(exc, 409)
    step(system, "submit", world.analyst)
    for name in ("submit", "approve", "revise"):
        with pytest.raises(Refused) as exc:
            step(system, name, world.coordinator, note="x", **approve_kwargs())
        refused(exc, 409)
    assert InformationSystem.objects.get(pk=system.pk).level_status == LevelStatus.SUBMITTED
    assert audit_len() == before + 1  # only the submission


def test_unknown_step_is_refused(world, proposal):
    with pytest.raises(Refused) as exc:
        step(proposal(1), "publish", world.coordinator)
    refused(exc, 400)


def test_submitter_cannot_appraise_approve_or_return_their_own_submission(world, proposal):
    system = proposal(1)
    step(system, "submit", world.admin)
    before = audit_len()
    for name in ("appraise", "return"):
        with pytest.raises(Forbidden) as exc:
            step(system, name, world.admin, note="x")
        refused(exc, 403)
    step(system, "appraise", world.coordinator, note="Đạt")
    with pytest.raises(Forbidden):
        step(system, "approve", world.admin, **approve_kwargs())
    assert InformationSystem.objects.get(pk=system.pk).level_status == LevelStatus.APPRAISED
    assert audit_len() == before + 1


def test_analyst_cannot_appraise_or_approve(world, proposal):
    system = proposal(1)
    step(system, "submit", world.admin)  # the analyst is not the submitter: the refusal is about the role
    before = audit_len()
    with pytest.raises(Forbidden):
        step(system, "appraise", world.analyst, note="x")
    step(system, "appraise", world.coordinator, note="Đạt")
    for who in ("analyst", "auditor", "other_admin"):
        with pytest.raises(Forbidden):
            step(system, "approve", getattr(world, who), **approve_kwargs())
    assert InformationSystem.objects.get(pk=system.pk).level_status == LevelStatus.APPRAISED
    assert audit_len() == before + 1


def test_level_3_is_appraised_nationally_and_approved_by_the_owner(world, proposal):
    system = proposal(3)
    step(system, "submit", world.analyst)
    with pytest.raises(Forbidden):
        step(system, "appraise", world.admin, note="x")
    step(system, "appraise", world.coordinator, note="Đạt")
    system = step(system, "approve", world.admin, **approve_kwargs())
    assert system.approved_level == 3


@pytest.mark.parametrize("level", [4, 5])
def test_levels_4_and_5_are_appraised_and_approved_nationally(world, proposal, level, deputy_coordinator):
    system = proposal(level)
    step(system, "submit", world.analyst)
    with pytest.raises(Forbidden):
        step(system, "appraise", world.admin, note="x")
    step(system, "appraise", world.coordinator, note="Đạt")
    before = audit_len()
    with pytest.raises(Forbidden):
        step(system, "approve", world.admin, **approve_kwargs())
    with pytest.raises(Forbidden):  # returning at that stage is the approver's too
        step(system, "return", world.admin, note="x")
    assert audit_len() == before
    system = step(system, "approve", deputy_coordinator, **approve_kwargs())
    assert system.approved_level == level and system.level_status == LevelStatus.APPROVED


@pytest.mark.parametrize("level", [1, 4])
def test_the_appraiser_does_not_approve_the_same_proposal(world, proposal, head, deputy_coordinator, level):
    """Four eyes: appraisal checks a proposal before the decision, so another person with the right approves."""
    appraiser, approver = (world.admin, head) if level == 1 else (world.coordinator, deputy_coordinator)
    system = proposal(level)
    step(system, "submit", world.analyst)
    system = step(system, "appraise", appraiser, note="Đạt")
    assert not services.may_take_step(appraiser, system, "approve")  # the page shows no Approve button
    assert services.may_take_step(appraiser, system, "return")  # a second look may still send it back
    before = audit_len()
    with pytest.raises(Forbidden) as exc, translation.override("vi"):
        step(system, "approve", appraiser, **approve_kwargs())
    assert "thẩm định" in str(exc.value)
    fresh = InformationSystem.objects.get(pk=system.pk)
    assert fresh.level_status == LevelStatus.APPRAISED and fresh.approved_level is None and audit_len() == before
    # Returned, then appraised by someone else: the first appraiser may now approve.
    if level == 4:
        step(system, "return", approver, note="Bổ sung")
        step(system, "submit", world.analyst)
        step(system, "appraise", approver, note="Đạt")
        system = step(system, "approve", appraiser, **approve_kwargs())
    else:
        system = step(system, "approve", approver, **approve_kwargs())
    assert system.level_status == LevelStatus.APPROVED and system.approved_level == level


def test_approval_needs_a_decision_number_and_a_past_date(world, proposal, head):
    system = proposal(1)
    step(system, "submit", world.analyst)
    step(system, "appraise", world.admin, note="Đạt")
    before = audit_len()
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    for kwargs in ({"decision_number": "", "decision_date": timezone.localdate()},
                   {"decision_number": "  ", "decision_date": timezone.localdate()},
                   {"decision_number": "12/QĐ", "decision_date": None},
                   {"decision_number": "12/QĐ", "decision_date": tomorrow},
                   # older than the submission it approves (a typo'd year)
                   {"decision_number": "12/QĐ", "decision_date": timezone.localdate() - dt.timedelta(days=400)}):
        with pytest.raises(Refused) as exc:
            step(system, "approve", head, **kwargs)
        refused(exc, 400)
    fresh = InformationSystem.objects.get(pk=system.pk)
    assert fresh.level_status == LevelStatus.APPRAISED and fresh.approved_level is None
    assert audit_len() == before


def test_appraisal_needs_an_opinion(world, proposal):
    system = proposal(1)
    step(system, "submit", world.analyst)
    with pytest.raises(Refused):
        step(system, "appraise", world.admin, note="   ")
    assert InformationSystem.objects.get(pk=system.pk).level_status == LevelStatus.SUBMITTED


def test_return_and_resubmit(world, proposal):
    system = proposal(1)
    step(system, "submit", world.analyst)
    with pytest.raises(Refused):  # a reason is required
        step(system, "return", world.admin, note="")
    system = step(system, "return", world.admin, note="Thiếu sơ đồ mạng")
    assert system.level_status == LevelStatus.RETURNED
    # While returned the proposal may be edited again, then submitted again.
    services.do_update_system(system, {"proposed_level": 2, "criteria": answers(2)}, acting_user=world.analyst)
    system = step(system, "submit", world.analyst)
    assert system.level_status == LevelStatus.SUBMITTED and system.proposed_level == 2
    step(system, "appraise", world.admin, note="Đạt")
    system = step(system, "return", world.admin, note="Sai quyết định")  # from appraised too
    assert system.level_status == LevelStatus.RETURNED


def test_proposal_is_locked_while_under_review(world, proposal):
    system = proposal(1)
    step(system, "submit", world.analyst)
    before = audit_len()
    with pytest.raises(Refused):
        services.do_update_system(system, {"proposed_level": 2}, acting_user=world.admin)
    with pytest.raises(Refused):
        services.do_add_dossier_file(system, SimpleUploadedFile("x.pdf", b"x"), acting_user=world.admin)
    assert InformationSystem.objects.get(pk=system.pk).proposed_level == 1
    assert audit_len() == before


def test_revise_an_approved_level(world, proposal, head):
    system = proposal(1)
    step(system, "submit", world.analyst)
    step(system, "appraise", world.admin, note="Đạt")
    step(system, "approve", head, **approve_kwargs())
    with pytest.raises(Forbidden):
        step(system, "revise", world.auditor)
    system = step(system, "revise", world.analyst)
    assert system.level_status == LevelStatus.DRAFT
    assert system.approved_level == 1  # the approved level stands until a new one is approved


def test_dossier_upload_is_audited_and_checked(world, make_system, settings):
    system = make_system(world.ministry)
    before = audit_len()
    dossier = services.do_add_dossier_file(system, SimpleUploadedFile("a.pdf", b"%PDF-"), acting_user=world.analyst)
    assert dossier.size == 5 and len(dossier.sha256) == 64
    assert audit_len() == before + 1
    with pytest.raises(Forbidden):
        services.do_add_dossier_file(system, SimpleUploadedFile("a.pdf", b"%PDF-"), acting_user=world.auditor)
    settings.KHIEN_MAX_UPLOAD_BYTES = 4
    with pytest.raises(Refused) as exc:
        services.do_add_dossier_file(system, SimpleUploadedFile("a.pdf", b"%PDF-"), acting_user=world.analyst)
    refused(exc, 413)
    assert system.dossier_files.count() == 1
    assert audit_len() == before + 1


# --- Memberships --------------------------------------------------------------------


def test_membership_rights(world):
    before = audit_len()
    with pytest.raises(Forbidden):
        services.do_set_membership(world.ministry, world.nobody, "org_analyst", acting_user=world.analyst)
    with pytest.raises(Forbidden):
        services.do_set_membership(world.ministry, world.nobody, "national_coordinator", acting_user=world.admin)
    with pytest.raises(Forbidden):
        services.do_set_membership(world.province, world.nobody, "org_analyst", acting_user=world.admin)
    assert audit_len() == before
    membership = services.do_set_membership(world.department, world.nobody, "org_analyst", acting_user=world.admin)
    assert audit_len() == before + 1
    services.do_remove_membership(membership, acting_user=world.admin)
    assert not world.nobody.memberships.exists()
    assert audit_len() == before + 3  # the removal, and the account closed with its only role


def test_ancestor_paths_run_from_the_root_down_to_the_organization(world):
    assert world.commune.ancestor_paths() == [world.province.path, world.commune.path]
    assert world.department.ancestor_paths() == [world.ministry.path, world.department.path]
    assert world.ncsc.ancestor_paths() == [world.ncsc.path]



# --- Switching an organization off: the rule of deleting it --------------------------------------------------


def test_switching_an_organization_off_takes_the_right_over_its_parent(world):
    """An organization administrator switched their own organization off (deleting it already needed the right
    over its parent): one rule now, `may_delete_organization`, for both."""
    from khien.core.models import User
    from khien.core.roles import Role

    dept_admin = User.objects.create_user(email="admin@d1.test.vn", password="Khien-test-pass-2026")
    Membership.objects.create(user=dept_admin, organization=world.department, role=Role.ORG_ADMIN)
    before = audit_len()
    for org, who in ((world.ministry, world.admin), (world.department, dept_admin), (world.province, world.other_admin)):
        with pytest.raises(Forbidden) as exc:
            services.do_update_organization(org, {"is_active": False}, acting_user=who)
        assert exc.value.message == services.deletion_denied_message(org, switching=True)
        assert Organization.objects.get(pk=org.pk).is_active
    assert audit_len() == before
    # Their own unit's code is still theirs to change; its switching off is for the organization above.
    services.do_update_organization(world.department, {"code": "MIN-D1A"}, acting_user=dept_admin)
    services.do_update_organization(world.department, {"is_active": False}, acting_user=world.admin)
    with pytest.raises(Forbidden):  # nor switched on again by its own administrator
        services.do_update_organization(world.department, {"is_active": True}, acting_user=dept_admin)
    assert not Organization.objects.get(pk=world.department.pk).is_active
    services.do_update_organization(world.department, {"is_active": True}, acting_user=world.admin)
    services.do_update_organization(world.ministry, {"is_active": False}, acting_user=world.coordinator)
    assert not Organization.objects.get(pk=world.ministry.pk).is_active
    assert services.may_delete_organization(world.coordinator, world.ministry)
    assert not services.may_delete_organization(world.admin, world.ministry)


# --- The level dossier -------------------------------------------------------------------


@pytest.mark.parametrize("name,content", [
    ("malware.exe", b"MZ\x90\x00"), ("fake.pdf", b"MZ\x90\x00 not a pdf"), ("ho-so.docx", b"%PDF-1.4"),
    ("notes.txt", b"\x00\x01binary"), ("no-extension", b"%PDF-1.4"), ("script.sh", b"#!/bin/sh"),
])
def test_the_dossier_takes_documents_of_the_kind_their_name_says(world, make_system, name, content):
    system = make_system(world.ministry)
    before = audit_len()
    with pytest.raises(Refused) as exc:
        services.do_add_dossier_file(system, SimpleUploadedFile(name, content), acting_user=world.analyst)
    refused(exc, 400)
    assert not system.dossier_files.exists() and audit_len() == before


@pytest.mark.parametrize("name,content", [
    ("ho-so.pdf", b"%PDF-1.7\n..."), ("bao-cao.DOCX", b"PK\x03\x04rest"), ("bang.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    ("so-do.png", b"\x89PNG\r\n\x1a\nrest"), ("ghi-chu.txt", "Thuyết minh hồ sơ".encode()), ("goi.zip", b"PK\x03\x04"),
])
def test_the_dossier_accepts_documents_spreadsheets_scans_and_archives(world, make_system, name, content):
    system = make_system(world.ministry)
    dossier = services.do_add_dossier_file(system, SimpleUploadedFile(name, content), acting_user=world.analyst)
    assert dossier.original_name == name and dossier.file.read() == content


def test_a_file_is_taken_out_of_the_dossier_until_it_went_to_appraisal(world, proposal, head):
    system = proposal(1)
    [first] = system.dossier_files.all()
    wrong = services.do_add_dossier_file(system, SimpleUploadedFile("nham.pdf", b"%PDF-1.4 wrong"),
                                         acting_user=world.analyst)
    with pytest.raises(Forbidden):  # a reader may not
        services.do_remove_dossier_file(wrong, acting_user=world.auditor)
    before = audit_len()
    stored_name = wrong.file.name
    services.do_remove_dossier_file(wrong, acting_user=world.analyst)
    assert list(system.dossier_files.all()) == [first] and not wrong.file.storage.exists(stored_name)
    assert audit_len() == before + 1
    step(system, "submit", world.analyst)
    with pytest.raises(Refused) as exc:  # under review
        services.do_remove_dossier_file(first, acting_user=world.analyst)
    refused(exc, 409)
    step(system, "return", world.admin, note="Thiếu sơ đồ")
    late = services.do_add_dossier_file(system, SimpleUploadedFile("so-do.pdf", b"%PDF-1.4 map"), acting_user=world.analyst)
    assert services.may_remove_dossier_file(world.analyst, late)
    assert not services.may_remove_dossier_file(world.analyst, first)  # read by the appraiser: on record
    with pytest.raises(Refused):
        services.do_remove_dossier_file(first, acting_user=world.analyst)
    services.do_remove_dossier_file(late, acting_user=world.analyst)
    assert list(system.dossier_files.all()) == [first]
