"""Organization scoping: the one choke point that decides which rows a user may touch.

Every organization has a materialized `path` ("/<id>/<child id>/…/"), so "this
organization and its descendants" is a prefix test. A model opts in by using
`OrgScopedQuerySet` and naming the path lookups that tie a row to its
organizations. UI views, API views, exports and commands all call
`Model.objects.restrict(user, action)` or its alias `visible_to(user)`;
nothing filters by organization by hand.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.db.models import Q

from .roles import ROLE_ACTIONS, Action, Role


@dataclass(frozen=True)
class Scope:
    everything: bool
    paths: tuple[str, ...]  # organization subtrees the action is allowed in

    def covers_path(self, path: str) -> bool:
        return self.everything or any(path.startswith(p) for p in self.paths)


NOTHING = Scope(False, ())
EVERYTHING = Scope(True, ())


def memberships_of(user):
    """(role, organization path, organization id) for each of the user's memberships, cached per user object."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ()
    cached = getattr(user, "_khien_memberships", None)
    if cached is None:
        cached = tuple(user.memberships.values_list("role", "organization__path", "organization_id"))
        user._khien_memberships = cached
    return cached


def forget_memberships(user) -> None:
    """Drop the memberships cached on `user` (`memberships_of`): after a change of their roles in this request."""
    try:
        del user._khien_memberships
    except AttributeError:
        pass


def is_national_coordinator(user) -> bool:
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    return any(role == Role.NATIONAL_COORDINATOR for role, _p, _o in memberships_of(user))


def scope_for(user, action: str = Action.VIEW) -> Scope:
    if is_national_coordinator(user):
        return EVERYTHING
    paths = tuple(sorted({path for role, path, _o in memberships_of(user) if action in ROLE_ACTIONS.get(role, ())}))
    return Scope(False, paths) if paths else NOTHING


def user_can(user, action: str, organization) -> bool:
    """May `user` do `action` on objects of `organization` (an Organization instance)?"""
    return scope_for(user, action).covers_path(organization.path)


def prefix_q(lookup: str, paths: tuple[str, ...]) -> Q:
    q = Q()
    for path in paths:
        q |= Q(**{f"{lookup}__startswith": path})
    return q


class OrgScopedQuerySet(models.QuerySet):
    # Lookups from the model to the path of an organization the row belongs to.
    # `view` is granted through any of them; other actions only through the first
    # (for a system: its owner may change it; its operator may only read it).
    org_path_lookups: tuple[str, ...] = ("organization__path",)
    # Large tables whose rows belong to one organization and whose indexes lead with it (telemetry) set this to
    # that foreign key's column: the scope is then `organization_id IN (the organizations in scope)`, which such
    # an index serves, instead of a join on the organization's path, which makes the database scan every row.
    org_id_field: str | None = None

    def restrict(self, user, action: str = Action.VIEW):
        scope = scope_for(user, action)
        if scope.everything:
            return self
        if not scope.paths:
            return self.none()
        if self.org_id_field:
            from khien.registry.models import Organization

            in_scope = Organization.objects.filter(prefix_q("path", scope.paths)).values("pk")
            return self.filter(**{f"{self.org_id_field}__in": in_scope})
        lookups = self.org_path_lookups if action == Action.VIEW else self.org_path_lookups[:1]
        q = Q()
        for lookup in lookups:
            q |= prefix_q(lookup, scope.paths)
        return self.filter(q)

    def visible_to(self, user):
        return self.restrict(user, Action.VIEW)


def own_organization_among(user, organizations):
    """The organization a form starts with: the user's own (the first of their memberships among those offered, the
    highest in the tree), else the only choice, else None. People act for their own organization first (reporting an
    incident, registering an alert source)."""
    ids = [org_id for _role, _path, org_id in memberships_of(user)]
    own = organizations.filter(pk__in=ids).order_by("path").first() if ids else None
    if own is None:
        offered = list(organizations[:2])
        own = offered[0] if len(offered) == 1 else None
    return own
