"""Organization scoping: the one choke point that decides which rows a user may touch.

Every organization has a materialized `path` ("/<id>/<child id>/…/"), so "this
organization and its descendants" is a prefix test. A model opts in by using
`OrgScopedQuerySet` and naming the path lookups that tie a row to its
organizations. UI views, API views, exports and commands all call
`Model.objects.restrict(user, action)` or its alias `visible_to(user)`;
nothing filters by organization by hand.

The coordination boundary (decision 0001): the organizations where the national
coordinator role is held are not reached from above. A role in an organization
above one (NCSC's parent ministry) covers that organization's other units, not
the coordinator's organization nor its units; a role in the coordinator's
organization (or a unit of it) covers what it always did. A `Scope` carries
those subtrees in `excluded`; code that picks a user's memberships by role
builds its reach with `scope_within` and tests it with `Scope.covers_path` /
`Scope.q`, and code that finds the people above an organization uses
`reaching_line` — never a bare prefix test on a user's paths.
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
    # Coordination boundaries (decision 0001): subtrees strictly below one of `paths` that it does not reach. Each is
    # left out of the paths above it only — a path of the user's own at or below a boundary still covers its subtree.
    excluded: tuple[str, ...] = ()

    def _cut(self, path: str) -> tuple[str, ...]:
        return tuple(e for e in self.excluded if len(e) > len(path) and e.startswith(path))

    def covers_path(self, path: str) -> bool:
        if self.everything:
            return True
        return any(path.startswith(p) and not any(path.startswith(e) for e in self._cut(p)) for p in self.paths)

    def q(self, lookup: str) -> Q:
        """The rows whose `lookup` (a path: "path", "organization__path", "assignments__responder__path"…) is in the
        scope. Beyond a boundary, a lookup through a relation is matched on the related organization's id against
        the organizations in scope: a positive test, so that a row tied to two organizations, one of them in scope
        (an incident assigned to two responders), stays."""
        if self.everything:
            return Q()
        if not self.paths:
            return Q(pk__in=[])
        if self.excluded and lookup != "path":
            assert lookup.endswith("__path"), lookup
            return Q(**{f"{lookup.removesuffix('__path')}__in": self.organizations().values("pk")})
        q = Q()
        for p in self.paths:
            here = Q(**{f"{lookup}__startswith": p})
            for e in self._cut(p):
                here &= ~Q(**{f"{lookup}__startswith": e})
            q |= here
        return q

    def organizations(self):
        """The organizations in the scope (a queryset)."""
        from django.apps import apps

        organizations = apps.get_model("registry", "Organization").objects
        return organizations.all() if self.everything else organizations.filter(self.q("path"))


NOTHING = Scope(False, ())
EVERYTHING = Scope(True, ())


def _boundary_paths() -> frozenset[str]:
    from django.apps import apps

    memberships = apps.get_model("registry", "Membership").objects
    return frozenset(memberships.filter(role=Role.NATIONAL_COORDINATOR).values_list("organization__path", flat=True))


def _load_memberships(user) -> None:
    # One query for both: the user's memberships and the organizations where the national coordinator role is held
    # (a handful of rows), each part served by its own index.
    columns = ("user_id", "role", "organization__path", "organization_id")
    Membership = user.memberships.model
    rows = list(Membership.objects.filter(user_id=user.pk).values_list(*columns).union(
        Membership.objects.filter(role=Role.NATIONAL_COORDINATOR).values_list(*columns), all=True))
    user._khien_memberships = tuple((role, path, org) for uid, role, path, org in rows if uid == user.pk)
    user._khien_boundaries = frozenset(path for _u, role, path, _o in rows if role == Role.NATIONAL_COORDINATOR)


def memberships_of(user):
    """(role, organization path, organization id) for each of the user's memberships, cached per user object."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ()
    cached = getattr(user, "_khien_memberships", None)
    if cached is None:
        _load_memberships(user)
        cached = user._khien_memberships
    return cached


def coordination_boundaries(user=None) -> frozenset[str]:
    """The paths of the organizations where the national coordinator role is held (decision 0001, "The coordination
    boundary"): people whose scope reaches one only from an organization above it reach neither it nor its units.
    Read with the user's memberships and cached with them on the user object (`forget_memberships`); without a
    user, one query."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return _boundary_paths()
    memberships_of(user)
    cached = getattr(user, "_khien_boundaries", None)
    if cached is None:  # memberships put on the object by hand (`intel.sightings`)
        cached = user._khien_boundaries = _boundary_paths()
    return cached


def forget_memberships(user) -> None:
    """Drop the memberships cached on `user` (`memberships_of`): after a change of their roles in this request."""
    for name in ("_khien_memberships", "_khien_boundaries"):
        try:
            delattr(user, name)
        except AttributeError:
            pass


def is_national_coordinator(user) -> bool:
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    return any(role == Role.NATIONAL_COORDINATOR for role, _p, _o in memberships_of(user))


def scope_within(user, paths) -> Scope:
    """The scope over the subtrees at `paths` (paths of the user's own memberships, chosen by role) less the
    coordination boundaries below them. What `scope_for` gives for an action; callers that pick memberships by role
    (responders, deciders…) use it so that the boundary holds for them too."""
    paths = tuple(sorted(set(paths)))
    if not paths:
        return NOTHING
    excluded = tuple(sorted(b for b in coordination_boundaries(user) if any(len(b) > len(p) and b.startswith(p)
                                                                             for p in paths)))
    return Scope(False, paths, excluded)


def scope_for(user, action: str = Action.VIEW) -> Scope:
    if is_national_coordinator(user):
        return EVERYTHING
    return scope_within(user, (path for role, path, _o in memberships_of(user) if action in ROLE_ACTIONS.get(role, ())))


def reaching_line(organization, boundaries=None) -> list[str]:
    """The paths of the organizations whose people's scope reaches `organization` (an Organization or its path):
    its line from the root, cut at the nearest coordination boundary at or above it. Who hears of, or may be given,
    its work through the hierarchy (notifications, task holders)."""
    path = organization if isinstance(organization, str) else organization.path
    boundaries = coordination_boundaries() if boundaries is None else boundaries
    segments = [part for part in path.split("/") if part]
    line = ["/" + "/".join(segments[:k]) + "/" for k in range(1, len(segments) + 1)]
    cut = max((i for i, p in enumerate(line) if p in boundaries), default=0)
    return line[cut:]


def user_can(user, action: str, organization) -> bool:
    """May `user` do `action` on objects of `organization` (an Organization instance)?"""
    return scope_for(user, action).covers_path(organization.path)


def prefix_q(lookup: str, paths: tuple[str, ...]) -> Q:
    """Rows whose `lookup` lies under one of `paths`, boundaries ignored: for paths that are not a user's reach
    (a user's reach is a `Scope`: `scope_for`, `scope_within`, then `Scope.q`)."""
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
            return self.filter(**{f"{self.org_id_field}__in": scope.organizations().values("pk")})
        lookups = self.org_path_lookups if action == Action.VIEW else self.org_path_lookups[:1]
        q = Q()
        for lookup in lookups:
            q |= scope.q(lookup)
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
