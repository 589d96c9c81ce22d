"""Who owes a TOTP second factor, and enrolment of a device (django-otp)."""
from django_otp.plugins.otp_totp.models import TOTPDevice

from .roles import ROLES_REQUIRING_TOTP
from .scoping import memberships_of


def has_confirmed_device(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def needs_second_factor(user) -> bool:
    """Required for roles that demand it (national coordinator); used by anyone who enrolled."""
    if has_confirmed_device(user):
        return True
    return user.is_superuser or any(role in ROLES_REQUIRING_TOTP for role, _p, _o in memberships_of(user))


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device being enrolled (created on first call)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Khiên", confirmed=False)
    return device
