"""Core operations: API tokens and second-factor devices. Each is atomic and audited."""
import datetime as dt
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit
from .audit import Act
from .errors import Refused
from .models import ApiToken, User, hash_token

TOKEN_PREFIX = "khn_"


def usable_tokens(user: User):
    """The user's tokens that still open the API (not revoked, not past their end): `ApiToken.is_usable` as a query."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))


@transaction.atomic
def do_create_api_token(user: User, *, acting_user, name: str = "", expires_at=None) -> tuple[ApiToken, str]:
    """Create a token for `user`; return it with the key, which is shown once and never stored. A name another of
    the user's usable tokens has (case aside) is refused: the list and the audit log could not tell them apart."""
    name = name[:100]
    if name.strip() and usable_tokens(user).filter(name__iexact=name.strip()).exists():
        raise ValidationError({"name": _("You already have an active token named “%(name)s”: choose another name, "
                                         "or revoke that token first.") % {"name": name.strip()}}, code="duplicate")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_token(key), prefix=key[:12], expires_at=expires_at
    )
    audit.record(Act.CREATE, token, actor=acting_user)
    return token, key


@transaction.atomic
def do_revoke_api_token(token: ApiToken, *, acting_user) -> None:
    before = audit.snapshot(token)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(Act.UPDATE, token, actor=acting_user, before=before)


def sign_in_organizations(user: User) -> list[str]:
    """The organizations a sign-in of `user` is filed under, so that those who read each of their organizations'
    log (its administrators, auditors, the people of its parents: `AuditEntry.objects.visible_to`) read it too: one
    per organization they hold a role in, except one whose unit they also hold a role in (the entry filed under the
    unit is read from the parent). None for a person without a role: the entry is then theirs alone (and the
    national coordinator's)."""
    from .scoping import memberships_of, scope_within

    paths = {path: str(org_id) for _role, path, org_id in memberships_of(user)}
    # The parent's entry is left out only where the parent reads the unit's: not across a coordination boundary
    # (decision 0001), where each keeps its own.
    return [org_id for path, org_id in sorted(paths.items())
            if not any(other != path and scope_within(user, (path,)).covers_path(other) for other in paths)]


@transaction.atomic
def record_sign_in(user: User, *, ip: str) -> None:
    """A sign-in, in the log: one entry per organization of `sign_in_organizations` (the same time, address and
    person), or one filed under no organization. One append, so the chain stays whole."""
    organizations = sign_in_organizations(user) or [""]
    audit.record_many([audit.Change(action=Act.LOGIN, obj=user, after={"ip": ip}, organization_id=org_id)
                       for org_id in organizations], actor=user)


@transaction.atomic
def do_confirm_totp_device(device: TOTPDevice, *, acting_user) -> None:
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record(Act.CREATE, device, actor=acting_user, after={"user": str(device.user_id), "confirmed": True})
    # A new authenticator after a reset: the person may go on (`twofactor.needs_second_factor`).
    User.objects.filter(pk=device.user_id, must_enrol_second_factor=True).update(must_enrol_second_factor=False)


@transaction.atomic
def do_reset_second_factor(user: User, *, acting_user) -> int:
    """Remove every authenticator device of `user` (a lost or replaced phone) and make them set up a new one: every
    session they have open ends (one opened with the lost phone must not stay open), and their next sign-in shows
    no page before they enrolled a new authenticator, whatever their role (`User.must_enrol_second_factor`, cleared
    by `do_confirm_totp_device`). Who may ask for it is the caller's rule (an organization's administrator:
    `registry.services.do_reset_member_second_factor`; the server's operator: `khien reset_second_factor`).
    Audited; returns how many devices were removed (0: nothing to reset, nothing recorded, nothing changed)."""
    devices = TOTPDevice.objects.filter(user=user)
    removed = devices.count()
    if removed:
        devices.delete()
        user.must_enrol_second_factor = True
        user.session_generation += 1  # part of every session's hash: all of them end (`User._get_session_auth_hash`)
        user.save(update_fields=["must_enrol_second_factor", "session_generation"])
        audit.record(Act.UPDATE, user, actor=acting_user, before={"second_factor": "on"},
                     after={"second_factor": "reset"})
    return removed


@transaction.atomic
def do_change_password(user: User, new_password: str, *, acting_user) -> None:
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    audit.record(Act.UPDATE, user, actor=acting_user, after={"password": "changed"})


@transaction.atomic
def do_remember_language(user: User, language: str) -> bool:
    """Keep the language `user` chose with the switch (one of settings.LANGUAGES), so that what is written to them
    later, away from their browser (e-mails), is in it; returns whether it changed."""
    if language not in dict(settings.LANGUAGES):
        return False
    return _set_own_preference(user, "language", language)


def _set_own_preference(user: User, field: str, value) -> bool:
    """A person's own choice kept on their account, audited; returns whether it changed (the same value writes
    nothing)."""
    if getattr(user, field) == value:
        return False
    before = {field: getattr(user, field)}
    setattr(user, field, value)
    user.save(update_fields=[field])
    audit.record(Act.UPDATE, user, actor=user, before=before, after={field: value})
    return True


def do_set_email_notifications(user: User, choice: str) -> bool:
    """What of one's notifications reaches one by e-mail (`EmailNotifications`: all, or the urgent ones only —
    urgent ones always do); audited; returns whether it changed. Refused (400) for an unknown choice."""
    from .models import EmailNotifications

    if choice not in EmailNotifications.values:
        raise Refused(_("Choose what you receive by e-mail."), code="invalid")
    return _set_own_preference(user, "email_notifications", choice)


@transaction.atomic
def do_create_user(email: str, password: str | None, *, acting_user, full_name: str = "") -> User:
    user = User.objects.create_user(email=email, password=password, full_name=full_name,
                                    must_change_password=acting_user is not None)
    audit.record(Act.CREATE, user, actor=acting_user)
    return user


def password_link(user: User, base_url: str | None = None) -> str:
    """The one-time address where `user` chooses a password: Django's reset token, which stops working once the
    password changes (or the user signs in) and after PASSWORD_RESET_TIMEOUT. For a new account (sent to its
    owner, never shown to whoever created it) and for a forgotten password."""
    from django.contrib.auth.tokens import default_token_generator
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    path = reverse("core:password_set", args=[urlsafe_base64_encode(force_bytes(user.pk)),
                                              default_token_generator.make_token(user)])
    return (base_url or settings.KHIEN_PUBLIC_URL).rstrip("/") + path


PASSWORD_LINK_INTERVAL = dt.timedelta(minutes=10)
PASSWORD_LINK_CLIENT_WINDOW = dt.timedelta(hours=1)


def password_link_client_limit() -> int:
    """How many "forgot your password" links one client address may have sent per PASSWORD_LINK_CLIENT_WINDOW
    (KHIEN_PASSWORD_LINK_CLIENT_LIMIT; generous, as a whole office may share one address behind its NAT)."""
    return int(getattr(settings, "KHIEN_PASSWORD_LINK_CLIENT_LIMIT", 10))


def client_address(request) -> str:
    """The address of the client that sent `request`, as the sign-in throttling (django-axes) reads it: the same
    rule for every per-client limit (REMOTE_ADDR, unless the operator configured axes for a reverse proxy)."""
    from axes.helpers import get_client_ip_address

    return (get_client_ip_address(request) or "") if request is not None else ""


def may_send_password_link(user: User, now: dt.datetime | None = None, *, client: str = "") -> bool:
    """At most one "forgot your password" link per account per PASSWORD_LINK_INTERVAL, and at most
    `password_link_client_limit()` links asked from one client address per PASSWORD_LINK_CLIENT_WINDOW, whatever
    the addresses asked for (one client could otherwise have links sent to the whole directory). Both read from the
    audit log, where each link sent is recorded with the client's address: the same for every process of the
    platform, with no other service."""
    from .models import AuditEntry

    now = now or timezone.now()
    links = AuditEntry.objects.filter(action=Act.PASSWORD_LINK)
    if links.filter(object_id=str(user.pk), at__gte=now - PASSWORD_LINK_INTERVAL).exists():
        return False
    if client and links.filter(at__gte=now - PASSWORD_LINK_CLIENT_WINDOW,
                               after__ip=client).count() >= password_link_client_limit():
        return False
    return True


def record_password_link(user: User, *, client: str = "") -> None:
    """The link sent, and to whose request (the client's address, as for a sign-in)."""
    audit.record(Act.PASSWORD_LINK, user, actor=None, after={"ip": client})

