"""Fixes from the auditor's walkthrough.

1. Someone without the right to a write is told so (403, the rights message) before anything about the object's state
   or the input: the level steps and the dossier, on the pages and the API (rights, then state, then input).
2. An organization's auditor reads its members and those of the units under it (names, e-mail, roles, two-step
   sign-in, active), on the organization's page and the API, and changes nothing; an auditor of one organization
   reads nothing of another's.
"""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.conftest import _user
from khien.core.roles import Role
from khien.registry import levels
from khien.registry.models import DossierFile, InformationSystem, LevelEvent, LevelStatus, Membership
from khien.registry.tests.test_walkthrough_round2 import in_english

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
NO_RIGHT = "You do not have the right to take this step for this system."


def _system(make_system, world, status, level=2):
    """A level-2 system of the ministry (the framework leaves levels 1-2 to the owner's administrators)."""
    return make_system(world.ministry, level_status=status, proposed_level=level, framework=levels.current_framework(),
                       approved_level=level if status == LevelStatus.APPROVED else None)


# --- 1. Rights first, then state, then input ------------------------------------------------------------------


@pytest.mark.parametrize("status", [LevelStatus.APPROVED, LevelStatus.APPRAISED, LevelStatus.DRAFT])
@pytest.mark.parametrize("step", ["approve", "appraise", "return", "submit", "revise"])
def test_api_a_reader_is_refused_for_want_of_the_right_whatever_the_state(world, make_system, api, status, step):
    system = _system(make_system, world, status)
    for body in ({}, {"decision_date": "not a date"}):
        response = api(world.auditor).post(f"/api/registry/systems/{system.pk}/level/{step}/", body, format="json",
                                           **EN)
        assert response.status_code == 403, (step, status, body, response.content)
        assert NO_RIGHT in response.content.decode()
    system.refresh_from_db()
    assert system.level_status == status and not LevelEvent.objects.filter(system=system).exists()


def test_api_who_holds_the_right_hears_of_the_state_before_the_input(world, make_system, api):
    system = _system(make_system, world, LevelStatus.APPROVED)
    response = api(world.admin).post(f"/api/registry/systems/{system.pk}/level/approve/",
                                     {"decision_date": "not a date"}, format="json", **EN)
    assert response.status_code == 409 and "not possible while the level" in response.content.decode()
    # The right and the state allow the step: the input is judged.
    draft = _system(make_system, world, LevelStatus.DRAFT)
    response = api(world.analyst).post(f"/api/registry/systems/{draft.pk}/level/revise/", {}, format="json", **EN)
    assert response.status_code == 409


@pytest.mark.parametrize("status", [LevelStatus.APPROVED, LevelStatus.APPRAISED])
def test_page_a_reader_is_refused_for_want_of_the_right_not_asked_to_fill_in_fields(world, make_system, as_user,
                                                                                     status):
    system = _system(make_system, world, status)
    client = in_english(as_user(world.auditor))
    response = client.post(reverse("registry:system_step", args=[system.pk, "approve"]), {})
    assert response.status_code == 403
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [NO_RIGHT]
    system.refresh_from_db()
    assert system.level_status == status


def test_page_who_holds_the_right_hears_of_the_state_before_the_input(world, make_system, as_user):
    system = _system(make_system, world, LevelStatus.APPROVED)
    client = in_english(as_user(world.admin))
    response = client.post(reverse("registry:system_step", args=[system.pk, "approve"]), {}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1 and "not possible while the level" in shown[0], shown


def test_api_dossier_a_reader_is_refused_before_the_file_is_looked_at(world, make_system, api):
    system = _system(make_system, world, LevelStatus.DRAFT)
    url = f"/api/registry/systems/{system.pk}/dossier/"
    assert api(world.auditor).post(url, {}, format="multipart").status_code == 403  # no file at all
    missing = "00000000-0000-0000-0000-000000000000"
    assert api(world.auditor).delete(f"{url}{missing}/").status_code == 403
    assert not DossierFile.objects.filter(system=system).exists()


def test_dossier_closed_proposal_is_said_before_the_missing_file(world, make_system, api, as_user):
    system = _system(make_system, world, LevelStatus.SUBMITTED)
    response = api(world.admin).post(f"/api/registry/systems/{system.pk}/dossier/", {}, format="multipart", **EN)
    assert response.status_code == 400 and "draft or has been returned" in response.content.decode()
    client = in_english(as_user(world.admin))
    response = client.post(reverse("registry:system_upload", args=[system.pk]), {}, follow=True)
    [shown] = [str(m) for m in response.context["messages"]]
    assert "draft or has been returned" in shown
    # A reader: 403 on the page too, with or without a file.
    reader = in_english(as_user(world.auditor))
    pdf = SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")
    assert reader.post(reverse("registry:system_upload", args=[system.pk]), {"file": pdf}).status_code == 403
    assert reader.post(reverse("registry:system_upload", args=[system.pk]), {}).status_code == 403


# --- 2. The auditor reads the members -------------------------------------------------------------------------


@pytest.fixture
def members(world):
    """The department has a member with two-step sign-in on; the province's admin has it on as well; one ministry
    member's account is switched off."""
    d1 = _user("member@d1.test.vn", world.department, Role.ORG_ANALYST)
    TOTPDevice.objects.create(user=d1, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=world.other_admin, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=world.trainee, name="unconfirmed", confirmed=False)
    gone = _user("gone@min.test.vn", world.ministry, Role.TRAINEE)
    gone.full_name = "Người Đã Nghỉ"
    gone.is_active = False
    gone.save()
    return {"d1": d1, "gone": gone}


def _section(page):
    return page.split('id="members"')[1].split("</section>")[0]


def test_page_the_auditor_reads_the_members_and_changes_nothing(world, members, as_user):
    client = in_english(as_user(world.auditor))
    page = client.get(reverse("registry:organization_detail", args=[world.ministry.pk])).content.decode()
    assert 'id="members"' in page
    section = _section(page)
    for email in (world.admin.email, world.analyst.email, world.auditor.email, world.trainee.email,
                  members["gone"].email):
        assert email in section
    assert "Người Đã Nghỉ" in section
    assert "Organization administrator" in section and "Auditor" in section
    gone_row = section.split(members["gone"].email)[1].split("</tr>")[0]
    assert "Deactivated" in gone_row
    trainee_row = section.split(world.trainee.email)[1].split("</tr>")[0]
    assert "Off" in trainee_row  # an unconfirmed device is not two-step sign-in
    # Read only: no form, no button.
    assert "<form" not in section and "<select" not in section and "<button" not in section
    assert "Add a member" not in section
    # The department's page shows its members too (the auditor's scope is the ministry and its units).
    page = client.get(reverse("registry:organization_detail", args=[world.department.pk])).content.decode()
    row = _section(page).split(members["d1"].email)[1].split("</tr>")[0]
    assert "On" in row and "Active" in row


def test_page_the_administrator_still_manages(world, members, as_user):
    page = in_english(as_user(world.admin)).get(
        reverse("registry:organization_detail", args=[world.ministry.pk])).content.decode()
    section = _section(page)
    assert "Add a member" in section and "Save the role" in section and "Remove" in section
    gone = Membership.objects.get(user=members["gone"])
    assert "Deactivated" in section.split(f'id="member-{gone.pk}"')[1].split("</tr>")[0]


@pytest.mark.parametrize("who", ["analyst", "trainee", "responder"])
def test_page_other_readers_still_see_no_members(world, members, as_user, who):
    page = as_user(getattr(world, who)).get(reverse("registry:organization_detail", args=[world.ministry.pk]))
    assert page.status_code in (200, 404)
    assert 'id="members"' not in page.content.decode()


def test_page_every_member_write_is_refused_to_the_auditor(world, members, as_user):
    client = as_user(world.auditor)
    org = world.ministry
    admin = Membership.objects.get(user=world.admin, organization=org)
    trainee = Membership.objects.get(user=world.trainee, organization=org)
    TOTPDevice.objects.create(user=world.analyst, name="phone", confirmed=True)
    analyst = Membership.objects.get(user=world.analyst, organization=org)
    before = set(Membership.objects.values_list("pk", "role"))
    assert client.post(reverse("registry:organization_member_add", args=[org.pk]),
                       {"email": "new@min.test.vn", "role": Role.AUDITOR}).status_code == 403
    assert client.post(reverse("registry:organization_member_role", args=[org.pk, trainee.pk]),
                       {f"m{trainee.pk}-role": Role.ORG_ADMIN}).status_code == 403
    assert client.post(reverse("registry:organization_member_remove", args=[org.pk, admin.pk])).status_code == 403
    assert client.post(reverse("registry:organization_member_second_factor",
                               args=[org.pk, analyst.pk])).status_code == 403
    assert set(Membership.objects.values_list("pk", "role")) == before
    assert TOTPDevice.objects.filter(user=world.analyst).exists()


def _listed(response):
    assert response.status_code == 200, response.content
    return {(row["organization"], row["user"]): row for row in response.json()["results"]}


def test_api_the_auditor_reads_the_members_of_the_ministry_and_its_units(world, members, api):
    rows = _listed(api(world.auditor).get("/api/registry/memberships/?limit=200"))
    orgs = {org for org, _email in rows}
    assert orgs == {"MIN", "MIN-D1"}
    d1 = rows[("MIN-D1", members["d1"].email)]
    assert d1["role"] == Role.ORG_ANALYST and d1["second_factor"] is True and d1["active"] is True
    gone = rows[("MIN", members["gone"].email)]
    assert gone["name"] == "Người Đã Nghỉ" and gone["active"] is False and gone["second_factor"] is False
    assert rows[("MIN", world.trainee.email)]["second_factor"] is False
    one = Membership.objects.get(user=world.admin, organization=world.ministry)
    detail = api(world.auditor).get(f"/api/registry/memberships/{one.pk}/")
    assert detail.status_code == 200 and detail.json()["user"] == world.admin.email


def test_api_the_auditor_of_one_organization_reads_nothing_of_anothers(world, members, api):
    province_admin = Membership.objects.get(user=world.other_admin, organization=world.province)
    client = api(world.auditor)
    assert client.get(f"/api/registry/memberships/{province_admin.pk}/").status_code == 404
    # Asking for another organization's members is answered as for an organization that does not exist.
    for code in ("PROV", "NO-SUCH-ORG"):
        refused = client.get(f"/api/registry/memberships/?organization__code={code}")
        assert refused.status_code == 400 and "organization__code" in refused.json()
    # An auditor of the department reads the department's members only, not the ministry's above it.
    dept_auditor = _user("auditor@d1.test.vn", world.department, Role.AUDITOR)
    rows = _listed(api(dept_auditor).get("/api/registry/memberships/?limit=200"))
    assert {org for org, _e in rows} == {"MIN-D1"}
    # The page of another organization stays not found.
    assert api(world.auditor).get(f"/api/registry/organizations/{world.province.pk}/").status_code == 404


def test_page_the_auditor_of_one_organization_reads_nothing_of_anothers(world, members, as_user):
    client = as_user(world.auditor)
    assert client.get(reverse("registry:organization_detail", args=[world.province.pk])).status_code == 404
    dept_auditor = _user("auditor@d1.test.vn", world.department, Role.AUDITOR)
    page = as_user(dept_auditor).get(reverse("registry:organization_detail", args=[world.ministry.pk]))
    assert page.status_code in (200, 404) and 'id="members"' not in page.content.decode()


@pytest.mark.parametrize("who", ["analyst", "trainee", "responder"])
def test_api_other_readers_still_list_no_members(world, members, api, who):
    assert api(getattr(world, who)).get("/api/registry/memberships/").json()["count"] == 0


def test_api_every_member_write_is_refused_to_the_auditor(world, members, api):
    client = api(world.auditor)
    trainee = Membership.objects.get(user=world.trainee, organization=world.ministry)
    before = set(Membership.objects.values_list("pk", "role"))
    for body in ({"organization": "MIN", "user": "new@min.test.vn", "role": "auditor"}, {}):
        assert client.post("/api/registry/memberships/", body, format="json").status_code == 403
    for body in ({"role": "org_admin"}, {"role": "no such role"}):
        assert client.patch(f"/api/registry/memberships/{trainee.pk}/", body, format="json").status_code == 403
        assert client.put(f"/api/registry/memberships/{trainee.pk}/", body, format="json").status_code == 403
    assert client.delete(f"/api/registry/memberships/{trainee.pk}/").status_code == 403
    assert set(Membership.objects.values_list("pk", "role")) == before


def test_api_the_administrator_reads_the_new_fields_too(world, members, api):
    rows = _listed(api(world.admin).get("/api/registry/memberships/?limit=200"))
    assert rows[("MIN-D1", members["d1"].email)]["second_factor"] is True
    assert {org for org, _e in rows} == {"MIN", "MIN-D1"}


def test_listing_members_takes_a_fixed_number_of_queries(world, members, api, django_assert_max_num_queries):
    for n in range(20):
        _user(f"m{n}@min.test.vn", world.ministry, Role.TRAINEE)
    client = api(world.auditor)
    with django_assert_max_num_queries(12):
        client.get("/api/registry/memberships/?limit=200")
    assert InformationSystem.objects.count() == 0
