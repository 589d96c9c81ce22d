"""Members of an organization: the only administrator cannot lock the organization out of managing its members;
roles are changed in place, the person is told, and adding an address answers the same whether it had an account."""
import pytest
from django.urls import reverse

from khien.conftest import _user
from khien.core.models import AuditEntry, Notification, User
from khien.core.roles import Role
from khien.registry.models import Membership
from khien.registry.services import MEMBERSHIP_NOTICE

pytestmark = pytest.mark.django_db


def test_the_only_administrator_cannot_demote_or_remove_themselves(world, api):
    own = Membership.objects.get(user=world.admin, organization=world.ministry)
    client = api(world.admin)
    before = AuditEntry.objects.count()
    demoted = client.patch(f"/api/registry/memberships/{own.pk}/", {"role": "trainee"}, format="json")
    assert demoted.status_code == 409 and demoted.json()["code"] == "last_administrator"
    assert client.delete(f"/api/registry/memberships/{own.pk}/").status_code == 409
    own.refresh_from_db()
    assert own.role == Role.ORG_ADMIN and AuditEntry.objects.count() == before
    # With a second administrator it is their own choice; the coordinator may always.
    second = _user("admin2@min.test.vn", world.ministry, Role.ORG_ADMIN)
    assert client.patch(f"/api/registry/memberships/{own.pk}/", {"role": "org_analyst"}, format="json").status_code == 200
    second_membership = Membership.objects.get(user=second)
    assert api(second).delete(f"/api/registry/memberships/{second_membership.pk}/").status_code == 409
    coordinator = api(world.coordinator)
    assert coordinator.delete(f"/api/registry/memberships/{second_membership.pk}/").status_code == 204


@pytest.mark.postgres  # SQLite serializes writers: the second would not reach the unique index
@pytest.mark.django_db(transaction=True)
def test_two_requests_giving_one_user_a_role_at_once_end_in_one_membership_and_a_409(world):
    """The second insert meets the first's row in the unique index (it was a 500): one wins, the other is told."""
    import threading

    from django.db import connection, transaction

    from khien.core.errors import Refused
    from khien.registry import services

    newcomer = _user("new@min.test.vn", None, None)
    first_inserted, second_done = threading.Event(), threading.Event()
    outcome = {}

    def second():
        try:
            first_inserted.wait(10)
            services.do_set_membership(world.ministry, newcomer, Role.ORG_ANALYST, acting_user=world.admin)
            outcome["second"] = "stored"
        except Refused as exc:
            outcome["second"] = exc.status
        finally:
            second_done.set()
            connection.close()

    thread = threading.Thread(target=second)
    thread.start()
    with transaction.atomic():
        services.do_set_membership(world.ministry, newcomer, Role.ORG_ADMIN, acting_user=world.admin)
        first_inserted.set()
        second_done.wait(2)  # the second now waits on the first's uncommitted row in the unique index
    thread.join(30)
    assert outcome["second"] == 409
    assert list(Membership.objects.filter(user=newcomer).values_list("role", flat=True)) == [Role.ORG_ADMIN]


# --- The members card of an organization's page (tester's walkthrough) ---------------------------------------


def _members_url(org):
    return reverse("registry:organization_detail", args=[org.pk]) + "#members"


def _notices(user):
    return list(Notification.objects.filter(recipient=user, kind=MEMBERSHIP_NOTICE).order_by("created_at"))


def test_the_add_form_offers_the_least_privileged_useful_role_first(world, as_user):
    page = as_user(world.admin).get(reverse("registry:organization_detail", args=[world.ministry.pk]))
    assert page.context["member_form"]["role"].value() == Role.AUDITOR
    add_url = reverse("registry:organization_member_add", args=[world.ministry.pk])
    add_form = page.content.decode().split(f'action="{add_url}#add-member"', 1)[1]
    assert '<option value="auditor" selected>' in add_form and '<option value="org_admin" selected>' not in add_form


def test_each_member_row_changes_its_role_in_place_naming_old_and_new(world, as_user, mailoutbox,
                                                                       django_capture_on_commit_callbacks):
    membership = Membership.objects.get(user=world.auditor, organization=world.ministry)
    url = reverse("registry:organization_member_role", args=[world.ministry.pk, membership.pk])
    client = as_user(world.admin)
    page = client.get(reverse("registry:organization_detail", args=[world.ministry.pk])).content.decode()
    assert f'action="{url}"' in page and f'name="m{membership.pk}-role"' in page

    before = AuditEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {f"m{membership.pk}-role": Role.ORG_ANALYST}, follow=True)
    assert response.redirect_chain == [(_members_url(world.ministry), 302)]
    membership.refresh_from_db()
    assert membership.role == Role.ORG_ANALYST and AuditEntry.objects.count() == before + 1
    shown = " ".join(str(m) for m in response.context["messages"])
    assert str(Role.AUDITOR.label) in shown and str(Role.ORG_ANALYST.label) in shown and world.auditor.email in shown
    # The person is told, in the platform and by e-mail at once.
    [notice] = _notices(world.auditor)
    assert notice.urgent and str(Role.ORG_ANALYST.label) in notice.title and world.admin.email in notice.body
    assert [m.to for m in mailoutbox] == [[world.auditor.email]]

    # The same role again changes nothing, records nothing and tells nobody.
    response = client.post(url, {f"m{membership.pk}-role": Role.ORG_ANALYST})
    assert response.status_code == 302 and AuditEntry.objects.count() == before + 1 and len(_notices(world.auditor)) == 1


def test_changing_a_role_in_place_is_refused_to_those_who_do_not_manage_members(world, as_user):
    membership = Membership.objects.get(user=world.auditor, organization=world.ministry)
    url = reverse("registry:organization_member_role", args=[world.ministry.pk, membership.pk])
    body = {f"m{membership.pk}-role": Role.ORG_ADMIN}
    assert as_user(world.analyst).post(url, body).status_code == 403
    assert as_user(world.other_admin).post(url, body).status_code == 404
    # A membership of another organization through this organization's address: not found.
    other = Membership.objects.get(user=world.other_admin)
    stray = reverse("registry:organization_member_role", args=[world.ministry.pk, other.pk])
    assert as_user(world.admin).post(stray, {f"m{other.pk}-role": Role.AUDITOR}).status_code == 404
    # The national coordinator role is not the administrator's to give.
    response = as_user(world.admin).post(url, {f"m{membership.pk}-role": Role.NATIONAL_COORDINATOR}, follow=True)
    assert response.redirect_chain[-1][0] == _members_url(world.ministry)
    assert as_user(world.admin).get(url).status_code == 405
    membership.refresh_from_db()
    other.refresh_from_db()
    assert membership.role == Role.AUDITOR and other.role == Role.ORG_ADMIN and not _notices(world.auditor)


def test_the_only_administrator_demoting_themselves_in_place_is_told_on_the_page(world, as_user):
    own = Membership.objects.get(user=world.admin, organization=world.ministry)
    url = reverse("registry:organization_member_role", args=[world.ministry.pk, own.pk])
    response = as_user(world.admin).post(url, {f"m{own.pk}-role": Role.AUDITOR}, follow=True)
    assert response.redirect_chain == [(_members_url(world.ministry), 302)]  # safe to reload
    assert any("administrator" in str(m) or "quản trị" in str(m) for m in response.context["messages"])
    own.refresh_from_db()
    assert own.role == Role.ORG_ADMIN


def test_a_person_is_told_when_added_to_an_organization_and_when_removed(world, as_user, mailoutbox,
                                                                        django_capture_on_commit_callbacks):
    add = reverse("registry:organization_member_add", args=[world.ministry.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(world.admin).post(add, {"email": world.responder.email, "role": Role.AUDITOR})
    assert response.status_code == 302
    [added] = _notices(world.responder)
    assert world.ministry.name in added.title and str(Role.AUDITOR.label) in added.title and added.urgent
    assert world.admin.email in added.body
    assert added.url == reverse("registry:organization_detail", args=[world.ministry.pk])

    membership = Membership.objects.get(user=world.responder, organization=world.ministry)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(world.admin).post(
            reverse("registry:organization_member_remove", args=[world.ministry.pk, membership.pk]), {"confirmed": "1"})
    assert response.status_code == 302 and response.url == _members_url(world.ministry)
    removed = _notices(world.responder)[-1]
    assert world.ministry.name in removed.title and removed.urgent
    assert [m.to for m in mailoutbox] == [[world.responder.email]] * 2
    # A refused removal tells nobody.
    assert as_user(world.auditor).post(reverse("registry:organization_member_remove", args=[
        world.ministry.pk, Membership.objects.get(user=world.analyst).pk])).status_code == 403
    assert not _notices(world.analyst)


def _answer(client, org, email, role=Role.AUDITOR):
    response = client.post(reverse("registry:organization_member_add", args=[org.pk]),
                           {"email": email, "full_name": "Người Thử", "role": role}, follow=True)
    return response.status_code, [(m.level_tag, str(m).replace(email, "EMAIL")) for m in response.context["messages"]]


def test_the_page_answers_the_same_whether_the_address_had_an_account(world, as_user, mailoutbox,
                                                                     django_capture_on_commit_callbacks):
    client = as_user(world.admin)
    disabled = User.objects.create_user(email="gone@other.test.vn", password="x-Khien-2026-x", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        existing = _answer(client, world.ministry, world.responder.email)  # an account of another organization
        new = _answer(client, world.ministry, "brand.new@min.test.vn")
        off = _answer(client, world.ministry, disabled.email)
    assert existing == new == off
    assert existing[0] == 200 and [level for level, _text in existing[1]] == ["success"]
    assert Membership.objects.filter(organization=world.ministry, user__email__in=[
        world.responder.email, "brand.new@min.test.vn", disabled.email]).count() == 3
    # Told by e-mail either way: the existing account by its notification, the new one with its one-time link, the
    # account closed with its last role by its notification (given a role, it is open again).
    assert sorted(m.to[0] for m in mailoutbox) == sorted(["brand.new@min.test.vn", world.responder.email, disabled.email])
    disabled.refresh_from_db()
    assert disabled.is_active


def test_the_add_form_does_not_change_an_existing_members_role(world, as_user):
    url = reverse("registry:organization_member_add", args=[world.ministry.pk])
    response = as_user(world.admin).post(url, {"email": world.auditor.email, "role": Role.ORG_ADMIN})
    assert response.status_code == 409
    assert Membership.objects.get(user=world.auditor, organization=world.ministry).role == Role.AUDITOR


def test_the_api_answers_the_same_whether_the_address_had_an_account(world, api, mailoutbox,
                                                                    django_capture_on_commit_callbacks):
    url = "/api/registry/memberships/"
    admin = api(world.admin)
    shapes = []
    with django_capture_on_commit_callbacks(execute=True):
        for email in (world.responder.email, "Fresh.Person@min.test.vn"):
            response = admin.post(url, {"organization": "MIN", "user": email, "role": "auditor"}, format="json")
            body = response.json()
            shapes.append((response.status_code, sorted(body), body["role"], body["user"] == email.lower()))
    assert shapes[0] == shapes[1] == (201, ["created_at", "id", "organization", "role", "user"], "auditor", True)
    fresh = User.objects.get(email="fresh.person@min.test.vn")
    assert fresh.must_change_password and Membership.objects.get(user=fresh).role == Role.AUDITOR
    assert sorted(m.to[0] for m in mailoutbox) == ["fresh.person@min.test.vn", world.responder.email]
    # Denials: no account is created by a caller who may not manage the organization's members.
    for client, org in ((api(world.analyst), "MIN"), (api(world.other_admin), "MIN")):
        response = client.post(url, {"organization": org, "user": "probe@x.test.vn", "role": "auditor"}, format="json")
        assert response.status_code in (400, 403)
    assert not User.objects.filter(email="probe@x.test.vn").exists()
