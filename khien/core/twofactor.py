"""Who owes a TOTP second factor, and enrolment of a device (django-otp)."""
import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from .roles import ROLES_REQUIRING_TOTP
from .scoping import memberships_of


def has_confirmed_device(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def role_requires_second_factor(user) -> bool:
    """Does one of the person's roles demand a second factor (national coordinator; the server's superuser), or an
    organization they belong to (its setting, or that of an organization above it: `requiring_second_factor_over`)?"""
    if user.is_superuser:
        return True
    memberships = memberships_of(user)
    if any(role in ROLES_REQUIRING_TOTP for role, _p, _o in memberships):
        return True
    if not memberships:
        return False
    from khien.registry.models import Organization  # the registry holds the organizations' setting

    return Organization.objects.requiring_second_factor_over({path for _r, path, _o in memberships}).exists()


def needs_second_factor(user) -> bool:
    """Required for roles that demand it (national coordinator) and for a person whose two-step sign-in an
    administrator reset (until they enrolled a new authenticator); used by anyone who enrolled."""
    if has_confirmed_device(user) or getattr(user, "must_enrol_second_factor", False):
        return True
    return role_requires_second_factor(user)


def owes_second_factor(user) -> bool:
    """A signed-in session that has not passed its second factor yet (cached on the user object for the request):
    the middleware keeps it on the 2FA pages, the pages show it no navigation."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_khien_owes_second_factor", None)
    if cached is None:
        verified = getattr(user, "is_verified", None)
        cached = not (verified and verified()) and needs_second_factor(user)
        user._khien_owes_second_factor = cached
    return cached


def code_already_used(device: TOTPDevice, token) -> bool:
    """Is `token` a code this device accepted already (django-otp accepts each time step once)? Such a code is
    right but spent: the person should wait for the next one, not be told it is wrong."""
    try:
        token = int(token)
    except (TypeError, ValueError):
        return False
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if not totp.verify(token, device.tolerance):  # not a code of the current window at all
        return False
    return totp.t() <= device.last_t


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device being enrolled (created on first call)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Khiên", confirmed=False)
    return device
