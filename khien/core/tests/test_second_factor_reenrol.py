"""After an administrator reset someone's two-step sign-in, that person must enrol a new authenticator before they
see anything (whatever their role), and every session they had open ends: a session opened with the lost phone
must not stay open, nor let its holder enrol a phone of their own. The log reads the reset as such."""
import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.conftest import TEST_PASSWORD
from khien.core import audit, services
from khien.core.models import AuditEntry
from khien.registry import services as registry_services
from khien.registry.models import Membership

pytestmark = pytest.mark.django_db


def _signed_in(user):
    """A browser of `user` signed in through the real flow (password, then the code of their authenticator)."""
    client = Client()
    assert client.post(reverse("core:login"), {"username": user.email, "password": TEST_PASSWORD}).status_code == 302
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        assert client.post(reverse("core:totp_verify"), {"token": f"{totp(device.bin_key):06d}"}).status_code == 302
    return client


def _reset(world, member):
    membership = Membership.objects.get(user=member, organization=world.ministry)
    registry_services.do_reset_member_second_factor(membership, acting_user=world.admin)


def test_a_reset_ends_the_members_sessions_and_makes_them_enrol_again(world):
    TOTPDevice.objects.create(user=world.analyst, name="old phone", confirmed=True)
    old_session = _signed_in(world.analyst)
    other_session = _signed_in(world.admin)
    assert old_session.get(reverse("core:audit")).status_code == 200
    _reset(world, world.analyst)
    world.analyst.refresh_from_db()
    assert world.analyst.must_enrol_second_factor
    # The session opened with the lost phone is over: back to the sign-in page, not to the enrolment page.
    response = old_session.get(reverse("core:audit"))
    assert response.status_code == 302 and response.url.startswith(reverse("core:login"))
    assert old_session.get(reverse("core:totp_enroll")).url.startswith(reverse("core:login"))
    assert other_session.get(reverse("core:audit")).status_code == 200  # nobody else is signed out
    # An analyst's role does not require a second factor; after the reset they still get no page before enrolling.
    client = _signed_in(world.analyst)
    for path in (reverse("core:audit"), "/", reverse("core:tokens")):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith(reverse("core:totp_enroll")), path
    assert client.get("/api/me/").status_code == 403
    page = client.get(reverse("core:totp_enroll"), HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert "data:image/svg+xml" in page and "Your role requires" not in page
    assert "was reset" in page or "đã được đặt lại" in page
    device = TOTPDevice.objects.get(user=world.analyst, confirmed=False)
    response = client.post(reverse("core:totp_enroll"), {"token": f"{totp(device.bin_key):06d}"})
    assert response.status_code == 302
    world.analyst.refresh_from_db()
    assert not world.analyst.must_enrol_second_factor
    assert client.get(reverse("core:audit")).status_code == 200


def test_the_operators_reset_does_the_same(world):
    from django.core.management import call_command

    TOTPDevice.objects.create(user=world.admin, name="old phone", confirmed=True)
    old_session = _signed_in(world.admin)
    call_command("reset_second_factor", world.admin.email)
    assert old_session.get(reverse("core:audit")).url.startswith(reverse("core:login"))
    client = _signed_in(world.admin)
    assert client.get(reverse("core:audit")).url.startswith(reverse("core:totp_enroll"))


def test_nothing_to_reset_changes_nothing(world):
    session = _signed_in(world.analyst)  # no authenticator
    assert services.do_reset_second_factor(world.analyst, acting_user=world.admin) == 0
    world.analyst.refresh_from_db()
    assert not world.analyst.must_enrol_second_factor and world.analyst.session_generation == 0
    assert session.get(reverse("core:audit")).status_code == 200


def test_a_password_change_still_ends_other_sessions_after_a_reset(world):
    """The session hash still covers the password once the generation is raised."""
    TOTPDevice.objects.create(user=world.analyst, name="old phone", confirmed=True)
    _reset(world, world.analyst)
    client = _signed_in(world.analyst)
    client.get(reverse("core:totp_enroll"))
    device = TOTPDevice.objects.get(user=world.analyst, confirmed=False)
    client.post(reverse("core:totp_enroll"), {"token": f"{totp(device.bin_key):06d}"})
    assert client.get(reverse("core:audit")).status_code == 200
    world.analyst.refresh_from_db()
    services.do_change_password(world.analyst, "Another-pass-2026-x", acting_user=world.analyst)
    assert client.get(reverse("core:audit")).url.startswith(reverse("core:login"))


def test_the_log_reads_a_reset_as_one(world):
    TOTPDevice.objects.create(user=world.analyst, name="old phone", confirmed=True)
    _reset(world, world.analyst)
    entry = AuditEntry.objects.filter(object_id=str(world.analyst.pk)).latest("seq")
    from django.utils import translation

    with translation.override("en"):
        audit.describe([entry], world.admin)
        assert entry.action_label == "Two-step sign-in reset"
        [row] = audit.changes(entry, world.admin)
        assert row["label"] == "Two-step sign-in"
        assert row["before_name"] == "set up" and row["after_name"].startswith("reset")
    client = _signed_in(world.admin)
    page = client.get(reverse("core:audit_entry", args=[entry.seq]), HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert "Second factor" not in page
