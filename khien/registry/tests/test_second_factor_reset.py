"""An administrator moves a member's two-step sign-in to a new phone (the guide promised it; nothing did it): the
member's authenticator is removed, they set it up again at their next sign-in, they are told, the log says who did
it. Not for oneself, not for someone who also belongs to an organization the administrator does not run, not by a
non-administrator; the server's operator can do it from the command line."""
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.core import twofactor
from khien.core.models import AuditEntry, Notification
from khien.core.roles import Role
from khien.registry.models import Membership
from khien.registry.services import MEMBERSHIP_NOTICE

pytestmark = pytest.mark.django_db


def _device(user):
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def _signed_in_with_second_factor(client, user):
    """Password then code, as a person with an authenticator signs in (a session without it sees no page)."""
    from django_otp.oath import totp

    from khien.conftest import TEST_PASSWORD

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or _device(user)
    assert client.post(reverse("core:login"), {"username": user.email, "password": TEST_PASSWORD}).status_code == 302
    assert client.post(reverse("core:totp_verify"), {"token": f"{totp(device.bin_key):06d}"}).status_code == 302
    return client


def _reset(client, organization, member):
    membership = Membership.objects.get(user=member, organization=organization)
    return client.post(reverse("registry:organization_member_second_factor", args=[organization.pk, membership.pk]),
                       {"confirmed": "1"}, follow=True, HTTP_ACCEPT_LANGUAGE="vi")  # the dialog's (or page's) yes


def test_an_administrator_resets_a_members_two_step_sign_in(world, client):
    _device(world.analyst)
    _signed_in_with_second_factor(client, world.admin)
    page = client.get(reverse("registry:organization_detail", args=[world.ministry.pk])).content.decode()
    analyst_row = page.split(f'id="member-{Membership.objects.get(user=world.analyst).pk}"')[1].split("</tr>")[0]
    own_row = page.split(f'id="member-{Membership.objects.get(user=world.admin).pk}"')[1].split("</tr>")[0]
    assert "second-factor" in analyst_row and "second-factor" not in own_row  # never offered for oneself
    response = _reset(client, world.ministry, world.analyst)
    assert response.status_code == 200
    assert "analyst@min.test.vn" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=world.analyst).exists()
    assert TOTPDevice.objects.filter(user=world.admin).exists()
    entry = AuditEntry.objects.filter(object_id=str(world.analyst.pk)).latest("seq")
    assert entry.actor_id == str(world.admin.pk) and entry.after == {"second_factor": "reset"}
    assert Notification.objects.filter(recipient=world.analyst, kind=MEMBERSHIP_NOTICE).exists()


def test_a_coordinator_whose_phone_was_reset_must_set_it_up_again(world, client):
    from khien.conftest import _user

    deputy = _user("deputy@test.vn", world.ncsc, Role.NATIONAL_COORDINATOR)
    _device(deputy)
    _reset(_signed_in_with_second_factor(client, world.coordinator), world.ncsc, deputy)
    assert not twofactor.has_confirmed_device(deputy) and twofactor.needs_second_factor(deputy)


@pytest.mark.parametrize("case", ["oneself", "member elsewhere", "no device"])
def test_refusals_change_nothing(world, client, case):
    target = world.admin if case == "oneself" else world.analyst
    _signed_in_with_second_factor(client, world.admin)
    if case != "no device" and target != world.admin:
        _device(target)
    if case == "member elsewhere":  # also in the province, which the ministry's administrator does not run
        Membership.objects.create(user=target, organization=world.province, role=Role.ORG_ANALYST)
    before = AuditEntry.objects.count(), TOTPDevice.objects.count()
    response = _reset(client, world.ministry, target)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1 and ("hai bước" in messages[0])
    assert (AuditEntry.objects.count(), TOTPDevice.objects.count()) == before


def test_non_administrators_and_other_organizations_are_refused(world, as_user):
    _device(world.analyst)
    membership = Membership.objects.get(user=world.analyst)
    url = reverse("registry:organization_member_second_factor", args=[world.ministry.pk, membership.pk])
    assert as_user(world.auditor).post(url).status_code == 403
    assert as_user(world.other_admin).post(url).status_code == 404  # another tree: not even seen
    assert as_user(world.other_admin).get(url).status_code in (404, 405)
    assert TOTPDevice.objects.filter(user=world.analyst).exists()


def test_the_operator_resets_from_the_command_line(world, capsys):
    _device(world.admin)
    call_command("reset_second_factor", "ADMIN@min.test.vn")
    assert not TOTPDevice.objects.filter(user=world.admin).exists()
    assert "reset" in capsys.readouterr().out
    entry = AuditEntry.objects.filter(object_id=str(world.admin.pk)).latest("seq")
    assert entry.actor_id in ("", None) and entry.after == {"second_factor": "reset"}
    with pytest.raises(CommandError):
        call_command("reset_second_factor", "admin@min.test.vn")  # nothing left to reset
    with pytest.raises(CommandError):
        call_command("reset_second_factor", "nobody@nowhere.vn")
