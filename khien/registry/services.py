"""Registry operations. The only place that changes registry state.

Every `do_*` function takes `acting_user`, checks the user's right through
`khien.core.scoping`, validates with the model's own rules (`full_clean`),
writes in one transaction and appends to the audit log. Views, the API,
imports and commands all call these.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import PROTECT, RESTRICT, Exists, OuterRef, ProtectedError, Q, RestrictedError, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.core import audit, notifications
from khien.core import services as core_services
from khien.core.audit import Act
from khien.core.errors import Forbidden, Refused, file_too_large
from khien.core.models import User
from khien.core.roles import ROLE_ACTIONS, Action, Role
from khien.core.scoping import (Scope, is_national_coordinator, memberships_of, scope_for,
                                scope_within, user_can)

from . import levels
from .models import (
    DossierFile,
    InformationSystem,
    Isac,
    LevelEvent,
    LevelFramework,
    LevelStatus,
    Membership,
    Organization,
)
from .validators import normalize_domains, normalize_ip_ranges

log = logging.getLogger(__name__)

ORG_FIELDS = [
    "code", "name_vi", "name_en", "org_type", "parent", "province", "address", "hotline", "contact_email",
    "duty_officer", "duty_officer_phone", "head_name", "head_title", "head_email", "head_phone", "is_active",
    "require_second_factor",
]
# An organization's code (how every import, export and reference names it) is changed only by those with the
# delete right over it (its administrators, the coordinator): analysts edit the rest. Switching it off (its
# people lose its data) takes what deleting it takes (`may_delete_organization`): the right over its parent.
IDENTITY_FIELDS = frozenset({"code"})
SWITCH_OFF_FIELDS = frozenset({"is_active"})
# How its people sign in is set by those who manage its members (its administrators, those above, the coordinator).
SIGN_IN_FIELDS = frozenset({"require_second_factor"})
SYSTEM_FIELDS = [
    "code", "name", "owner", "operator", "purpose", "operational_status", "important_to_national_security",
    "internet_facing", "ip_ranges", "domains", "products",
    "layer1_status", "layer1_evidence", "layer2_status", "layer2_provider", "layer2_evidence",
    "layer3_status", "layer3_assessed_on", "layer3_assessor", "layer3_evidence",
    "layer4_status", "layer4_connected_on", "layer4_evidence",
]
# Level proposal fields: editable only while the proposal is a draft or was returned.
PROPOSAL_FIELDS = ["proposed_level", "criteria", "level_justification"]
EDITABLE_LEVEL_STATES = {LevelStatus.DRAFT, LevelStatus.RETURNED}


def _require(user, action: str, organization: Organization, message=None):
    if organization is None or not user_can(user, action, organization):
        raise Forbidden(message or _("You do not have the right to do this for that organization."))


def _current(obj, name):
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:  # a required relation not set yet (new object)
        return None


def _assign(obj, data: dict, allowed: list[str]) -> set[str]:
    changed = set()
    for name in allowed:
        if name in data and _current(obj, name) != data[name]:
            setattr(obj, name, data[name])
            changed.add(name)
    return changed


# --- Organizations -----------------------------------------------------------------


def _check_parent(acting_user, parent: Organization | None):
    if parent is None:
        if not is_national_coordinator(acting_user):
            raise Forbidden(_("Only the national coordinator can create a top-level organization."))
    else:
        _require(acting_user, Action.ADD, parent, _("You cannot add units under that organization."))


def may_set_sign_in(user, org: Organization | None, parent: Organization | None = None) -> bool:
    """May `user` require two-step sign-in of the members of `org` (or of a new unit under `parent`)? Those who manage
    its members: its administrators, those of an organization above it, the national coordinator."""
    target = org if org is not None else parent
    if target is None:
        return is_national_coordinator(user)
    return user_can(user, Action.MANAGE_MEMBERS, target)


def _sign_in_denied() -> Forbidden:
    return Forbidden(_("Only the administrators of the organization or of an organization above it, or the national "
                       "coordinator, can require two-step sign-in of its members."))


def second_factor_required_above(org: Organization) -> Organization | None:
    """The nearest organization above `org` that requires two-step sign-in (its members must use it whatever `org`'s
    own setting says), or None."""
    above = [path for path in org.ancestor_paths() if path != org.path]
    return (Organization.objects.filter(path__in=above, require_second_factor=True)
            .order_by("-path").first() if above else None)


@transaction.atomic
def do_create_organization(data: dict, *, acting_user, sectors=None) -> Organization:
    _check_parent(acting_user, data.get("parent"))
    if data.get("require_second_factor") and not may_set_sign_in(acting_user, None, data.get("parent")):
        raise _sign_in_denied()
    org = Organization()
    _assign(org, data, ORG_FIELDS)
    org.path = org.compute_path()
    org.full_clean()
    org.save()
    if sectors is not None:
        org.sectors.set(sectors)
    audit.record(Act.CREATE, org, actor=acting_user)
    return org


def _rewrite_subtree_paths(org: Organization, old_path: str) -> None:
    """After a move, every descendant's path takes the new prefix."""
    descendants = list(Organization.objects.filter(path__startswith=old_path).exclude(pk=org.pk))
    for d in descendants:
        d.path = org.path + d.path[len(old_path):]
    Organization.objects.bulk_update(descendants, ["path"], batch_size=500)


@transaction.atomic
def do_update_organization(org: Organization, data: dict, *, acting_user, sectors=None) -> Organization:
    _require(acting_user, Action.CHANGE, org)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    before = audit.snapshot(org)
    old_parent_id, old_path = org.parent_id, org.path
    # Judged where the organization stands (before a move in the same change).
    if any(name in data and data[name] != getattr(org, name) for name in SWITCH_OFF_FIELDS) \
            and not may_delete_organization(acting_user, org):
        raise Forbidden(deletion_denied_message(org, switching=True))
    if any(name in data and data[name] != getattr(org, name) for name in SIGN_IN_FIELDS) \
            and not may_set_sign_in(acting_user, org):
        raise _sign_in_denied()
    changed = _assign(org, data, ORG_FIELDS)
    if changed & IDENTITY_FIELDS:
        _require(acting_user, Action.DELETE, org, _("Only the organization's administrators or the national "
                                                     "coordinator can change its code."))
    if "parent" in changed:
        if old_parent_id is None and not is_national_coordinator(acting_user):
            raise Forbidden(_("Only the national coordinator can move a top-level organization."))
        _check_parent(acting_user, org.parent)
        org.full_clean()
        org.path = org.compute_path()
    org.full_clean()
    org.save()
    if org.path != old_path:
        _rewrite_subtree_paths(org, old_path)
    if sectors is not None:
        org.sectors.set(sectors)
    audit.record(Act.UPDATE, org, actor=acting_user, before=before)
    return org


def may_delete_organization(user, org: Organization) -> bool:
    """Deleting an organization, or switching it off or on again, takes the delete right over its parent, as
    creating it took the right to add there (`_check_parent`): an administrator may delete or switch off a unit
    under their organization, never the organization their own role is held in (switched off, it would lock
    them out as surely as deleted); a top-level organization (a ministry, a province) only the national
    coordinator may."""
    if org.parent_id is None:
        return is_national_coordinator(user)
    return user_can(user, Action.DELETE, org.parent)


def deletion_denied_message(org: Organization, switching: bool = False) -> str:
    """Why `may_delete_organization` refuses, naming who may (the parent's name is public within the platform)."""
    names = {"name": org.name, "parent": org.parent.name if org.parent_id else ""}
    if org.parent_id is None:
        if switching:
            return _("“%(name)s” is a top-level organization: only the national coordinator can switch it off or "
                     "on again.") % names
        return _("“%(name)s” is a top-level organization: only the national coordinator can delete it.") % names
    if switching:
        return _("Only the national coordinator or an administrator of “%(parent)s”, the organization above "
                 "“%(name)s”, can switch it off or on again.") % names
    return _("Only the national coordinator or an administrator of “%(parent)s”, the organization above "
             "“%(name)s”, can delete it.") % names


# What keeps an organization from being deleted besides what the database protects (PROTECT / RESTRICT): its people.
_BLOCKING_RELATIONS = {("registry", "membership", "organization")}
_RELATION_LABELS = {
    ("registry", "organization", "parent"): _l("units"),
    ("registry", "informationsystem", "owner"): _l("information systems it owns"),
    ("registry", "informationsystem", "operator"): _l("information systems it operates"),
    ("registry", "membership", "organization"): _l("members"),
    ("registry", "isac", "operator"): _l("ISACs it operates"),
    ("registry", "isac", "members"): _l("ISACs it is a member of"),
}


def organization_dependents(org: Organization) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """What refers to `org`, counted, as ([(label, n)] that keep it from being deleted, [(label, n)] that its
    deletion would delete or unlink as well). Read from the model relations, so that what later modules add
    (incidents, intelligence, telemetry…) is counted without this module knowing them."""
    blocking, lost = [], []
    for rel in Organization._meta.related_objects:
        model, field = rel.related_model, rel.field
        key = (model._meta.app_label, model._meta.model_name, field.name)
        count = model._base_manager.filter(**{field.name: org}).count()
        if not count:
            continue
        label = str(_RELATION_LABELS.get(key) or model._meta.verbose_name_plural)
        protected = not rel.many_to_many and rel.on_delete in (PROTECT, RESTRICT)
        (blocking if protected or key in _BLOCKING_RELATIONS else lost).append((label, count))
    return blocking, lost


def _listing(items) -> str:
    return ", ".join(f"{label} ({n})" for label, n in items)


@transaction.atomic
def do_delete_organization(org: Organization, *, acting_user) -> None:
    """Delete an organization nothing depends on; one that has units, systems, members, incidents… is switched
    off instead (`is_active`, on its edit page)."""
    if not may_delete_organization(acting_user, org):
        raise Forbidden(deletion_denied_message(org))
    org = Organization.objects.select_for_update().get(pk=org.pk)
    blocking, _lost = organization_dependents(org)
    if blocking:
        raise Refused(_("This organization cannot be deleted: it still has %(what)s. Move or remove them first, "
                        "or switch the organization off instead.") % {"what": _listing(blocking)}, code="in_use")
    before = audit.snapshot(org)
    audit.record(Act.DELETE, org, actor=acting_user, before=before)
    try:
        org.delete()
    except (ProtectedError, RestrictedError) as exc:  # a reference made since the count: nothing is deleted
        kinds = sorted({str(obj._meta.verbose_name_plural) for obj in getattr(exc, "protected_objects", None)
                        or exc.restricted_objects})
        raise Refused(_("This organization cannot be deleted: %(kinds)s still refer to it. Switch it off instead.")
                      % {"kinds": ", ".join(kinds)}, code="in_use") from None


MEMBERSHIP_NOTICE = "registry.membership"


def _tell_member(user: User, title: notifications.Text, acting_user, url: str = "") -> None:
    """A person learns at once (in the platform and by e-mail) that their role in an organization was given, changed
    or taken away: a role elsewhere is granted by that organization's administrators, not by the person, and
    nobody should hold one without knowing. Kept as `Text`s: the person reads it in their own language (the
    acting administrator may read Khiên in another)."""
    notifications.notify([user], kind=MEMBERSHIP_NOTICE, title=title, body=_by_whom(acting_user), url=url,
                         urgent=True)


def _by_whom(acting_user) -> notifications.Text:
    return notifications.Text(_l("By %(actor)s. If you did not expect this, tell the organization's administrator "
                                 "or the national coordinator."),
                              # the address, not the name: a person told of a role they did not expect can check it
                              {"actor": getattr(acting_user, "email", "") or "Khiên"})


def _membership_names(organization: Organization, role: str, old_role: str | None = None) -> dict:
    """The parameters of the membership notices: the organization's name and the roles' labels, each shown in the
    reader's language."""
    names = {"org": notifications.ByLanguage.name_of(organization), "role": Role(role).label}
    if old_role:
        names["old"] = Role(old_role).label
    return names


def _org_url(organization: Organization) -> str:
    return reverse("registry:organization_detail", args=[organization.pk])


NATIONAL_ROLE_UNCONFIRMED = "national_role_unconfirmed"


@transaction.atomic
def do_set_membership(organization: Organization, user: User, role: str, *, acting_user,
                      create_only: bool = False, notify_user: bool = True,
                      confirm_national_role: bool = False) -> Membership:
    """Give `user` `role` in `organization`, or change the role they hold there; `create_only` refuses (409) a
    user who holds one already (the API's create). The user is told (`notify_user`: unless the caller tells them
    itself, as `do_add_member` does for a new account). Giving the role they hold already changes nothing.

    Granting the national coordinator role (rights over every organization) is refused unless the caller says it
    was confirmed (`confirm_national_role`: the page's checkbox, the API's field of that name)."""
    _require(acting_user, Action.MANAGE_MEMBERS, organization)
    if role == Role.NATIONAL_COORDINATOR and not is_national_coordinator(acting_user):
        raise Forbidden(_("Only the national coordinator can grant the national coordinator role."))
    if role not in Role.values:
        raise Refused(_("Unknown role."))
    membership = Membership.objects.select_for_update().filter(user=user, organization=organization).first()
    if membership is not None and create_only:
        raise _already_member()
    if membership is not None and membership.role == role:
        return membership
    if role == Role.NATIONAL_COORDINATOR and not confirm_national_role:
        raise Refused(national_role_unconfirmed_message(), code=NATIONAL_ROLE_UNCONFIRMED)
    if membership is not None:
        refuse_locking_oneself_out(membership, acting_user, new_role=role)
    before = audit.snapshot(membership) if membership else None
    old_role = membership.role if membership else None
    if membership is None:
        _reopen_account(user, acting_user=acting_user, organization=organization)
        try:
            with transaction.atomic():  # a savepoint: a concurrent request may have given the same user a role
                membership = Membership.objects.create(user=user, organization=organization, role=role)
        except IntegrityError:
            raise _already_member() from None
    else:
        membership.role = role
        membership.save(update_fields=["role"])
    audit.record(Act.UPDATE if before else Act.CREATE, membership, actor=acting_user, before=before,
                 organization_id=str(organization.pk))
    if notify_user:
        names = _membership_names(organization, role, old_role)
        if old_role is None:
            title = notifications.Text(_l("You were given the role “%(role)s” in %(org)s"), names)
        else:
            title = notifications.Text(_l("Your role in %(org)s changed from “%(old)s” to “%(role)s”"), names)
        _tell_member(user, title, acting_user, _org_url(organization))
    return membership


# --- Reading the members ---------------------------------------------------------
#
# An organization's members (who, which role, two-step sign-in on or off, account active) are read by those who manage
# them and by its auditors (an access-control review), each over the organization their role is in and the units under
# it. Reading only: every change of a membership takes the right to manage members (`do_set_membership`…).
MEMBER_READING_ROLES = frozenset({Role.AUDITOR})


def _member_reading_scope(user) -> Scope:
    manage = scope_for(user, Action.MANAGE_MEMBERS)
    if manage.everything:
        return manage
    paths = set(manage.paths) | {path for role, path, _o in memberships_of(user) if role in MEMBER_READING_ROLES}
    return scope_within(user, paths)


def member_reading_organization_ids(user) -> list[str] | None:
    """The ids (as text, as the audit log files them) of the organizations whose members `user` may read; None
    for every organization. Who reads a person's sign-ins (`core.models.AuditEntryQuerySet.visible_to`)."""
    scope = _member_reading_scope(user)
    if scope.everything:
        return None
    if not scope.paths:
        return []
    return [str(pk) for pk in scope.organizations().values_list("pk", flat=True)]


def may_read_members(user, organization: Organization) -> bool:
    """May `user` read the members of `organization` (`members_readable_by`)?"""
    return _member_reading_scope(user).covers_path(organization.path)


def members_readable_by(user):
    """The memberships `user` may read, the organization's page and the API alike, each with `second_factor_on`
    (the person has a confirmed authenticator, `core.twofactor.has_confirmed_device`: two-step sign-in is on)."""
    scope = _member_reading_scope(user)
    if scope.everything:
        memberships = Membership.objects.all()
    elif scope.paths:
        memberships = Membership.objects.filter(scope.q("organization__path"))
    else:
        memberships = Membership.objects.none()
    return memberships.annotate(second_factor_on=Exists(
        TOTPDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)))


@transaction.atomic
def refuse_member_second_factor_reset(membership: Membership, *, acting_user) -> None:
    """Raises Forbidden when `acting_user` may not reset this member's two-step sign-in (the rule of
    `do_reset_member_second_factor`, also read by the page before it asks for a confirmation)."""
    _require(acting_user, Action.MANAGE_MEMBERS, membership.organization)
    if acting_user is not None and membership.user_id == acting_user.pk:
        raise Forbidden(_("You cannot reset your own two-step sign-in: ask another administrator of your "
                          "organization or the national coordinator."))
    for other in Membership.objects.filter(user_id=membership.user_id).select_related("organization"):
        _require(acting_user, Action.MANAGE_MEMBERS, other.organization,
                 _("This person also belongs to an organization you do not administer: its administrator or the "
                   "national coordinator resets their two-step sign-in."))


def do_reset_member_second_factor(membership: Membership, *, acting_user) -> None:
    """An administrator moves a member's two-step sign-in to a new phone: the member's authenticator devices are
    removed and their open sessions end (`core.services.do_reset_second_factor`); they set up a new one at their next
    sign-in before they see anything; they are told at once. Only someone who manages members in *every* organization the person belongs to (or the national
    coordinator): an administrator of one small organization must not weaken the account of a national coordinator
    who also sits in it. Not for oneself: another administrator does it (a stolen session could otherwise remove
    the second factor it lacks). 409 when the member has no device to reset."""
    refuse_member_second_factor_reset(membership, acting_user=acting_user)
    user = membership.user
    if not core_services.do_reset_second_factor(user, acting_user=acting_user):
        raise Refused(_("This person has not set up two-step sign-in: there is nothing to reset."),
                      code="no_second_factor", status=409)
    _tell_member(user, notifications.Text(_l(
        "Your two-step sign-in was reset: at your next sign-in, scan the new QR code with the authenticator app of "
        "your phone")), acting_user)


def _already_member() -> Refused:
    return Refused(_("This user already has a role in that organization; change that membership instead."),
                   code="exists", status=409)


def refuse_locking_oneself_out(membership: Membership, acting_user, new_role: str | None = None) -> None:
    """An organization's only administrator may not take away their own role (demoted or removed, they could not
    undo it, and nobody in the organization could manage its members). Another administrator, or the national
    coordinator, may."""
    if (acting_user is None or membership.user_id != acting_user.pk or membership.role != Role.ORG_ADMIN
            or new_role == Role.ORG_ADMIN or is_national_coordinator(acting_user)):
        return
    others = (Membership.objects.filter(organization_id=membership.organization_id, role=Role.ORG_ADMIN,
                                        user__is_active=True).exclude(pk=membership.pk))
    if not others.exists():
        raise Refused(_("You are this organization's only administrator: make another member administrator first."),
                      code="last_administrator", status=409)


def national_role_unconfirmed_message() -> str:
    return _("The national coordinator role gives rights over every organization: confirm that you mean to grant "
             "it.")


@transaction.atomic
def do_add_member(organization: Organization, email: str, role: str, *, acting_user, full_name: str = "",
                  create_only: bool = False, confirm_national_role: bool = False) -> Membership:
    """Give `email` a role in `organization`, creating the account if there is none.

    The caller learns nothing about whether the account existed: the answer and the person's being told are the
    same either way (an administrator could otherwise probe which addresses have an
    account on the platform). An existing account is notified (`do_set_membership`); a new one has no password
    until its owner chooses one through the one-time link of its welcome e-mail (`core.services.password_link`:
    no password travels by e-mail, none is shown to the administrator; a lost e-mail is replaced from the sign-in
    page, "Forgot your password?"). An account closed with its last role is opened again (`_reopen_account`): its
    owner signs in with their password as before.
    """
    _require(acting_user, Action.MANAGE_MEMBERS, organization)
    email = email.strip()
    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if created:
        user = core_services.do_create_user(email.lower(), None, acting_user=acting_user, full_name=full_name)
    membership = do_set_membership(organization, user, role, acting_user=acting_user, create_only=create_only,
                                   notify_user=not created, confirm_national_role=confirm_national_role)
    if created:
        message = _welcome_message(user, organization, role, core_services.password_link(user), acting_user)
        transaction.on_commit(lambda: _send_welcome(message))
    return membership


def _welcome_message(user: User, organization: Organization, role: str, link: str, acting_user) -> EmailMessage:
    with notifications.platform_language():
        subject = _("[Khiên] An account was created for you")
        body = "\n\n".join([
            _("%(actor)s gave you the role “%(role)s” in %(org)s on Khiên, the national cybersecurity coordination "
              "platform, and created your account.") % {
                "actor": getattr(acting_user, "email", "") or "Khiên", "role": Role(role).label, "org": organization.name},
            _("Choose your password at this address (it works once, for three days), then sign in with your e-mail "
              "address:"),
            link,
            _("If the link no longer works, ask for a new one on the sign-in page (“Forgot your password?”). If you "
              "did not expect this message, tell the national coordinator."),
        ])
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def _send_welcome(message: EmailMessage) -> None:
    """Sent once, after the commit; not kept (it holds a one-time link). If it is lost, its owner asks for a new
    link on the sign-in page."""
    try:
        message.send()
    except Exception:
        log.exception("the new account's e-mail to %s failed", message.to)


def last_roles(memberships) -> set:
    """The ids of those of `memberships` that are their person's last role on the platform (one query for a page of
    members): removing one closes the person's account (`do_remove_membership`). A person who left holds no role, and
    must not keep signing in, nor keep sessions or API tokens that read what every signed-in person reads (TLP:CLEAR
    intelligence, their own notices). The server's superuser, an account of its operator, is left to the operator."""
    memberships = list(memberships)
    elsewhere = set(Membership.objects.filter(user_id__in=[m.user_id for m in memberships])
                    .exclude(pk__in=[m.pk for m in memberships]).values_list("user_id", flat=True).distinct())
    # Two rows of one person on the list (not on one organization's page): neither is the last while both exist.
    count = {}
    for m in memberships:
        count[m.user_id] = count.get(m.user_id, 0) + 1
    return {m.pk for m in memberships
            if m.user_id not in elsewhere and count[m.user_id] == 1 and not m.user.is_superuser}


def removal_closes_account(membership: Membership) -> bool:
    """Is `membership` the person's last role (`last_roles`)?"""
    return membership.pk in last_roles([membership])


def _close_account(user: User, *, acting_user, organization: Organization) -> None:
    """The person's last role was removed: the account is deactivated (no sign-in), every session of it ends and
    every API token of it is revoked, each audited (the account's entry under the organization its last role was in,
    for that organization's administrators to read). Giving them a role again opens it (`_reopen_account`); the
    tokens stay revoked."""
    for token in core_services.usable_tokens(user):
        core_services.do_revoke_api_token(token, acting_user=acting_user)
    user.is_active = False
    user.session_generation += 1  # part of every session's hash: all of them end (`User._get_session_auth_hash`)
    user.save(update_fields=["is_active", "session_generation"])
    audit.record(Act.UPDATE, user, actor=acting_user, before={"is_active": True}, after={"is_active": False},
                 organization_id=str(organization.pk))


def _reopen_account(user: User, *, acting_user, organization: Organization) -> None:
    """A person whose account was closed with their last role (inactive, no role) is given one again: they sign in
    again with their password (or choose one through "Forgot your password?")."""
    if user.is_active or user.is_superuser or Membership.objects.filter(user=user).exists():
        return
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit.record(Act.UPDATE, user, actor=acting_user, before={"is_active": False}, after={"is_active": True},
                 organization_id=str(organization.pk))


@transaction.atomic
def do_remove_membership(membership: Membership, *, acting_user) -> bool:
    """Take a person's role in an organization away; they are told. Their last role on the platform closes their
    account as well (`removal_closes_account`, `_close_account`), in the same transaction. Returns whether it did."""
    _require(acting_user, Action.MANAGE_MEMBERS, membership.organization)
    refuse_locking_oneself_out(membership, acting_user)
    # One removal of this person's roles at a time: two removals of their last two roles must not each see the other.
    user = User.objects.select_for_update().get(pk=membership.user_id)
    membership = Membership.objects.select_related("organization", "user").filter(pk=membership.pk).first()
    if membership is None:  # removed meanwhile: nothing left to do
        return False
    closes = removal_closes_account(membership)
    audit.record(Act.DELETE, membership, actor=acting_user, before=audit.snapshot(membership),
                 organization_id=str(membership.organization_id))
    organization, role = membership.organization, membership.role
    membership.delete()
    names = _membership_names(organization, role)
    if closes:
        title = notifications.Text(_l("You were removed from %(org)s (you had the role “%(role)s”); holding no other "
                                      "role, your Khiên account was deactivated"), names)
    else:
        title = notifications.Text(_l("You were removed from %(org)s (you had the role “%(role)s”)"), names)
    _tell_member(user, title, acting_user)  # told while still active (the notice of an inactive person is not sent)
    if closes:
        _close_account(user, acting_user=acting_user, organization=organization)
    return closes


# --- ISACs -------------------------------------------------------------------------


@transaction.atomic
def do_save_isac(isac: Isac | None, data: dict, *, acting_user, members=None) -> Isac:
    """Create or update an ISAC; its operator's administrators (or the coordinator) manage it."""
    operator = data.get("operator") or (isac.operator if isac else None)
    _require(acting_user, Action.MANAGE_MEMBERS, operator, _("Only the ISAC's operator can manage it."))
    if isac is not None:
        _require(acting_user, Action.MANAGE_MEMBERS, isac.operator, _("Only the ISAC's operator can manage it."))
    before = audit.snapshot(isac) if isac else None
    isac = isac or Isac()
    _assign(isac, data, ["code", "name_vi", "name_en", "sector", "operator", "description"])
    isac.full_clean()
    isac.save()
    if members is not None:
        earlier = set(isac.members.values_list("pk", flat=True))
        isac.members.set(members)
        now = set(isac.members.values_list("pk", flat=True))
        if now != earlier:  # its sharing channels follow the membership (read and write for members)
            from khien.intel.services import sync_isac_channels  # intel builds on the registry, not the reverse

            sync_isac_channels(isac, joined=now - earlier, left=earlier - now, acting_user=acting_user)
    audit.record(Act.UPDATE if before else Act.CREATE, isac, actor=acting_user, before=before,
                 organization_id=str(isac.operator_id))
    return isac


# --- Information systems ------------------------------------------------------------


def _normalize_system_lists(data: dict) -> dict:
    data = dict(data)
    for key, normalize in (("ip_ranges", normalize_ip_ranges), ("domains", normalize_domains)):
        value = data.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            try:
                data[key] = normalize(value)
            except ValueError:
                pass  # left as given: the model's validator names the bad value
    return data


def _apply_proposal(system: InformationSystem, data: dict) -> set[str]:
    """Set the criteria answers and proposed level, and recompute the suggestion."""
    touched = {k for k in PROPOSAL_FIELDS if k in data and getattr(system, k) != data[k]}
    if not touched:
        return set()
    if system.level_status not in EDITABLE_LEVEL_STATES:
        raise Refused(_("The level proposal can only be changed while it is a draft or has been returned."))
    _assign(system, data, PROPOSAL_FIELDS)
    if not system.criteria:
        system.suggested_level, system.suggestion_reason = None, ""  # no answers, no suggestion
        return touched
    # A proposal being written is judged by the criteria in force now (the form asks those questions).
    framework = levels.current_framework()
    if framework is None:
        raise Refused(_("No security-level framework is loaded."))
    try:
        suggestion = levels.suggest_level(framework, system.criteria)
    except levels.CriteriaError as exc:
        raise ValidationError({"criteria": str(exc)})
    system.framework = framework
    system.suggested_level = suggestion.level
    # Kept as written in the platform's language, a fallback only: readers get it in theirs (`levels.suggestion_reason`).
    with notifications.platform_language():
        system.suggestion_reason = levels.suggest_level(framework, system.criteria).reason_text
    return touched


def _check_operator(acting_user, system: InformationSystem, data: dict) -> None:
    """A new operator is one the user may name (`referable_by`); the one the system has already may stay."""
    operator = data.get("operator")
    if operator is None or operator.pk == system.operator_id:
        return
    if not Organization.objects.referable_by(acting_user).filter(pk=operator.pk).exists():
        raise ValidationError({"operator": _("No organization with code “%(v)s” that you can see.") % {
            "v": operator.code}})


@transaction.atomic
def do_create_system(data: dict, *, acting_user) -> InformationSystem:
    _require(acting_user, Action.ADD, data.get("owner"), _("You cannot register systems for that organization."))
    data = _normalize_system_lists(data)
    system = InformationSystem(framework=levels.current_framework())
    _check_operator(acting_user, system, data)
    _assign(system, data, SYSTEM_FIELDS)
    _apply_proposal(system, data)
    system.full_clean()
    system.save()
    audit.record(Act.CREATE, system, actor=acting_user)
    return system


@transaction.atomic
def do_update_system(system: InformationSystem, data: dict, *, acting_user) -> InformationSystem:
    _require(acting_user, Action.CHANGE, system.owner)
    system = InformationSystem.objects.select_for_update().get(pk=system.pk)
    before = audit.snapshot(system)
    data = _normalize_system_lists(data)
    if "owner" in data and data["owner"] != system.owner:
        _require(acting_user, Action.ADD, data["owner"], _("You cannot move systems to that organization."))
    _check_operator(acting_user, system, data)
    _assign(system, data, SYSTEM_FIELDS)
    _apply_proposal(system, data)
    system.full_clean()
    system.save()
    audit.record(Act.UPDATE, system, actor=acting_user, before=before)
    return system


def system_on_record(system: InformationSystem) -> bool:
    """A system whose level proposal has been submitted at least once is part of the level record (the dossier
    the appraiser read, the decision): it is retired, not deleted."""
    return system.approved_level is not None or system.level_events.exists()


@transaction.atomic
def do_delete_system(system: InformationSystem, *, acting_user) -> None:
    _require(acting_user, Action.DELETE, system.owner)
    system = InformationSystem.objects.select_for_update().get(pk=system.pk)
    if system_on_record(system):
        raise Refused(_("This system's security level has been submitted or approved: its dossier and decisions "
                        "are kept on record. Set its operational status to “Retired” instead of deleting it."),
                      code="on_record", status=409)
    audit.record(Act.DELETE, system, actor=acting_user, before=audit.snapshot(system))
    for f in system.dossier_files.all():
        f.file.delete(save=False)
    system.delete()


# What a level dossier holds: documents, spreadsheets, scans and archives of them. Each kind is recognised by its first
# bytes too, so a program renamed "ho-so.pdf" is refused: the appraiser downloads and opens these files.
_ZIP, _OLE = (b"PK\x03\x04",), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
DOSSIER_SIGNATURES = {
    "pdf": (b"%PDF-",), "docx": _ZIP, "xlsx": _ZIP, "pptx": _ZIP, "odt": _ZIP, "ods": _ZIP, "zip": _ZIP,
    "doc": _OLE, "xls": _OLE, "ppt": _OLE, "png": (b"\x89PNG\r\n\x1a\n",), "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",), "7z": (b"7z\xbc\xaf\x27\x1c",), "rar": (b"Rar!\x1a\x07",), "txt": None,
}


def dossier_kinds() -> str:
    """The extensions a dossier file may have, as the upload's help and its refusal name them: ".pdf, .docx, …"."""
    return ", ".join(f".{k}" for k in DOSSIER_SIGNATURES)


def _check_dossier_file(uploaded) -> None:
    """Refuses a file whose extension is not a dossier kind, or whose first bytes are not of that kind (a text file
    must be UTF-8 text)."""
    name = uploaded.name or ""
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    kinds = dossier_kinds()
    if extension not in DOSSIER_SIGNATURES:
        raise Refused(_("A level dossier takes documents, spreadsheets, scans and archives (%(kinds)s), not “%(name)s”.")
                      % {"kinds": kinds, "name": name[:80]}, code="file_type")
    uploaded.seek(0)
    head = uploaded.read(4096)
    uploaded.seek(0)
    signatures = DOSSIER_SIGNATURES[extension]
    if signatures is None:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            readable = exc.start >= len(head) - 3  # a character cut at the end of the first 4 KiB
        else:
            readable = True
        readable = readable and b"\x00" not in head
    else:
        readable = head.startswith(signatures)
    if not readable:
        raise Refused(_("“%(name)s” is not a .%(ext)s file: its content is of another kind.")
                      % {"name": name[:80], "ext": extension}, code="file_content")


# A dossier file keeps its name, its stem cut to this many characters (the extension kept): a name of hundreds of
# characters says no more than its start and would crowd the pages that list it.
DOSSIER_NAME_STEM = 120


def dossier_file_name(name: str) -> str:
    """The name a dossier file is kept under: its extension kept, a longer stem cut to DOSSIER_NAME_STEM characters
    ending in "…"."""
    stem, dot, extension = (name or "").rpartition(".")
    if not dot:
        stem, extension = extension, ""
    if len(stem) > DOSSIER_NAME_STEM:
        stem = stem[:DOSSIER_NAME_STEM - 1].rstrip() + "…"
    return f"{stem}{dot}{extension}"[:255]


def require_dossier_right(user, system: InformationSystem) -> None:
    """Adding a file to a system's dossier, or taking one out, takes the right to change the owner's records (403),
    judged before the file (or which file) is looked at."""
    _require(user, Action.CHANGE, system.owner)


def check_dossier_open(user, system: InformationSystem) -> None:
    """Refuses adding a file to the dossier, in one order for the page, the API and `do_add_dossier_file`, before the
    file is looked at: without the right, 403 (`require_dossier_right`); then a proposal no longer open to changes
    (neither a draft nor returned), 400."""
    require_dossier_right(user, system)
    if system.level_status not in EDITABLE_LEVEL_STATES:
        raise Refused(_("Files can only be added while the proposal is a draft or has been returned."))


@transaction.atomic
def do_add_dossier_file(system: InformationSystem, uploaded, *, acting_user) -> DossierFile:
    require_dossier_right(acting_user, system)
    system = InformationSystem.objects.select_for_update().get(pk=system.pk)  # the state as stored, not as passed
    check_dossier_open(acting_user, system)
    if uploaded.size > settings.KHIEN_MAX_UPLOAD_BYTES:
        raise file_too_large()
    _check_dossier_file(uploaded)
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    # The same content twice is one document listed twice for the appraiser: the copy is refused, naming the first.
    same = system.dossier_files.filter(sha256=digest.hexdigest()).first()
    if same is not None:
        raise Refused(_("The dossier already holds this file (the same content) as “%(name)s”.")
                      % {"name": same.original_name}, code="duplicate_file", status=409)
    dossier = DossierFile(
        system=system, original_name=dossier_file_name(uploaded.name), size=uploaded.size, sha256=digest.hexdigest(),
        content_type=(getattr(uploaded, "content_type", "") or "")[:100], uploaded_by=acting_user,
    )
    uploaded.seek(0)
    dossier.file.save(dossier.id.hex, uploaded, save=False)
    dossier.save()
    audit.record(Act.CREATE, dossier, actor=acting_user, organization_id=str(system.owner_id))
    return dossier


def may_remove_dossier_file(user, dossier: DossierFile) -> bool:
    """A file added since the proposal was last submitted (or never submitted) may be taken out by those who may add
    one; a file that went to appraisal is what the appraiser read and stays on record."""
    system = dossier.system
    if system.level_status not in EDITABLE_LEVEL_STATES or not user_can(user, Action.CHANGE, system.owner):
        return False
    submitted = _last_event(system, "submit")
    return submitted is None or dossier.uploaded_at > submitted.at


@transaction.atomic
def do_remove_dossier_file(dossier: DossierFile, *, acting_user) -> None:
    require_dossier_right(acting_user, dossier.system)
    InformationSystem.objects.select_for_update().filter(pk=dossier.system_id).first()  # one change of the dossier at a time
    dossier = DossierFile.objects.select_related("system__owner").get(pk=dossier.pk)
    if not may_remove_dossier_file(acting_user, dossier):
        raise Refused(_("This file was part of a submitted proposal (or the proposal is under review): it stays in "
                        "the dossier."), code="on_record", status=409)
    audit.record(Act.DELETE, dossier, actor=acting_user, before=audit.snapshot(dossier),
                 organization_id=str(dossier.system.owner_id))
    dossier.file.delete(save=False)
    dossier.delete()


# --- Security-level approval workflow ------------------------------------------------
#
#   draft ──submit──▶ submitted ──appraise──▶ appraised ──approve──▶ approved
#     ▲                   │                       │                     │
#     │                   └──return──▶ returned ◀─┘                     │
#     └──────────────── revise ◀─────────────────────────────────────────┘
#   (returned ──submit──▶ submitted)

TRANSITIONS = {
    "submit": ({LevelStatus.DRAFT, LevelStatus.RETURNED}, LevelStatus.SUBMITTED),
    "appraise": ({LevelStatus.SUBMITTED}, LevelStatus.APPRAISED),
    "approve": ({LevelStatus.APPRAISED}, LevelStatus.APPROVED),
    "return": ({LevelStatus.SUBMITTED, LevelStatus.APPRAISED}, LevelStatus.RETURNED),
    "revise": ({LevelStatus.APPROVED}, LevelStatus.DRAFT),
}


def _last_event(system: InformationSystem, action: str) -> LevelEvent | None:
    """The latest workflow step `action` taken on the system's level (None if never)."""
    return system.level_events.filter(action=action).order_by("-at", "-id").first()


def _last_submitter_id(system: InformationSystem):
    event = _last_event(system, "submit")
    return event.actor_id if event else None


def _last_appraiser_id(system: InformationSystem):
    """Who appraised the proposal now waiting for approval (None before an appraisal)."""
    if system.level_status != LevelStatus.APPRAISED:
        return None
    event = _last_event(system, "appraise")
    return event.actor_id if event else None


# The decision a proposal waits for in each state (the framework's `appraised_by` / `approved_by`), and the right an
# owner-side decider holds for it.
DECISION_STAGES = {LevelStatus.SUBMITTED: "appraised_by", LevelStatus.APPRAISED: "approved_by"}
STAGE_RIGHTS = {"appraised_by": Action.APPRAISE_LEVEL, "approved_by": Action.APPROVE_LEVEL}
DECISION_STEPS = ("appraise", "approve", "return")


def _deciding_roles(action: str) -> list[str]:
    """The roles of the owner's line that hold `action` (the national coordinator holds every right, but a decision
    is the coordinator's own only where the framework names the national level)."""
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions and role != Role.NATIONAL_COORDINATOR]


def _authority_q(stage: str, who: str) -> Q:
    """The systems whose framework gives `stage` of their proposed level to `who` ("owner" or "national"), as
    `levels.authority` reads it (no framework or no level: its default)."""
    q = Q(pk__in=[])
    if levels.authority(None, None, stage) == who:
        q |= Q(framework__isnull=True) | Q(proposed_level__isnull=True)
    for framework in LevelFramework.objects.all():
        chosen = [n for n in range(1, 6) if levels.authority(framework, n, stage) == who]
        if chosen:
            q |= Q(framework=framework, proposed_level__in=chosen)
    return q


def decidable_by(user, step: str, *, own_turn_only: bool = False):
    """The systems whose proposal `user` may take decision `step` on now ("appraise", "approve" or "return").

    The one statement of the rule, for one system (`may_take_step`), the home page's "To do" and the system list's
    `awaiting_me` filter alike: the decision at each stage is the framework's authority's for the proposed level
    (the owner's people who hold the right, in the owner's line, or the national coordinator), never the
    submitter's, and the approver is not the person who appraised (four eyes; the appraiser may still return it).
    The coordinator holds every right and may step in at any level; `own_turn_only` leaves that out and keeps the
    decisions that are the user's own (what waits for them)."""
    if step not in DECISION_STEPS or not getattr(user, "is_authenticated", False) or not user.is_active:
        return InformationSystem.objects.none()
    coordinator = is_national_coordinator(user)
    turn = Q(pk__in=[])
    for status in TRANSITIONS[step][0]:
        stage = DECISION_STAGES[status]
        if coordinator and not own_turn_only:
            turn |= Q(level_status=status)
            continue
        deciders = Q(pk__in=[])
        paths = tuple({path for role, path, _o in memberships_of(user)
                       if role in _deciding_roles(STAGE_RIGHTS[stage])})
        if paths:
            deciders |= _authority_q(stage, "owner") & scope_within(user, paths).q("owner__path")
        if coordinator:
            deciders |= _authority_q(stage, "national")
        turn |= Q(level_status=status) & deciders
    # The person behind the latest submission (and appraisal): one reads the proposal, another decides on it.
    def latest(action):
        return Subquery(LevelEvent.objects.filter(system=OuterRef("pk"), action=action)
                        .order_by("-at", "-id").values("actor_id")[:1])

    # A proposal with no recorded step (set before the workflow was logged, imported) has no submitter to leave
    # out: SQL's NOT (NULL = id) would drop it, so the missing step is let through explicitly.
    systems = InformationSystem.objects.filter(turn).annotate(last_submitter_id=latest("submit"))
    systems = systems.filter(Q(last_submitter_id__isnull=True) | ~Q(last_submitter_id=user.pk))
    if step == "approve":
        systems = systems.annotate(last_appraiser_id=latest("appraise")).filter(
            Q(last_appraiser_id__isnull=True) | ~Q(last_appraiser_id=user.pk))
    return systems


def may_take_step(user, system: InformationSystem, step: str) -> bool:
    """Whether `user` may take workflow `step` now (also drives which buttons a page shows)."""
    allowed_from, _to = TRANSITIONS[step]
    if system.level_status not in allowed_from:
        return False
    if step in ("submit", "revise"):
        return user_can(user, Action.SUBMIT_LEVEL, system.owner)
    # Appraisal, approval and return: by the level framework's authority, with four eyes (`decidable_by`).
    return decidable_by(user, step).filter(pk=system.pk).exists()


def with_waiting_since(queryset):
    """Each system with `waiting_since`: when the workflow step that put its level in its current status was taken
    (the submission of a proposal waiting for appraisal, the appraisal of one waiting for approval); None when no
    step is recorded. The one rule for the list's column, its order and the API's `ordering=waiting_since`."""
    step = (LevelEvent.objects.filter(system=OuterRef("pk"), to_status=OuterRef("level_status"))
            .order_by("-at", "-id").values("at")[:1])
    return queryset.annotate(waiting_since=Subquery(step))


def coordinator_organization_names() -> list[str]:
    """The names of the organizations whose active members include a national coordinator (who decides the levels
    the national coordinator decides)."""
    return sorted({str(org.name) for org in Organization.objects.filter(
        memberships__role=Role.NATIONAL_COORDINATOR, memberships__user__is_active=True)})


def waiting_for(system: InformationSystem, coordinators: list[str] | None = None,
                user=None) -> tuple[str, str] | None:
    """What the proposal waits for and by whom, as its level card says it ("Waiting for appraisal", "the national
    coordinator (NCSC)"): the same authority as `decidable_by`; None when it waits for nobody. `coordinators`:
    `coordinator_organization_names()` when the caller already has them (a list of systems asks once). Given the
    reader (`user`, the page's or the API caller's), it says so when the reader would decide but four eyes set them
    aside (they submitted, or appraised, the proposal): "the administrators of X" read as if it were their turn."""
    if system.level_status == LevelStatus.RETURNED:
        return _("Waiting for correction"), _("the people of %(org)s who submit levels") % {"org": system.owner.name}
    stage = DECISION_STAGES.get(system.level_status)
    if stage is None:
        return None
    what = _("Waiting for appraisal") if stage == "appraised_by" else _("Waiting for approval")
    authority = levels.authority(system.framework, system.proposed_level, stage)
    set_aside = _set_aside_by_four_eyes(user, system, stage, authority) if user is not None else None
    if authority == "owner":
        deciding = ", ".join(str(org.name) for org in _deciding_organizations(system, stage))
        if not deciding:  # nobody in the owner's line may: the coordinator, who holds every right, can step in
            names = {"org": system.owner.name}
            if set_aside == "submit":
                return what, _("you submitted it, and no other administrator of %(org)s or above it can decide "
                               "(the national coordinator can)") % names
            if set_aside == "appraise":
                return what, _("you appraised it, and no other administrator of %(org)s or above it can approve it "
                               "(the national coordinator can)") % names
            return what, _("no administrator of %(org)s or above it can decide (the national coordinator can)") % names
        names = {"org": deciding}
        if set_aside == "submit":
            return what, _("you submitted it, so another administrator of %(org)s decides") % names
        if set_aside == "appraise":
            return what, _("you appraised it, so another administrator of %(org)s decides") % names
        return what, _("the administrators of %(org)s") % names
    names = coordinator_organization_names() if coordinators is None else coordinators
    if set_aside == "submit":
        return what, _("you submitted it, so another person of the national coordinator decides")
    if set_aside == "appraise":
        return what, _("you appraised it, so another person of the national coordinator decides")
    if not names:
        return what, _("the national coordinator")
    return what, _("the national coordinator (%(org)s)") % {"org": ", ".join(names)}


def _set_aside_by_four_eyes(user, system: InformationSystem, stage: str, authority: str) -> str | None:
    """"submit" or "appraise" when `user` holds the right to decide `stage` but took that earlier step of the
    proposal themselves (`decidable_by` leaves them out); else None."""
    if not getattr(user, "is_authenticated", False):
        return None
    if authority == "owner":
        holds_right = user_can(user, STAGE_RIGHTS[stage], system.owner)
    else:
        holds_right = is_national_coordinator(user)
    if not holds_right:
        return None
    if _last_submitter_id(system) == user.pk:
        return "submit"
    if stage == "approved_by" and _last_appraiser_id(system) == user.pk:
        return "appraise"
    return None


# The stages of a proposal each decision step decides (returning decides either).
STEP_STAGES = {"appraise": ("appraised_by",), "approve": ("approved_by",), "return": ("appraised_by", "approved_by")}


def holds_step_right(user, system: InformationSystem, step: str) -> bool:
    """Does `user` hold the right `step` takes on this system's proposal, whatever its state now? Submitting and
    revising take the right to submit levels over the owner; appraising, approving and returning take the right the
    framework gives that stage of the proposed level (the owner's people who hold it, or the national coordinator,
    who holds every right). Four eyes and the state are judged after it (`check_level_step`)."""
    if step in ("submit", "revise"):
        return user_can(user, Action.SUBMIT_LEVEL, system.owner)
    for stage in STEP_STAGES.get(step, ()):
        if levels.authority(system.framework, system.proposed_level, stage) == "owner":
            if user_can(user, STAGE_RIGHTS[stage], system.owner):
                return True
        elif is_national_coordinator(user):
            return True
    return False


def check_level_step(user, system: InformationSystem, step: str) -> None:
    """Refuses workflow `step` on `system` by `user` unless it may be taken now, in one order, the same for the page,
    the API and `do_level_step`, and before any input is read: without the right, 403 whatever the state
    (`holds_step_right`); then a state the step does not start from, 409; then four eyes, 403."""
    if step not in TRANSITIONS:
        raise Refused(_("Unknown workflow step."))
    if may_take_step(user, system, step):
        return
    if not holds_step_right(user, system, step):
        raise Forbidden(_("You do not have the right to take this step for this system."))
    _refuse_step(user, system, step)


def _refuse_step(user, system, step):
    allowed_from, _to = TRANSITIONS[step]
    if system.level_status not in allowed_from:
        raise Refused(
            _("This step is not possible while the level is “%(status)s”.") % {"status": system.get_level_status_display()},
            code="invalid_transition", status=409,
        )
    if step in ("appraise", "approve", "return") and _last_submitter_id(system) == user.pk:
        raise Forbidden(_("The person who submitted a proposal cannot appraise, approve or return it."))
    if step == "approve" and _last_appraiser_id(system) == user.pk:
        raise Forbidden(_("The person who appraised a proposal cannot also approve it: another person with the "
                          "right to approve decides."))
    raise Forbidden(_("You do not have the right to take this step for this system."))


@transaction.atomic
def refuse_level_step_inputs(system: InformationSystem, step: str, *, note: str = "", decision_number: str = "",
                             decision_date: dt.date | None = None) -> None:
    """Refused (`Refused`) when the system's record or the step's fields do not allow the step: what
    `do_level_step` checks after the right (`check_level_step`), and the page before it asks for a confirmation,
    so that nobody confirms a step that is then refused."""
    if step == "submit":
        if not system.proposed_level:
            raise Refused(_("Choose the proposed level before submitting."))
        if not system.criteria:
            raise Refused(_("Answer the level criteria before submitting."))
        if not system.dossier_files.exists():
            raise Refused(_("Attach the dossier (at least one file) before submitting."))
        if system.needs_level_justification():
            raise Refused(system.justification_message())
    elif step == "appraise":
        if not note.strip():
            raise Refused(_("Write the appraisal opinion."))
    elif step == "approve":
        if not decision_number.strip() or decision_date is None:
            raise Refused(_("Give the number and date of the approval decision."))
        if decision_date > timezone.localdate():
            raise Refused(_("The decision date cannot be in the future."))
        submitted = _last_event(system, "submit")
        if submitted is not None and decision_date < timezone.localtime(submitted.at).date():
            # A decision approves the proposal as submitted: it cannot be older than that submission.
            raise Refused(_("The decision date cannot be before the proposal was submitted (%(date)s).") % {
                "date": timezone.localtime(submitted.at).strftime("%d/%m/%Y")})
    elif step == "return":
        if not note.strip():
            raise Refused(_("Give the reason for returning the proposal."))


def do_level_step(system: InformationSystem, step: str, *, acting_user, note: str = "",
                  decision_number: str = "", decision_date: dt.date | None = None) -> InformationSystem:
    """Take one step of the approval workflow (submit, appraise, approve, return, revise)."""
    if step not in TRANSITIONS:
        raise Refused(_("Unknown workflow step."))
    system = InformationSystem.objects.select_for_update(of=("self",)).select_related("owner", "framework").get(pk=system.pk)
    check_level_step(acting_user, system, step)
    refuse_level_step_inputs(system, step, note=note, decision_number=decision_number, decision_date=decision_date)
    before = audit.snapshot(system)
    from_status = system.level_status
    if step == "submit" and system.proposed_below_suggestion():
        # The appraiser and the approver read the submission in the history: it carries why the level is below
        # the suggestion, as written when it was submitted (a later revision may change the field).
        why = _("Why level %(proposed)s, below the level %(suggested)s the criteria suggest: %(why)s") % {
            "proposed": system.proposed_level, "suggested": system.suggested_level,
            "why": system.level_justification.strip()}
        note = "\n\n".join(part for part in (note.strip(), why) if part)
    elif step == "appraise":
        system.appraisal_opinion = note
    elif step == "approve":
        system.approved_level = system.proposed_level
        system.decision_number = decision_number.strip()
        system.decision_date = decision_date
    system.level_status = TRANSITIONS[step][1]
    system.save()
    LevelEvent.objects.create(
        system=system, action=step, from_status=from_status, to_status=system.level_status,
        level=system.proposed_level, actor=acting_user, actor_email=acting_user.email, note=note,
        decision_number=system.decision_number if step == "approve" else "",
        decision_date=system.decision_date if step == "approve" else None,
    )
    audit.record(Act.TRANSITION, system, actor=acting_user, before=before)
    _tell_next_in_workflow(system, step, acting_user, note)
    return system


LEVEL_NOTICE = "registry.level"


def _holders_of_right(action: str, organization: Organization):
    """The memberships of active people who hold `action` over `organization` through a role in it or in an
    organization above it (the national coordinators, who hold every right, are told only where the decision is
    theirs). Who is told of a step (`_people_with_right`) and whom the level card names (`_deciding_organizations`)."""
    # The line stops at a coordination boundary (decision 0001, `scoping.reaching_line`): the ministry above the
    # coordinator's organization holds no right over it. In the same query: a membership is left out when a
    # national-coordinator membership sits in the line below its organization.
    line = organization.ancestor_paths()
    boundary_below = Membership.objects.filter(
        role=Role.NATIONAL_COORDINATOR, organization__path__in=line,
        organization__path__startswith=OuterRef("organization__path")).exclude(organization_id=OuterRef("organization_id"))
    return Membership.objects.filter(
        organization__path__in=line, role__in=_deciding_roles(action), user__is_active=True).exclude(
        Exists(boundary_below))


def _people_with_right(action: str, organization: Organization) -> list[User]:
    return [m.user for m in _holders_of_right(action, organization).select_related("user")]


def _set_aside_ids(system: InformationSystem, stage: str) -> set:
    """Those four eyes leave out of `stage` of the proposal: its submitter, and for the approval its appraiser."""
    ids = {_last_submitter_id(system)}
    if stage == "approved_by":
        ids.add(_last_appraiser_id(system))
    return ids - {None}


def _deciding_organizations(system: InformationSystem, stage: str) -> list[Organization]:
    """The organizations whose administrators decide `stage` of a proposal the owner's line decides: those of the
    people told it waits for them (`_deciders`, less the submitter and, for the approval, the appraiser), nearest to
    the owner first. Empty when nobody in the owner's line may decide."""
    holders = (_holders_of_right(STAGE_RIGHTS[stage], system.owner)
               .exclude(user_id__in=_set_aside_ids(system, stage)).select_related("organization"))
    organizations = {m.organization_id: m.organization for m in holders}
    return sorted(organizations.values(), key=lambda org: -org.depth)


def national_coordinators() -> list[User]:
    """The active national coordinators (level decisions, campaigns and disconnected systems are theirs to hear of)."""
    return [m.user for m in Membership.objects.filter(role=Role.NATIONAL_COORDINATOR, user__is_active=True)
            .select_related("user")]


def _deciders(system: InformationSystem, stage: str) -> list[User]:
    """Who appraises ("appraised_by") or approves ("approved_by") this system's proposal (`decidable_by`)."""
    if levels.authority(system.framework, system.proposed_level, stage) == "owner":
        return _people_with_right(STAGE_RIGHTS[stage], system.owner)
    return national_coordinators()


def _tell_next_in_workflow(system: InformationSystem, step: str, acting_user, note: str) -> None:
    """After a step, the people whose turn it is hear of it (a proposal nobody knows is waiting stalls): the
    appraisers after a submission, the approvers after an appraisal, the owner's people after an approval or a
    return (the reason in the notice). The person who submitted the proposal hears of every move of it (appraised,
    approved, returned): in Khiên, and by e-mail as they chose (`notifications`). Never the person who took the
    step, nor the submitter as a decider."""
    names = {"level": system.proposed_level, "system": f"{system.code} — {system.name}",
             "org": notifications.ByLanguage.name_of(system.owner)}
    submitter_id = _last_submitter_id(system)
    # The submitter waits for the decision after an appraisal, not asked to take it: a notice of its own.
    submitter = (User.objects.filter(pk=submitter_id, is_active=True).first()
                 if step == "appraise" and submitter_id not in (None, acting_user.pk) else None)
    if submitter is not None:
        notifications.notify([submitter], kind=LEVEL_NOTICE, title=notifications.Text(_l(
            "The security level %(level)s proposal of %(system)s was appraised and waits for approval"), names),
            body=_by_whom_in_workflow(acting_user, note), url=reverse("registry:system_detail", args=[system.pk]))
    if step == "submit":
        left_out = _set_aside_ids(system, "appraised_by")  # four eyes: as the level card says (`waiting_for`)
        recipients = [u for u in _deciders(system, "appraised_by") if u.pk not in left_out]
        title = notifications.Text(_l("Security level %(level)s of %(system)s (%(org)s) waits for your appraisal"), names)
        body = _by_whom_in_workflow(acting_user, note)
    elif step == "appraise":
        left_out = _set_aside_ids(system, "approved_by")  # four eyes: as the level card says (`waiting_for`)
        recipients = [u for u in _deciders(system, "approved_by") if u.pk not in left_out]
        title = notifications.Text(_l("Security level %(level)s of %(system)s (%(org)s) was appraised and waits for "
                                      "your approval"), names)
        body = _by_whom_in_workflow(acting_user, note)
    elif step in ("approve", "return"):
        submitter = User.objects.filter(pk=submitter_id, is_active=True).first()
        recipients = _people_with_right(Action.SUBMIT_LEVEL, system.owner) + ([submitter] if submitter else [])
        if step == "approve":
            names["decision"] = system.decision_number
            title = notifications.Text(_l("Security level %(level)s of %(system)s was approved (decision "
                                          "%(decision)s)"), names)
            body = _by_whom_in_workflow(acting_user, "")
        else:
            title = notifications.Text(_l("The security level proposal of %(system)s was returned for correction"),
                                       names)
            body = _by_whom_in_workflow(acting_user, note)
    else:
        return
    recipients = [u for u in recipients if u.pk != acting_user.pk]
    notifications.notify(recipients, kind=LEVEL_NOTICE, title=title, body=body,
                         url=reverse("registry:system_detail", args=[system.pk]))


def _by_whom_in_workflow(acting_user, note: str) -> notifications.Text:
    if note.strip():
        return notifications.Text(_l("By %(actor)s: %(note)s"), {"actor": notifications.person_name(acting_user),
                                                                 "note": note.strip()})
    return notifications.Text(_l("By %(actor)s."), {"actor": notifications.person_name(acting_user)})
