"""Fixes from a walk-through: the breadcrumb to an unseen parent, the folded system filters, a pasted URL as a
domain, and the confirmation the national coordinator role needs."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from khien.conftest import _user
from khien.core.roles import Role
from khien.registry import imports
from khien.registry.models import ImportStatus, InformationSystem, Membership

from .test_views import system_post


@pytest.fixture
def en(client):
    client.cookies["khien_language"] = "en"
    return client


# --- 1. the parent of an organization the reader may not view -------------------------------


def test_parent_the_reader_may_not_view_is_plain_text(world, as_user, en):
    commune_user = _user("analyst@c1.test.vn", world.commune, Role.ORG_ANALYST)
    parent_url = reverse("registry:organization_detail", args=[world.province.pk])
    client = as_user(commune_user)
    assert client.get(parent_url).status_code == 404  # the province is not visible to the commune
    page = client.get(reverse("registry:organization_detail", args=[world.commune.pk])).content.decode()
    assert world.province.name in page
    assert parent_url not in page  # no link that answers 404

    # One who may view the parent still gets the link.
    page = as_user(world.other_admin).get(reverse("registry:organization_detail", args=[world.commune.pk]))
    assert parent_url in page.content.decode()


# --- 3. a pasted address in the domains ---------------------------------------------------


def test_a_pasted_url_is_kept_as_its_host_in_the_form(world, as_user):
    client = as_user(world.admin)
    response = client.post(reverse("registry:system_create"), system_post(
        world.ministry, domains="https://tantien.hochiminhcity.gov.vn/\nHTTP://Mail.Example.gov.vn:8443/owa/?x=1\n"
                                "portal.example.gov.vn."))
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    system = InformationSystem.objects.get(code="SYS-NEW")
    assert system.domains == ["mail.example.gov.vn", "portal.example.gov.vn", "tantien.hochiminhcity.gov.vn"]


def test_a_pasted_url_is_kept_as_its_host_in_the_api_and_import(world, api, settings):
    settings.KHIEN_IMPORT_SYNC = True
    response = api(world.admin).post("/api/registry/systems/", {
        "code": "SYS-API", "name": "Hệ thống API", "owner": "MIN",
        "domains": ["https://tantien.hochiminhcity.gov.vn/"]}, format="json")
    assert response.status_code == 201, response.content
    assert InformationSystem.objects.get(code="SYS-API").domains == ["tantien.hochiminhcity.gov.vn"]

    text = "code,name,owner_code,domains\nSYS-IMP,Nhập,MIN,https://tantien.hochiminhcity.gov.vn/\n"
    upload = SimpleUploadedFile("data.csv", text.encode(), content_type="text/csv")
    job = imports.start_import("systems", upload, acting_user=world.admin)
    assert job.status == ImportStatus.DONE, job.errors
    assert InformationSystem.objects.get(code="SYS-IMP").domains == ["tantien.hochiminhcity.gov.vn"]


def test_what_is_not_a_domain_is_still_refused(world, as_user):
    response = as_user(world.admin).post(reverse("registry:system_create"),
                                         system_post(world.ministry, domains="https://not a domain/"))
    assert response.status_code == 400 or response.status_code == 200
    assert not InformationSystem.objects.filter(code="SYS-NEW").exists()


# --- 2. the systems' filters folded, open when one is applied --------------------------------


def test_system_filters_are_folded_until_one_is_applied(world, as_user, make_system):
    make_system(world.ministry, name="Cổng A")
    client = as_user(world.admin)
    page = client.get(reverse("registry:system_list")).content.decode()
    assert '<details class="filters-box" id="system-filters">' in page  # closed: the results come first
    assert page.index('id="system-filters"') < page.index('name="province"')  # the fields are inside it
    assert page.index('name="province"') < page.index("</details>", page.index('id="system-filters"'))
    assert "Cổng A" in page
    for query in ("?q=C%E1%BB%95ng", "?province=NO-SUCH"):  # a filter applied, or a refused one: shown open
        page = client.get(reverse("registry:system_list") + query).content.decode()
        assert '<details class="filters-box" id="system-filters" open>' in page
    # Paging or sorting alone is not filtering.
    page = client.get(reverse("registry:system_list") + "?page=1&sort=waiting_since").content.decode()
    assert '<details class="filters-box" id="system-filters">' in page


# --- 4. the national coordinator role needs an explicit confirmation -------------------------


def test_granting_the_national_coordinator_role_on_the_page_needs_the_confirmation(world, coordinator_client):
    client = coordinator_client
    client.cookies["khien_language"] = "en"
    detail = reverse("registry:organization_detail", args=[world.ministry.pk])
    page = client.get(detail).content.decode()
    assert 'name="confirm_national_role"' in page  # offered with the role
    add = reverse("registry:organization_member_add", args=[world.ministry.pk])
    response = client.post(add, {"email": world.nobody.email, "role": Role.NATIONAL_COORDINATOR})
    assert response.status_code == 400
    assert "confirm_national_role" in response.context["member_form"].errors
    assert not Membership.objects.filter(user=world.nobody).exists()
    response = client.post(add, {"email": world.nobody.email, "role": Role.NATIONAL_COORDINATOR,
                                 "confirm_national_role": "on"})
    assert response.status_code == 302
    assert Membership.objects.get(user=world.nobody).role == Role.NATIONAL_COORDINATOR
    # Another role needs no confirmation.
    assert client.post(add, {"email": "new@min.test.vn", "role": Role.AUDITOR}).status_code == 302

    # The role select of a member's row: the same confirmation.
    membership = Membership.objects.get(user=world.analyst, organization=world.ministry)
    row = reverse("registry:organization_member_role", args=[world.ministry.pk, membership.pk])
    response = client.post(row, {f"m{membership.pk}-role": Role.NATIONAL_COORDINATOR}, follow=True)
    membership.refresh_from_db()
    assert membership.role == Role.ORG_ANALYST
    assert "confirm" in response.content.decode().lower()
    client.post(row, {f"m{membership.pk}-role": Role.NATIONAL_COORDINATOR,
                      f"m{membership.pk}-confirm_national_role": "on"})
    membership.refresh_from_db()
    assert membership.role == Role.NATIONAL_COORDINATOR


def test_granting_the_national_coordinator_role_through_the_api_needs_the_confirmation(world, api):
    client = api(world.coordinator)
    url = "/api/registry/memberships/"
    body = {"organization": "MIN", "user": world.nobody.email, "role": "national_coordinator"}
    response = client.post(url, body, format="json")
    assert response.status_code == 400 and "confirm_national_role" in response.content.decode()
    assert not Membership.objects.filter(user=world.nobody).exists()
    response = client.post(url, {**body, "confirm_national_role": True}, format="json")
    assert response.status_code == 201, response.content
    assert Membership.objects.get(user=world.nobody).role == Role.NATIONAL_COORDINATOR

    membership = Membership.objects.get(user=world.analyst, organization=world.ministry)
    response = client.patch(f"{url}{membership.pk}/", {"role": "national_coordinator"}, format="json")
    assert response.status_code == 400
    membership.refresh_from_db()
    assert membership.role == Role.ORG_ANALYST
    response = client.patch(f"{url}{membership.pk}/", {"role": "national_coordinator", "confirm_national_role": True},
                            format="json")
    assert response.status_code == 200, response.content
    membership.refresh_from_db()
    assert membership.role == Role.NATIONAL_COORDINATOR
    # Other roles as before.
    assert client.patch(f"{url}{membership.pk}/", {"role": "auditor"}, format="json").status_code == 200
