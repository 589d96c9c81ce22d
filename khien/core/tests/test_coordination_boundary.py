"""The coordination boundary (decision 0001): the organization where the national coordinator role is held is not
reached from above.

The tree of the demo and of reality: the ministry (MIN, standing for the Ministry of Public Security) holds the
coordinator's organization (NCSC) and another unit (MIN-D1). MIN's administrator, analyst and auditor see and act on
MIN-D1's data, never on NCSC's (nor its unit's): not its incidents (page, API, list, PDF, comments), its alert
sources, alerts and events, its systems, its members, the audit entries filed under it, nor the notices of its
incidents. NCSC's own people keep their scope, the coordinator sees everything, and what is shared explicitly
(a collection member, a warning sent to MIN, an incident assigned to a responder) is still seen.

Organization A of the every-route isolation test becomes NCSC here (its objects built by the same
`build_objects`), and B MIN's people: every route naming one of NCSC's objects refuses them and changes nothing.
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone

from khien.conftest import _org, _user
from khien.core.roles import Action, Role
from khien.core.scoping import (EVERYTHING, Scope, coordination_boundaries, forget_memberships, memberships_of,
                                reaching_line, scope_for, user_can)
from khien.core.tests.test_every_route_isolation import (A_NET, EXEMPT, MARKER, ROUTES, WRITES, Theirs, _bodies,
                                                         _call, _content, _object_kwargs, _refused, _route_problems,
                                                         _sent, _url, _without, build_objects, diff, filters,
                                                         poison_body, snapshot)

pytestmark = pytest.mark.django_db

MIN_PEOPLE = ("admin", "analyst", "auditor")


def _under_ministry(world):
    """Put NCSC (the coordinator's organization, a root in `world`) under the ministry, as in the demo."""
    world.ncsc.parent = world.ministry
    world.ncsc.path = world.ncsc.compute_path()
    world.ncsc.save()
    for person in vars(world).values():
        if hasattr(person, "memberships"):
            forget_memberships(person)


def _report(org, user, title):
    from khien.incidents import services

    return services.do_report_incident({
        "organization": org, "title": title, "detected_at": timezone.now() - dt.timedelta(hours=2),
        "category": "infected-system", "severity": "high", "suspected_malicious": True,
        "impact_beyond_organization": False, "description": f"{title}: mô tả", "tlp": "green",
    }, acting_user=user)


@pytest.fixture
def tree(world, make_system, settings):
    """MIN ─ NCSC (coordinator; its unit NCSC-U1; its administrator and analyst) and MIN ─ MIN-D1; NCSC's objects
    (one of every kind, `build_objects`, marked with MARKER) and MIN-D1's incident and system."""
    from khien.incidents import content
    from khien.incidents.services import content_loaded

    settings.KHIEN_IMPORT_SYNC = True
    if not content_loaded():
        content.load_all()
    _under_ministry(world)
    t = world
    t.ncsc_unit = _org("NCSC-U1", "agency", parent=world.ncsc)
    t.ncsc_admin = _user("admin@ncsc.test.vn", world.ncsc, Role.ORG_ADMIN)
    t.before_a = snapshot()
    t.a = build_objects(world, make_system, world.ncsc, t.ncsc_unit, t.ncsc_admin, MARKER, A_NET)
    t.theirs = Theirs(t.before_a, snapshot(), t.a)
    # National objects, not NCSC's (`NATIONAL`): bodies of the writes name them, as in the every-route test.
    from khien.intel import warninglists
    from khien.telemetry.models import Campaign

    now = timezone.now()
    t.a.campaign = Campaign.objects.create(kind="rule", key="national-scan", title="national campaign",
                                           rule_name="national rule", first_seen=now, last_seen=now,
                                           organization_count=1, count=1)
    t.a.allow_entry = warninglists.do_add_allow_entry("domain", "allowed.example", acting_user=world.coordinator)
    t.dept_incident = _report(world.department, world.dept_analyst, "Sự cố của đơn vị trực thuộc")
    t.dept_system = make_system(world.department)
    return t


def _page(user):
    client = Client()
    client.force_login(user)
    return client


def _api(api, user):
    return api(user)


# --- The rule, on paths -----------------------------------------------------------------------------------------


def test_a_scope_leaves_out_the_coordinators_subtree_only_when_reached_from_above(world):
    _under_ministry(world)
    unit = _org("NCSC-U1", "agency", parent=world.ncsc)
    for who in MIN_PEOPLE:
        scope = scope_for(getattr(world, who))
        assert scope.excluded == (world.ncsc.path,)
        assert scope.covers_path(world.ministry.path) and scope.covers_path(world.department.path)
        assert not scope.covers_path(world.ncsc.path) and not scope.covers_path(unit.path)
    assert not user_can(world.admin, Action.CHANGE, world.ncsc)
    assert not user_can(world.admin, Action.MANAGE_MEMBERS, unit)
    assert scope_for(world.coordinator) == EVERYTHING
    # A role at or under the boundary covers its own subtree; the boundary still holds for the roles above it.
    unit_auditor = _user("auditor@ncsc-u1.test.vn", unit, Role.AUDITOR)
    from khien.registry.models import Membership

    Membership.objects.create(user=unit_auditor, organization=world.ministry, role=Role.ORG_ANALYST)
    forget_memberships(unit_auditor)
    seen = scope_for(unit_auditor)
    assert seen.covers_path(unit.path) and seen.covers_path(world.department.path)
    assert not seen.covers_path(world.ncsc.path)
    assert not scope_for(unit_auditor, Action.CHANGE).covers_path(unit.path)  # an auditor there only reads
    ncsc_analyst = _user("analyst@ncsc.test.vn", world.ncsc, Role.ORG_ANALYST)
    assert scope_for(ncsc_analyst).excluded == ()
    assert scope_for(ncsc_analyst).covers_path(unit.path)


def test_the_same_rule_in_sql_as_in_python(world):
    from khien.registry.models import Organization

    _under_ministry(world)
    unit = _org("NCSC-U1", "agency", parent=world.ncsc)
    every = list(Organization.objects.all())
    for who in (*MIN_PEOPLE, "dept_analyst", "coordinator", "other_admin"):
        user = getattr(world, who)
        scope = scope_for(user)
        in_sql = set(Organization.objects.visible_to(user).values_list("code", flat=True))
        assert in_sql == {o.code for o in every if scope.covers_path(o.path)}, who
    assert {"NCSC", "NCSC-U1"}.isdisjoint(Organization.objects.visible_to(world.admin).values_list("code", flat=True))
    assert unit.path.startswith(world.ministry.path)  # the tree is as the test says


def test_the_line_that_hears_of_an_organization_stops_at_the_boundary(world):
    _under_ministry(world)
    unit = _org("NCSC-U1", "agency", parent=world.ncsc)
    assert reaching_line(unit) == [world.ncsc.path, unit.path]
    assert reaching_line(world.department) == [world.ministry.path, world.department.path]
    assert reaching_line(world.ncsc) == [world.ncsc.path]


def test_the_boundary_is_read_with_the_memberships_and_follows_a_new_coordinator(world, coordinator_client):
    """Granting the role makes a boundary: a fresh request (a fresh user object) reads it; `forget_memberships`
    drops the cached one."""
    from khien.registry import services as registry

    agency = _org("MIN-D2", "agency", parent=world.ministry)
    analyst = world.analyst
    assert user_can(analyst, Action.VIEW, agency)
    before = coordination_boundaries(analyst)
    assert agency.path not in before
    newcomer = _user("new.coordinator@test.vn", None, None)
    registry.do_set_membership(agency, newcomer, Role.NATIONAL_COORDINATOR, acting_user=world.coordinator,
                               confirm_national_role=True)
    assert coordination_boundaries(analyst) == before  # cached on the object for the request
    forget_memberships(analyst)
    assert agency.path in coordination_boundaries(analyst)
    assert not user_can(analyst, Action.VIEW, agency)
    from khien.core.models import User

    fresh = User.objects.get(pk=analyst.pk)
    assert not user_can(fresh, Action.VIEW, agency) and user_can(fresh, Action.VIEW, world.department)
    assert memberships_of(fresh) == memberships_of(analyst)


def test_a_scope_without_boundary_is_the_plain_prefix_test(world):
    from khien.incidents.models import Incident

    scope = scope_for(world.analyst)  # NCSC is a root in `world`: nothing to leave out
    assert scope == Scope(False, (world.ministry.path,))
    where = str(Incident.objects.visible_to(world.analyst).query).upper().split("WHERE", 1)[1]
    assert "NOT" not in where and "LIKE" in where  # the same indexed prefix test as before the boundary


# --- What MIN's people see of NCSC ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", MIN_PEOPLE)
def test_min_people_do_not_see_ncscs_incident_anywhere(tree, api, who):
    from khien.incidents.models import Incident

    user, incident = getattr(tree, who), tree.a.incident
    page, client = _page(user), _api(api, user)
    assert page.get(reverse("incidents:incident_detail", args=[incident.pk])).status_code == 404
    assert page.get(reverse("incidents:incident_pdf", args=[incident.pk])).status_code == 404
    assert client.get(f"/api/incidents/{incident.pk}/").status_code == 404
    listed = _content(page.get(reverse("incidents:incident_list")))
    assert incident.reference not in listed and MARKER not in listed
    assert tree.dept_incident.reference in listed  # their other unit's incident: still theirs
    api_list = client.get("/api/incidents/").json()
    ids = {row["id"] for row in api_list.get("results", api_list)}
    assert str(incident.pk) not in ids and str(tree.dept_incident.pk) in ids
    assert not Incident.objects.visible_to(user).filter(pk=incident.pk).exists()
    assert page.get(reverse("incidents:incident_detail", args=[tree.dept_incident.pk])).status_code == 200


@pytest.mark.parametrize("who", ["admin", "analyst"])
def test_min_people_cannot_comment_nor_triage_ncscs_incident(tree, who):
    from khien.incidents import services
    from khien.incidents.models import EventKind, IncidentEvent

    user, incident = getattr(tree, who), tree.a.incident
    page = _page(user)
    comments = IncidentEvent.objects.filter(incident=incident, kind=EventKind.COMMENT)
    before = comments.count()
    response = page.post(reverse("incidents:incident_comment", args=[incident.pk]), {"text": "ghi chú"})
    assert response.status_code == 404 and comments.count() == before
    response = _page(tree.ncsc_admin).post(reverse("incidents:incident_comment", args=[incident.pk]), {"text": "ghi"})
    assert response.status_code == 302 and comments.count() == before + 1  # the test can fail: NCSC's own may
    assert not services.may_participate(user, incident)
    assert not services.is_reporting_side(user, incident)
    assert not services.may_assign(user, incident)
    assert services.may_participate(user, tree.dept_incident)  # their other unit's: they still act on it


def test_min_people_are_not_told_of_ncscs_incidents_nor_given_their_tasks(tree):
    from khien.core.models import Notification
    from khien.incidents import services

    incident = _report(tree.ncsc, tree.ncsc_admin, "Sự cố do NCSC phát hiện từ chiến dịch quốc gia")
    for who in MIN_PEOPLE:
        user = getattr(tree, who)
        told = Notification.objects.filter(recipient=user)
        assert not told.filter(url__contains=str(incident.pk)).exists(), who
        assert not told.filter(url__contains=str(tree.a.incident.pk)).exists(), who
        assert not [n for n in told if MARKER in n.title or "NCSC phát hiện" in n.title], who
    people = set(services.task_people(incident))
    assert tree.admin not in people and tree.analyst not in people
    assert tree.ncsc_admin in people and tree.coordinator in people
    # The other unit's new incident is still told up its line (the ministry hears of it).
    dept = _report(tree.department, tree.dept_analyst, "Sự cố mới của đơn vị")
    assert Notification.objects.filter(recipient=tree.admin, url__contains=str(dept.pk)).exists()
    assert tree.admin in set(services.task_people(dept))


@pytest.mark.parametrize("who", MIN_PEOPLE)
def test_min_people_do_not_see_ncscs_telemetry(tree, who):
    from khien.telemetry.models import Alert, AlertSource, Event

    user = getattr(tree, who)
    assert not AlertSource.objects.visible_to(user).filter(organization=tree.ncsc).exists()
    assert not Alert.objects.visible_to(user).filter(organization=tree.ncsc).exists()
    assert not Event.objects.visible_to(user).filter(organization=tree.ncsc).exists()
    assert Alert.objects.filter(organization=tree.ncsc).exists()  # there is something to hide
    page = _page(user)
    assert page.get(reverse("telemetry:alert", args=[tree.a.alert.pk])).status_code == 404
    assert page.get(reverse("telemetry:source", args=[tree.a.source.name])).status_code == 404
    for name in ("telemetry:alerts", "telemetry:sources", "telemetry:events"):
        response = page.get(reverse(name))
        assert response.status_code == 200 and MARKER not in _content(response), name


@pytest.mark.parametrize("who", MIN_PEOPLE)
def test_min_people_do_not_see_ncscs_systems_members_nor_audit(tree, api, who):
    from khien.core.models import AuditEntry
    from khien.registry import services as registry
    from khien.registry.models import InformationSystem, Organization

    user = getattr(tree, who)
    systems = InformationSystem.objects.visible_to(user)
    assert not systems.filter(owner=tree.ncsc).exists()
    assert systems.filter(pk=tree.dept_system.pk).exists()
    assert _api(api, user).get(f"/api/registry/systems/{tree.a.system.pk}/").status_code == 404
    assert not Organization.objects.visible_to(user).filter(pk__in=[tree.ncsc.pk, tree.ncsc_unit.pk]).exists()
    assert not registry.members_readable_by(user).filter(organization=tree.ncsc).exists()
    assert not registry.may_read_members(user, tree.ncsc)
    filed = AuditEntry.objects.visible_to(user)
    assert not filed.filter(organization_id__in=[str(tree.ncsc.pk), str(tree.ncsc_unit.pk)]).exists()
    assert AuditEntry.objects.filter(organization_id=str(tree.ncsc.pk)).exists()  # there is something to hide


def test_ncscs_own_people_and_the_coordinator_still_see_it(tree):
    from khien.core.models import AuditEntry
    from khien.incidents.models import Incident
    from khien.registry.models import InformationSystem
    from khien.telemetry.models import Alert

    for user in (tree.ncsc_admin, tree.a.user2, tree.coordinator):
        assert Incident.objects.visible_to(user).filter(pk=tree.a.incident.pk).exists()
        assert InformationSystem.objects.visible_to(user).filter(pk=tree.a.system.pk).exists()
        assert Alert.objects.visible_to(user).filter(pk=tree.a.alert.pk).exists()
    assert AuditEntry.objects.visible_to(tree.ncsc_admin).filter(organization_id=str(tree.ncsc.pk)).exists()
    assert Incident.objects.visible_to(tree.coordinator).filter(pk=tree.dept_incident.pk).exists()
    assert _page(tree.ncsc_admin).get(reverse("incidents:incident_detail", args=[tree.a.incident.pk])).status_code == 200
    # NCSC's people do not see the ministry's other unit (no role there), as before.
    assert not Incident.objects.visible_to(tree.ncsc_admin).filter(pk=tree.dept_incident.pk).exists()


def test_a_person_of_both_min_and_ncsc_sees_both(tree):
    from khien.incidents.models import Incident
    from khien.registry.models import Membership

    Membership.objects.create(user=tree.analyst, organization=tree.ncsc, role=Role.ORG_ANALYST)
    forget_memberships(tree.analyst)
    visible = Incident.objects.visible_to(tree.analyst)
    assert visible.filter(pk=tree.a.incident.pk).exists() and visible.filter(pk=tree.dept_incident.pk).exists()


def test_what_is_shared_explicitly_with_min_is_still_seen(tree, api):
    from khien.incidents import services as incidents
    from khien.incidents.models import Incident
    from khien.intel import services as intel
    from khien.intel import services_warnings
    from khien.intel import tlp
    from khien.intel.models import StixObject, Tlp

    # An NCSC collection MIN may read: its AMBER object is MIN's to read.
    intel.do_set_collection_member(tree.a.collection, tree.ministry, can_read=True, can_write=None,
                                   acting_user=tree.ncsc_admin)
    amber = StixObject.objects.filter(stix_id=tree.a.stix["amber"]["id"]).first()
    assert amber is not None and tlp.can_see(tree.analyst, amber)
    # A warning NCSC's coordinator sends to MIN.
    warning = services_warnings.do_issue_warning(
        {"title": "Cảnh báo gửi Bộ", "summary": "Tóm tắt", "severity": "high", "tlp": Tlp.AMBER,
         "values": ["198.51.100.7"]}, acting_user=tree.coordinator, organizations=[tree.ministry], auto_match=False)
    assert services_warnings.warnings_visible_to(tree.analyst).filter(pk=warning.pk).exists()
    # NCSC's incident assigned to a responder company: its responder sees it; MIN still does not.
    assert Incident.objects.visible_to(tree.responder).filter(pk=tree.a.incident.pk).exists() is False
    incidents.do_assign_responder(tree.a.incident, tree.responder_org, acting_user=tree.coordinator)
    assert Incident.objects.visible_to(tree.responder).filter(pk=tree.a.incident.pk).exists()
    assert not Incident.objects.visible_to(tree.analyst).filter(pk=tree.a.incident.pk).exists()


# --- Every route, with NCSC's objects, for MIN's people -------------------------------------------------------

# National objects, not NCSC's: the campaign is the coordinator's alone (no one else sees it, boundary or not); the
# allow-list entry is shown to everyone.
NATIONAL = {"campaign", "allow_entry"}


def _national(route) -> bool:
    from khien.core.tests.test_every_route_isolation import _kind

    return any(_kind(route, k) in NATIONAL for k in _object_kwargs(route))


def test_every_route_naming_ncscs_objects_refuses_min_people(tree, api):
    """Every route with one of NCSC's objects in its path, every method, for MIN's administrator, analyst and
    auditor: refused, names nothing of NCSC's, and changes nothing (as the every-route isolation test does for
    an unrelated organization)."""
    from rest_framework.test import APIClient

    from khien.core import services as core_services

    callers = {}
    for who in MIN_PEOPLE:
        user = getattr(tree, who)
        page, client = Client(), APIClient()
        page.force_login(user)
        _token, key = core_services.do_create_api_token(user, acting_user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        callers[who] = (page, client)
    bodies = _bodies(tree.a)
    failures, checked = [], 0
    before = snapshot()
    for route in ROUTES:
        if (not route.kwargs or route.name in EXEMPT or _route_problems(route) or not _object_kwargs(route)
                or _national(route)):
            continue
        url = _url(route, tree.a, "amber" if "stix_id" in route.kwargs or "object_id" in route.kwargs else "")
        requests = [("get", None)] if "get" in route.methods else []
        requests += [(m, bodies.get(route.name, poison_body(tree.a))) for m in route.methods if m in WRITES]
        for who, clients in callers.items():
            for method, body in requests:
                response = _call(route, clients, method, url, body)
                checked += 1
                what = f"{who} {method.upper()} {url} -> {response.status_code}"
                text = _content(response)
                if response.status_code >= 500:
                    failures.append(f"{what}: server error")
                if not _refused(who, response):
                    failures.append(f"{what}: not refused")
                echoed = _sent(resolve(url).kwargs) + _sent(body)
                named = tree.theirs.named_in(_without(text + response.get("Location", ""), echoed))
                if named:
                    failures.append(f"{what}: names NCSC's {named[:3]}")
    changes = diff(before, snapshot())
    changes = [c for c in changes if c[1] not in ("core.apitoken",)]
    if changes:
        failures.append(f"the database changed: {[c[:3] for c in changes][:8]}")
    assert checked > 150
    assert not failures, "\n".join(failures)


def test_every_list_filtered_on_ncsc_names_nothing_of_it_for_min_people(tree, api):
    """Lists, searches and exports (routes without an object), filtered on NCSC's objects: nothing of NCSC's."""
    from rest_framework.test import APIClient

    from khien.core import services as core_services

    failures = []
    for who in ("admin", "analyst"):
        user = getattr(tree, who)
        page, client = Client(), APIClient()
        page.force_login(user)
        _token, key = core_services.do_create_api_token(user, acting_user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        # The audit log first, unfiltered: the caller's own requests that follow are filed there, with what they
        # sent (the filters name NCSC's objects). The log's filtering itself: test_min_people_do_not_see_ncscs_….
        lists = [r for r in ROUTES if not r.kwargs and r.name not in EXEMPT and "get" in r.methods]
        calls = [(r, None) for r in lists if "audit" in r.name]
        calls += [(r, params) for r in lists if "audit" not in r.name
                  for params in (None, filters(tree.a), filters(tree.a, by_id=True))]
        for route, params in calls:
            url = reverse(route.name)
            response = _call(route, (page, client), "get", url, None, params)
            if response.status_code >= 500:
                failures.append(f"{who} GET {url} {params and '(filtered)'} -> {response.status_code}")
                continue
            named = tree.theirs.named_in(_without(_content(response), _sent(params)))
            if named:
                failures.append(f"{who} GET {url} {params and '(filtered)'}: names NCSC's {named[:3]}")
    assert not failures, "\n".join(failures)


def test_level_deciders_and_alert_handlers_stop_at_the_boundary(tree):
    from khien.registry import services as registry
    from khien.telemetry import triage

    deciders = {m.user for m in registry._holders_of_right(Action.APPRAISE_LEVEL, tree.ncsc)}
    assert tree.admin not in deciders and tree.ncsc_admin in deciders
    assert tree.admin in {m.user for m in registry._holders_of_right(Action.APPRAISE_LEVEL, tree.department)}
    handlers = set(triage.possible_handlers(tree.a.alert))
    assert tree.admin not in handlers and tree.analyst not in handlers and tree.ncsc_admin in handlers


def test_a_sign_in_of_a_person_of_min_and_ncsc_is_filed_under_each(tree):
    from khien.core.services import sign_in_organizations
    from khien.registry.models import Membership

    Membership.objects.create(user=tree.analyst, organization=tree.ncsc, role=Role.ORG_ANALYST)
    forget_memberships(tree.analyst)
    # MIN no longer reads NCSC's entries: each organization has its own (a unit MIN reads is still filed once).
    assert set(sign_in_organizations(tree.analyst)) == {str(tree.ministry.pk), str(tree.ncsc.pk)}
    Membership.objects.create(user=tree.analyst, organization=tree.department, role=Role.ORG_ANALYST)
    forget_memberships(tree.analyst)
    assert set(sign_in_organizations(tree.analyst)) == {str(tree.department.pk), str(tree.ncsc.pk)}
