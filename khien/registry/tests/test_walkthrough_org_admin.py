"""Fixes from a ministry administrator's walkthrough: a person whose last role is removed can no longer sign in (the
account is deactivated, its sessions end, its API tokens are revoked) and is let in again when given a role; an
organization may require two-step sign-in of its members (and its units'); a refused member addition shows its
reason where the form is, above the inputs; the level card names who really decides; a duplicate code is said
plainly; the import API refuses those the import page refuses."""
import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.conftest import TEST_PASSWORD, _user
from khien.core.errors import Forbidden
from khien.core.models import ApiToken, AuditEntry, User
from khien.core.roles import Role
from khien.registry import services
from khien.registry.models import Membership, Organization
from khien.registry.tests.test_walkthrough_round2 import EN, in_english

pytestmark = pytest.mark.django_db


def _detail(org):
    return reverse("registry:organization_detail", args=[org.pk])


def _remove_url(membership):
    return reverse("registry:organization_member_remove", args=[membership.organization_id, membership.pk])


def _row(page, membership):
    return page.split(f'id="member-{membership.pk}"')[1].split("</tr>")[0]


def _can_sign_in(user) -> bool:
    """Signing in with the password, as the sign-in page does (the account has no second factor)."""
    response = Client().post(reverse("core:login"), {"username": user.email, "password": TEST_PASSWORD})
    return response.status_code == 302


def _account_entries(user):
    """The audit entries of the account's being closed or opened."""
    return [e for e in AuditEntry.objects.filter(object_type="core.user", object_id=str(user.pk)).order_by("seq")
            if "is_active" in (e.after or {})]


def _signed_in(user):
    client = Client()
    client.force_login(user)
    assert client.get(reverse("registry:dashboard")).status_code == 200
    return client


# --- 1. A departed person ------------------------------------------------------------------------------------


@pytest.fixture
def leaver(world):
    return _user("leaver@min.test.vn", world.ministry, Role.ORG_ANALYST)


def test_removing_a_persons_last_role_deactivates_the_account_ends_its_sessions_and_revokes_its_tokens(
        world, leaver, api, as_user):
    session = _signed_in(leaver)
    token_client = api(leaver)
    assert token_client.get("/api/me/").status_code == 200
    membership = Membership.objects.get(user=leaver)

    response = in_english(as_user(world.admin)).post(_remove_url(membership), {"confirmed": "1"}, follow=True)
    assert response.status_code == 200
    # The page says so to the administrator.
    assert any("account was deactivated" in str(m) for m in response.context["messages"])
    leaver.refresh_from_db()
    assert not leaver.is_active
    # The API token no longer opens anything, the open session is signed out.
    assert token_client.get("/api/me/").status_code == 401
    assert token_client.get("/api/intel/objects/").status_code == 401
    assert not ApiToken.objects.filter(user=leaver, revoked_at__isnull=True).exists()
    answer = session.get(reverse("registry:dashboard"))
    assert answer.status_code == 302 and answer.url.startswith(reverse("core:login"))
    assert not _can_sign_in(leaver)
    # Audited: who closed the account, seen by the organization's administrator.
    [entry] = _account_entries(leaver)
    assert entry.actor_email == world.admin.email and entry.before == {"is_active": True}
    assert entry.after == {"is_active": False} and entry.organization_id == str(world.ministry.pk)


def test_the_api_removal_of_a_last_role_deactivates_the_account_too(world, leaver, api):
    token_client = api(leaver)
    membership = Membership.objects.get(user=leaver)
    assert api(world.admin).delete(f"/api/registry/memberships/{membership.pk}/").status_code == 204
    assert token_client.get("/api/me/").status_code == 401
    leaver.refresh_from_db()
    assert not leaver.is_active


def test_a_person_who_keeps_a_role_elsewhere_keeps_their_access(world, leaver, api, as_user):
    Membership.objects.create(user=leaver, organization=world.province, role=Role.AUDITOR)
    session = _signed_in(leaver)
    token_client = api(leaver)
    membership = Membership.objects.get(user=leaver, organization=world.ministry)
    assert as_user(world.admin).post(_remove_url(membership), {"confirmed": "1"}).status_code == 302
    leaver.refresh_from_db()
    assert leaver.is_active
    assert token_client.get("/api/me/").status_code == 200
    assert session.get(reverse("registry:dashboard")).status_code == 200


def test_the_confirmation_says_the_account_is_closed_only_when_it_is_the_last_role(world, leaver, as_user):
    keeper = _user("keeper@min.test.vn", world.ministry, Role.AUDITOR)
    Membership.objects.create(user=keeper, organization=world.province, role=Role.AUDITOR)
    page = in_english(as_user(world.admin)).get(_detail(world.ministry)).content.decode()
    last = _row(page, Membership.objects.get(user=leaver))
    kept = _row(page, Membership.objects.get(user=keeper, organization=world.ministry))
    assert "data-confirm" in last and "account is deactivated" in last and "API tokens are revoked" in last
    assert "Remove keeper@min.test.vn from the organization?" in kept and "deactivated" not in kept


def test_those_who_do_not_manage_members_cannot_remove_anyone(world, leaver, api, as_user):
    membership = Membership.objects.get(user=leaver)
    assert as_user(world.analyst).post(_remove_url(membership)).status_code == 403
    assert as_user(world.other_admin).post(_remove_url(membership)).status_code == 404
    assert api(world.auditor).delete(f"/api/registry/memberships/{membership.pk}/").status_code in (403, 404)
    with pytest.raises(Forbidden):
        services.do_remove_membership(membership, acting_user=world.analyst)
    leaver.refresh_from_db()
    assert leaver.is_active and Membership.objects.filter(pk=membership.pk).exists()


def test_adding_a_departed_person_again_lets_them_sign_in_with_their_password(world, leaver, api, as_user,
                                                                                mailoutbox,
                                                                                django_capture_on_commit_callbacks):
    old_token = api(leaver)
    services.do_remove_membership(Membership.objects.get(user=leaver), acting_user=world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(world.admin).post(reverse("registry:organization_member_add", args=[world.ministry.pk]),
                                             {"email": leaver.email, "role": Role.AUDITOR})
    assert response.status_code == 302
    leaver.refresh_from_db()
    assert leaver.is_active
    assert _can_sign_in(leaver)
    assert old_token.get("/api/me/").status_code == 401  # a revoked token stays revoked
    assert leaver.email in [m.to[0] for m in mailoutbox]  # told of the new role
    entry = _account_entries(leaver)[-1]
    assert entry.after == {"is_active": True} and entry.actor_email == world.admin.email


# --- 2. Two-step sign-in required by an organization --------------------------------------------------------


def _edit(client, org, **changes):
    from khien.registry.forms import OrganizationForm

    form = OrganizationForm(instance=org, user=User.objects.get(email="coordinator@test.vn"))
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = [str(v) for v in value] if isinstance(value, list) else str(value)
    data.pop("require_second_factor", None)
    data.update(changes)
    return client.post(reverse("registry:organization_edit", args=[org.pk]), data)


def test_an_administrator_requires_two_step_sign_in_of_a_unit_and_its_members_must_use_it(world, as_user):
    from khien.core import twofactor

    assert not twofactor.role_requires_second_factor(world.dept_analyst)
    assert as_user(world.dept_analyst).get(reverse("registry:dashboard")).status_code == 200
    response = _edit(as_user(world.admin), world.department, require_second_factor="on")
    assert response.status_code == 302
    world.department.refresh_from_db()
    assert world.department.require_second_factor
    user = User.objects.get(pk=world.dept_analyst.pk)
    assert twofactor.role_requires_second_factor(user)
    answer = Client()
    answer.force_login(user)
    assert answer.get(reverse("registry:dashboard")).url.startswith(reverse("core:totp_enroll"))
    # Signing in with the password leads to setting up the authenticator, nothing else.
    fresh = Client()
    fresh.post(reverse("core:login"), {"username": user.email, "password": TEST_PASSWORD})
    assert fresh.get(reverse("registry:system_list")).url.startswith(reverse("core:totp_enroll"))
    # The setup page says why (it said "your role requires", which a unit's analyst's role does not).
    enroll = fresh.get(reverse("core:totp_enroll")).content.decode()
    assert "Vai trò hoặc tổ chức của bạn yêu cầu xác thực hai bước" in enroll
    # Members of the organization above it are not concerned.
    assert not twofactor.role_requires_second_factor(User.objects.get(pk=world.analyst.pk))


def test_the_requirement_is_inherited_by_the_units(world, coordinator_client):
    from khien.core import twofactor

    services.do_update_organization(world.ministry, {"require_second_factor": True}, acting_user=world.coordinator)
    for user in (world.analyst, world.dept_analyst):
        assert twofactor.role_requires_second_factor(User.objects.get(pk=user.pk))
    assert not twofactor.role_requires_second_factor(User.objects.get(pk=world.other_admin.pk))
    # The unit's edit page says it is required from above.
    page = in_english(coordinator_client).get(reverse("registry:organization_edit", args=[world.department.pk]))
    assert "Required already by" in page.content.decode()


def test_only_those_who_manage_members_may_set_the_requirement(world, as_user, api):
    dept_admin = _user("admin@d1.test.vn", world.department, Role.ORG_ADMIN)
    with pytest.raises(Forbidden):  # the analyst edits the organization, not how its people sign in
        services.do_update_organization(world.ministry, {"require_second_factor": True}, acting_user=world.analyst)
    with pytest.raises(Forbidden):  # a unit's administrator does not set it for the organization above
        services.do_update_organization(world.ministry, {"require_second_factor": True}, acting_user=dept_admin)
    _edit(as_user(world.analyst), world.ministry, require_second_factor="on")
    answer = api(world.analyst).patch(f"/api/registry/organizations/{world.ministry.pk}/",
                                      {"require_second_factor": True}, format="json")
    assert answer.status_code == 403
    world.ministry.refresh_from_db()
    assert not world.ministry.require_second_factor
    page = as_user(world.analyst).get(reverse("registry:organization_edit", args=[world.ministry.pk])).content.decode()
    assert 'name="require_second_factor"' in page and "disabled" in page.split('name="require_second_factor"')[1][:80]
    # The unit's own administrator may set it for the unit.
    services.do_update_organization(world.department, {"require_second_factor": True}, acting_user=dept_admin)
    world.department.refresh_from_db()
    assert world.department.require_second_factor


def test_the_member_table_shows_who_has_two_step_sign_in_on(world, as_user):
    TOTPDevice.objects.create(user=world.auditor, name="phone", confirmed=True)
    page = in_english(as_user(world.admin)).get(_detail(world.ministry)).content.decode()
    assert "<th>Two-step sign-in</th>" in page
    assert ">On<" in _row(page, Membership.objects.get(user=world.auditor))
    assert ">Off<" in _row(page, Membership.objects.get(user=world.analyst))


# --- 3. A refused member addition ---------------------------------------------------------------------------


def test_a_refused_addition_shows_its_reason_above_the_inputs_where_the_form_is(world, as_user):
    client = in_english(as_user(world.admin))
    add = reverse("registry:organization_member_add", args=[world.ministry.pk])
    for email, status in ((world.auditor.email, 409), ("not-an-address", 400)):
        response = client.post(add, {"email": email, "role": Role.AUDITOR})
        assert response.status_code == status
        page = response.content.decode()
        # The browser lands on the form (the fragment of the address it posted to), not the page's top.
        assert f'action="{add}#add-member"' in page and 'id="add-member"' in page
        section = page.split('id="add-member"')[1]
        alert = section.index('role="alert"')
        assert alert < section.index(f'action="{add}#add-member"')  # above the row of inputs, not inside it
        reason = section[alert:section.index("<form")]
        assert ("already has a role" in reason) if status == 409 else ("valid email" in reason or "e-mail" in reason)


# --- 4. Who decides a unit's proposal -----------------------------------------------------------------------


def _unit_proposal(world, submitter):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from khien.registry.tests.test_services import answers

    system = services.do_create_system({"code": "SYS-D1", "name": "Hệ thống của đơn vị", "owner": world.department,
                                        "criteria": answers(1), "proposed_level": 1}, acting_user=world.admin)
    services.do_add_dossier_file(system, SimpleUploadedFile("ho-so.pdf", b"%PDF-1.4 x"), acting_user=world.admin)
    return services.do_level_step(system, "submit", acting_user=submitter)


def test_the_card_names_the_organization_whose_administrators_are_told(world, api):
    from khien.core.models import Notification

    system = _unit_proposal(world, world.dept_analyst)  # the unit has no administrator: the ministry's decide
    told = {n.recipient for n in Notification.objects.filter(kind=services.LEVEL_NOTICE)}
    assert told == {world.admin}
    by = api(world.dept_analyst).get(f"/api/registry/systems/{system.pk}/", **EN).json()["waiting_for"]["by"]
    assert by == "the administrators of Organization MIN"


def test_the_submitting_administrator_is_told_who_else_decides_without_a_double_colon(world, head, api):
    system = _unit_proposal(world, world.admin)
    by = api(world.admin).get(f"/api/registry/systems/{system.pk}/", **EN).json()["waiting_for"]["by"]
    assert by == "you submitted it, so another administrator of Organization MIN decides"
    assert ":" not in by


def test_a_submitter_nobody_else_can_relieve_is_told_so(world, api):
    system = _unit_proposal(world, world.admin)
    by = api(world.admin).get(f"/api/registry/systems/{system.pk}/", **EN).json()["waiting_for"]["by"]
    assert "Organization MIN-D1" in by and "national coordinator" in by and ":" not in by
    assert "another administrator of Organization MIN-D1" not in by


# --- 5. A code already used ---------------------------------------------------------------------------------


def test_a_duplicate_code_is_said_plainly(world, as_user, api):
    client = in_english(as_user(world.admin))
    response = client.post(reverse("registry:organization_create"), {
        "code": world.department.code, "name_vi": "Đơn vị trùng mã", "org_type": "agency",
        "parent": world.ministry.pk})
    assert response.status_code == 400
    assert "This code is already used by another organization." in response.content.decode()
    answer = api(world.admin).post("/api/registry/organizations/", {
        "code": world.department.code, "name_vi": "Trùng", "org_type": "agency", "parent": world.ministry.code},
        format="json", **EN)
    assert answer.status_code == 400 and "This code is already used by another organization." in str(answer.json())


# --- 6. The import API ----------------------------------------------------------------------------------------


def test_the_import_api_refuses_those_the_import_page_refuses(world, api, as_user):
    assert as_user(world.analyst).get(reverse("registry:import")).status_code == 403
    answer = api(world.analyst).get("/api/registry/imports/")
    assert answer.status_code == 403 and "Bạn không có quyền nhập dữ liệu." in str(answer.json())
    assert api(world.admin).get("/api/registry/imports/").status_code == 200
    assert Organization.objects.filter(code="MIN").exists()
