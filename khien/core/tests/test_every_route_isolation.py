"""Every route of the project, against another organization's objects: nothing is seen, nothing changes.

The routes are not listed by hand: they are walked from the URL resolver (pages, the API under /api/, the TAXII
server under /taxii2/, exports and downloads), so a new route is tested the day it is added. Organization A
(the province PROV and its commune) owns one object of every kind a route names in its path; users of unrelated
organizations (the ministry MIN in several roles, its department, a responder company, a person without an
organization, an anonymous caller) then call every route with A's objects:

* a route with objects in its path ("object route"): every method is refused (4xx; a redirect to the sign-in page
  for an anonymous caller), the answer names none of A's objects, and the database is exactly as before (every
  table compared row by row, the audit log included);
* a route without ("collection route": lists, searches, exports, create forms): a 200 names none of A's objects,
  also when filtered on them (`filters`), and a write — its body naming A's objects wherever a field could
  (`poison_body`, or a complete body creating inside A, `_bodies`) — changes none of A's rows, adds no row
  pointing at them, and writes no audit entry about them;
* variant "own-parent" (routes with two objects in the path): B's own object first, A's after it (A's task
  reached through B's incident, A's membership through B's organization): refused, nothing changes;
* variant "own" (routes with an object and a write): B's own object in the path, A's objects in the body: B may
  change its own object, never A's rows.

"Names A's objects": the answer shows the word `MARKER` (in every name and title of A's), one of A's ids or STIX
ids, or one of A's addresses — once what the caller sent itself is taken out (a form gives back its input). The
directory of organizations is not secret (forms offer every organization as a member, target or responder).

Never a 5xx. A route whose path names something this file does not know how to fill fails with a message that
says what to add (`KWARG_OBJECTS`, `PK_OBJECTS`); a route that is public or not scoped to an organization is
listed in `EXEMPT` with the reason.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone

from khien.conftest import _org, _user
from khien.core.roles import Role

pytestmark = pytest.mark.django_db

MARKER = "zzsecret"  # in every name, title and text of A's objects: a page that shows one shows this word
A_NET = "45.33"  # every address of A's objects (indicators, observables, alerts, warnings) is in 45.33.0.0/16
A_ADDRESSES = [f"{A_NET}.21.9", f"{A_NET}.22.1", f"{A_NET}.22.2", f"{A_NET}.22.3", f"{A_NET}.30.1", f"{A_NET}.30.2"]

# --- The routes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str          # namespaced, for reverse()
    pattern: str       # the whole pattern, for messages
    kwargs: tuple      # the names the path takes
    methods: tuple     # the HTTP methods the view answers (function views: GET and POST are tried)


def _kwarg_names(pattern) -> list[str]:
    return list(pattern.regex.groupindex)  # path() patterns compile to named groups too


def _methods(callback) -> tuple:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset: the router says which methods
        return tuple(m for m in ("get", "post", "put", "patch", "delete") if m in actions)
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        return tuple(m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m))
    return ("get", "post")


def _walk(patterns, prefix="", namespace="", kwargs=()):
    for entry in patterns:
        names = tuple(_kwarg_names(entry.pattern))
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if entry.namespace and namespace else (entry.namespace or namespace)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner, kwargs + names)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield Route(name or "", prefix + str(entry.pattern), kwargs + names, _methods(entry.callback))


ROUTES = list(_walk(get_resolver().url_patterns))


def _is_api(route: Route) -> bool:
    return route.pattern.startswith(("api/", "taxii2/"))


def _is_taxii(route: Route) -> bool:
    return route.pattern.startswith("taxii2/")


# Public, or not scoped to an organization: each is still requested (GET) by every user of B, must answer
# without a 5xx and must not name A's objects; its writes are not tried here (they are its own tests' business).
EXEMPT: dict[str, str] = {
    "set_language": "the language switch: changes only the caller's own language",
    "core:login": "public sign-in page",
    "core:logout": "signs the caller out; names no object",
    "core:password_change": "the caller's own password (needs the current one)",
    "core:password_forgotten": "public: asks for a password link by e-mail (same answer for any address)",
    "core:password_set": "public: the signed one-time link of the e-mail; uid and token are the credential",
    "core:totp_verify": "the caller's own second factor at sign-in",
    "core:totp_enroll": "the caller's own second factor",
    "registry-api:sector-list": "reference data shared by the whole platform (content files)",
    "registry-api:sector-detail": "reference data shared by the whole platform (content files)",
    "registry-api:province-list": "reference data shared by the whole platform (content files)",
    "registry-api:province-detail": "reference data shared by the whole platform (content files)",
    "registry-api:level-framework-list": "reference data shared by the whole platform (the level criteria)",
    "registry-api:level-framework-detail": "reference data shared by the whole platform (the level criteria)",
    "telemetry:integration": "static connector files (syslog-ng, rsyslog, Wazuh) to download; no data",
    "telemetry-api:intake": "the SOC intake: authenticated by a source's own key, not by a user (tested in telemetry)",
    "telemetry-api:elastic": "Elasticsearch-compatible intake: a source's key, not a user",
    "telemetry-api:elastic-health": "Elasticsearch-compatible intake: a source's key, not a user",
    "telemetry-api:elastic-cluster-health": "Elasticsearch-compatible intake: a source's key, not a user",
    "telemetry-api:elastic-bulk": "Elasticsearch-compatible intake: a source's key, not a user",
    "telemetry-api:elastic-index-bulk": "Elasticsearch-compatible intake: a source's key, not a user",
    "intel:taxii:discovery": "TAXII discovery: the same document for everyone",
    "intel:taxii:api_root": "TAXII API root: the same document for everyone",
    "api-schema": "the OpenAPI schema: the same document for everyone",
    "api-docs": "the API's documentation page",
    "core:guide": "the user guide's index: the repository's docs/user-guide pages, the same for everyone",
    "core:guide_page": "a page of the user guide (docs/user-guide), the same for everyone",
}

# Values of path parts that are not another organization's object (a step, an action name).
EXEMPT_SAMPLE_KWARGS: dict[str, dict] = {
    "core:password_set": {"uidb64": "MQ", "token": "set-password"},
    "registry-api:sector-detail": {"code": "it"},
    "registry-api:province-detail": {"code": "01"},
    "registry-api:level-framework-detail": {"version": "1"},
    "telemetry:integration": {"name": "README.md"},
    "core:guide_page": {"slug": "soc-connect"},
    "telemetry-api:elastic-index-bulk": {"index": "logs"},
}

# What `pk` is, route by route (it names a different kind of object on each).
PK_OBJECTS: dict[str, str] = {
    "registry:organization_detail": "organization",
    "registry:organization_edit": "organization",
    "registry:organization_delete": "organization",
    "registry:organization_member_add": "organization",
    "registry:organization_member_role": "organization",
    "registry:organization_member_remove": "organization",
    "registry:organization_member_second_factor": "organization",
    "registry:system_detail": "system",
    "registry:system_edit": "system",
    "registry:system_delete": "system",
    "registry:system_step": "system",
    "registry:system_upload": "system",
    "registry:dossier_download": "dossier_file",
    "registry:dossier_remove": "dossier_file",
    "registry:isac_detail": "isac",
    "registry:isac_edit": "isac",
    "registry:import_job": "import_job",
    "registry:import_progress": "import_job",
    "registry-api:organization-detail": "organization",
    "registry-api:system-detail": "system",
    "registry-api:system-dossier": "system",
    "registry-api:system-dossier-file": "system",
    "registry-api:system-events": "system",
    "registry-api:system-level": "system",
    "registry-api:isac-detail": "isac",
    "registry-api:membership-detail": "membership",
    "registry-api:import-detail": "import_job",
    "incidents:incident_detail": "incident",
    "incidents:incident_pdf": "incident",
    "incidents:incident_transition": "incident",
    "incidents:incident_triage": "incident",
    "incidents:incident_classify": "incident",
    "incidents:incident_correct": "incident",
    "incidents:incident_stage": "incident",
    "incidents:incident_assign": "incident",
    "incidents:incident_unassign": "incident",
    "incidents:incident_comment": "incident",
    "incidents:incident_task_add": "incident",
    "incidents:incident_tasks_standard": "incident",
    "incidents:incident_task_edit": "incident",
    "incidents:incident_task_status": "incident",
    "incidents:evidence_add": "incident",
    "incidents:evidence_external_add": "incident",
    "incidents:evidence_custody": "incident",
    "incidents:evidence_seal": "incident",
    "incidents:evidence_verify": "incident",
    "incidents:observable_add": "incident",
    "incidents:observable_share": "incident",
    "incidents:observable_remove": "incident",
    "incidents:evidence_download": "evidence",
    "incidents-api:incident-detail": "incident",
    "incidents-api:incident-assign": "incident",
    "incidents-api:incident-classification": "incident",
    "incidents-api:incident-evidence": "incident",
    "incidents-api:incident-evidence-custody": "incident",
    "incidents-api:incident-evidence-download": "incident",
    "incidents-api:incident-evidence-external": "incident",
    "incidents-api:incident-evidence-seal": "incident",
    "incidents-api:incident-evidence-verify": "incident",
    "incidents-api:incident-journal": "incident",
    "incidents-api:incident-timeline": "incident",
    "incidents-api:incident-observable-remove": "incident",
    "incidents-api:incident-observables": "incident",
    "incidents-api:incident-observables-share": "incident",
    "incidents-api:incident-stage": "incident",
    "incidents-api:incident-task-status": "incident",
    "incidents-api:incident-task-update": "incident",
    "incidents-api:incident-tasks": "incident",
    "incidents-api:incident-tasks-standard": "incident",
    "incidents-api:incident-transition": "incident",
    "incidents-api:incident-unassign": "incident",
    "telemetry:alert": "alert",
    "telemetry:alert_triage": "alert",
    "telemetry:alert_incident": "alert",
    "telemetry:alert_join_incident": "alert",
    "telemetry:alert_suppress": "alert",
    "telemetry:source_lift_suppression": "suppression",
    "telemetry:campaign": "campaign",
    "telemetry:campaign_action": "campaign",
    "telemetry-api:alert-group": "alert",
    "telemetry-api:alert-group-related": "alert",
    "telemetry-api:alert-group-incident": "alert",
    "telemetry-api:alert-group-suppress": "alert",
    "telemetry-api:suppression-lift": "suppression",
    "telemetry-api:campaign": "campaign",
    "telemetry-api:campaign-action": "campaign",
    "intel:intel-api:collection-detail": "collection",
    "intel:intel-api:collection-members": "collection",
    "intel:intel-api:collection-objects": "collection",
    "intel:intel-api:warning-detail": "warning",
    "intel:intel-api:warning-acknowledge": "warning",
    "intel:intel-api:warning-targets": "warning",
    "intel:intel-api:warning-remind": "warning",
    "intel:intel-api:warning-updates": "warning",
    "intel:intel-api:allowlist-detail": "allow_entry",
    "intel:intel-api:subscription-detail": "subscription",
    "intel:intel-api:subscription-pull": "subscription",
    "intel:collection_detail": "collection",
    "intel:collection_member": "collection",
    "intel:warning_detail": "warning",
    "intel:warning_download": "warning",
    "intel:warning_remind": "warning",
    "intel:warning_update": "warning",
    "intel:warning_acknowledge": "warning_target",
    "intel:allowlist_delete": "allow_entry",
    "intel:exchange_subscription_edit": "subscription",
    "intel:exchange_subscription_pull": "subscription",
    "intel:exchange_subscription_delete": "subscription",
}

# Every other name a path takes: the kind of A's object it names, or a fixed value (not an object: a step).
KWARG_OBJECTS: dict[str, str] = {
    "seq": "audit_entry",
    "membership_id": "membership",
    "step": "level_step",
    "code": "report_stage",
    "responder_id": "responder",
    "task_id": "task",
    "evidence_id": "evidence",
    "observable_id": "observable",
    "file_id": "dossier_file",
    "name": "source_name",
    "action": "campaign_action",
    "collection_id": "collection",
    "object_id": "stix_id",
    "stix_id": "stix_id",
    "status_id": "taxii_status",
    "fmt": "download_format",
}

# Objects that come in several variants, each its own test (TLP levels of an intelligence object).
VARIANTS: dict[str, tuple[str, ...]] = {"stix_id": ("red", "amber")}

# B's callers: MIN's administrator, analyst and auditor (a trainee's rights are an auditor's: `core.roles`), an
# analyst of MIN's department, the responder company's responder, a person of no organization, and no one.
ROLES = ["admin", "analyst", "auditor", "dept_analyst", "responder", "nobody", "anonymous"]

# Known isolation bugs in apps this file may not fix (see the report of the change that added them).
KNOWN_LEAKS: dict[str, str] = {}


def _route_problems(route: Route) -> list[str]:
    if not route.name:
        return [f"the route {route.pattern!r} has no name: name it (and list it here if it is public)"]
    if route.name in EXEMPT:
        return []
    problems = []
    for kwarg in route.kwargs:
        if kwarg == "pk" and route.name not in PK_OBJECTS:
            problems.append(f"{route.name} ({route.pattern}) takes `pk`: say which kind of object it is in "
                            f"PK_OBJECTS, or list the route in EXEMPT with the reason it is not organization-scoped")
        elif kwarg != "pk" and kwarg not in KWARG_OBJECTS:
            problems.append(f"{route.name} ({route.pattern}) takes `{kwarg}`, which this test cannot fill: map it "
                            f"to an object of organization A in KWARG_OBJECTS (and build that object in `theirs`), "
                            f"or list the route in EXEMPT with the reason it is not organization-scoped")
    return problems


WRITES = ("post", "put", "patch", "delete")
# Who of B may write at all: the variants where B names its own objects are tried by them only.
WRITERS = ["admin", "analyst", "dept_analyst"]


def _cases():
    """(route, variant): "" (or a TLP level): A's objects in the path; "own-parent": B's own object first in the
    path and A's after it (a task of A's incident reached through B's incident); "own": B's objects in the path
    and A's in the body of every write."""
    for route in ROUTES:
        if route.name in EXEMPT:
            continue
        variants = [""]
        for kwarg in route.kwargs:
            if kwarg in VARIANTS:
                variants = list(VARIANTS[kwarg])
        if not _route_problems(route):
            objects = _object_kwargs(route)
            if len(objects) >= 2:
                variants.append("own-parent")
            if objects and set(route.methods) & set(WRITES):
                variants.append("own")
        for variant in variants:
            case_id = f"{route.name}[{variant}]" if variant else route.name
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN_LEAKS[case_id])] if case_id in KNOWN_LEAKS else []
            yield pytest.param(route, variant, id=case_id or route.pattern, marks=marks)


# --- Organization A's objects ---------------------------------------------------------------------------------


def _indicator(value: str, tlp: str, tag: str = MARKER) -> dict:
    from khien.intel.tlp import TLP_MARKING

    return {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": f"{tag} indicator {tlp}", "description": f"{tag} synthetic", "pattern_type": "stix",
        "indicator_types": ["malicious-activity"], "pattern": f"[ipv4-addr:value = '{value}']",
        "valid_from": "2026-01-01T00:00:00Z", "object_marking_refs": [TLP_MARKING[tlp]],
    }


def build_objects(world, make_system, org, unit, admin, tag: str, net: str):
    """One object of every kind a route names, owned by `org` (made by its administrator `admin`); `tag` goes into
    every name and title, and every address (indicators, observables, alerts) is in the /16 `net`."""
    from khien.core import notifications
    from khien.core import services as core_services
    from khien.core.models import AuditEntry
    from khien.incidents import services as incidents
    from khien.intel import federation, services_warnings
    from khien.intel import services as intel
    from khien.intel.models import TaxiiStatus, Tlp
    from khien.registry import services as registry
    from khien.registry.models import ImportJob, Membership
    from khien.telemetry import services as telemetry
    from khien.telemetry import triage
    from khien.telemetry.models import Alert, DeadLetter
    from khien.telemetry.tests.test_matching import ecs

    code = tag.upper()
    o = SimpleNamespace(org=org, unit=unit, admin=admin)
    o.user2 = _user(f"{tag}.analyst@test.vn", org, Role.ORG_ANALYST)
    o.membership = Membership.objects.get(user=o.user2, organization=org)
    o.system = make_system(org, name=f"{tag} system", code=f"SYS-{code}-1")
    o.dossier_file = registry.do_add_dossier_file(
        o.system, SimpleUploadedFile(f"{tag}-dossier.pdf", b"%PDF-1.4 " + tag.encode()), acting_user=admin)
    o.isac = registry.do_save_isac(None, {"code": f"ISAC-{code}", "name_vi": f"{tag} ISAC", "name_en": f"{tag} ISAC",
                                          "operator": org}, acting_user=admin, members=[unit])
    o.import_job = ImportJob.objects.create(kind="systems", original_name=f"{tag}-import.csv", created_by=admin,
                                            file=SimpleUploadedFile("x.csv", b"code\n"))
    o.responder = _org(f"RESP-{code[:2]}", "responder")  # a company of the directory (no marker: not secret)
    o.incident = incidents.do_report_incident({
        "organization": org, "title": f"{tag} incident", "detected_at": timezone.now() - dt.timedelta(hours=2),
        "category": "infected-system", "severity": "high", "suspected_malicious": True,
        "impact_beyond_organization": False, "description": f"{tag} description",
    }, acting_user=admin, systems=[o.system], observables=[("ipv4", f"{net}.21.9")])
    o.observable = o.incident.observables.get()
    o.task = incidents.do_add_task(o.incident, {"title": f"{tag} task"}, acting_user=admin)
    o.evidence = incidents.do_add_evidence(o.incident, acting_user=admin,
                                           uploaded=SimpleUploadedFile(f"{tag}-log.txt", b"secret log"))
    incidents.do_assign_responder(o.incident, o.responder, acting_user=world.coordinator)

    o.collection = intel.do_create_collection({"title": f"{tag} feed", "owner": org}, acting_user=admin)
    o.stix = {"red": _indicator(f"{net}.22.1", Tlp.RED, tag), "amber": _indicator(f"{net}.22.2", Tlp.AMBER, tag)}
    intel.do_add_objects(o.collection, [o.stix["amber"]], acting_user=admin)
    intel.do_add_objects(o.collection, [o.stix["red"]], acting_user=admin, recipients=[unit])
    o.taxii_status = TaxiiStatus.objects.create(collection=o.collection, submitted_by=admin,
                                                request_timestamp=timezone.now(), total_count=1, success_count=1,
                                                successes=[{"id": o.stix["amber"]["id"]}])
    o.warning = services_warnings.do_issue_warning(
        {"title": f"{tag} warning", "summary": f"{tag} summary", "severity": "high", "tlp": Tlp.AMBER,
         "values": [f"{net}.22.3"]}, acting_user=world.coordinator, organizations=[org], auto_match=False)
    o.warning_target = o.warning.targets.get(organization=org)
    o.subscription = federation.do_create_subscription(
        {"collection": o.collection, "name": f"{tag}-feed", "api_root_url": "https://feeds.example/api/",
         "remote_collection_id": "0b6f4b3e-7f57-4a46-9c7c-2f0f1a7b3c11"}, acting_user=admin)

    o.source, _key = telemetry.do_create_source(org, f"{tag}-soc", "ecs", acting_user=admin)
    telemetry.ingest_batch(o.source, [ecs(f"{net}.30.1", rule=f"{tag}-scan"),
                                      ecs(f"{net}.30.2", rule=f"{tag}-brute"), b"not json " + tag.encode()])
    o.alert, suppressed = Alert.objects.filter(source=o.source).order_by("rule_id")
    o.suppression = triage.do_suppress_alert(suppressed, acting_user=admin, reason=f"{tag} scanner", days=3)
    o.dead_letter = DeadLetter.objects.get(source=o.source)

    o.token, _key = core_services.do_create_api_token(admin, acting_user=admin, name=f"{tag} token")
    notifications.notify([admin], kind="test", title=f"{tag} notification", body=tag,
                         url=f"/incidents/{o.incident.pk}/")
    o.notification = admin.notifications.get(title=f"{tag} notification")
    o.audit_entry = AuditEntry.objects.filter(object_id=str(o.incident.pk)).order_by("seq").first()
    return o


@pytest.fixture
def theirs(world, make_system, settings):
    """Organization A (PROV and its commune): its objects, none shared with B; and the national ones."""
    from khien.incidents import content as incident_content
    from khien.intel import warninglists
    from khien.telemetry.models import Campaign

    settings.KHIEN_IMPORT_SYNC = True
    from khien.incidents.services import content_loaded

    if not content_loaded():
        incident_content.load_all()
    a = build_objects(world, make_system, world.province, world.commune, world.other_admin, MARKER, A_NET)
    now = timezone.now()
    a.campaign = Campaign.objects.create(kind="rule", key=f"{MARKER}-scan", title=f"{MARKER} campaign",
                                         rule_name=f"{MARKER} rule", first_seen=now, last_seen=now,
                                         organization_count=1, count=1)
    a.campaign.organizations.set([a.org])
    # The national allow-list is the coordinator's and shown to everyone: no marker, but B may not remove it.
    a.allow_entry = warninglists.do_add_allow_entry("domain", "allowed.example", acting_user=world.coordinator)
    return a


def ours(world, make_system, a):
    """B's own objects (MIN, made by its administrator): the parent in a path whose child is A's, or the object a
    write names while its body names A's objects."""
    o = build_objects(world, make_system, world.ministry, world.department, world.admin, "ourown", "198.18")
    o.campaign, o.allow_entry = a.campaign, a.allow_entry  # national: there is no "own" one
    return o


CONSTANTS = {"level_step": "submit", "report_stage": "notification", "campaign_action": "dismiss",
             "download_format": "txt"}


def _kwarg_value(kind: str, o, variant: str):
    if kind in CONSTANTS:  # not objects: a value the route accepts, so that only the object in the path refuses
        return CONSTANTS[kind]
    if kind == "stix_id":
        return o.stix[variant if variant in o.stix else "red"]["id"]
    if kind == "audit_entry":
        return o.audit_entry.seq
    if kind == "source_name":
        return o.source.name
    return (o.org if kind == "organization" else getattr(o, kind)).pk


def _object_kwargs(route: Route) -> list[str]:
    return [k for k in route.kwargs if _kind(route, k) not in CONSTANTS]


def _kind(route: Route, kwarg: str) -> str:
    return PK_OBJECTS[route.name] if kwarg == "pk" else KWARG_OBJECTS[kwarg]


def _url(route: Route, a, variant: str, own=None) -> str:
    """The route with A's objects; `own` (variant "own"): B's objects instead; (variant "own-parent"): B's object
    first in the path, A's after it."""
    kwargs = {}
    objects = _object_kwargs(route)
    for kwarg in route.kwargs:
        mine = own is not None and (variant == "own" or (variant == "own-parent" and kwarg == objects[0]))
        kwargs[kwarg] = str(_kwarg_value(_kind(route, kwarg), own if mine else a, variant))
    return reverse(route.name, kwargs=kwargs)


def poison_body(a) -> dict:
    """A body naming A's objects under every field name a write of this platform takes."""
    return {
        "organization": a.org.code, "organizations": [a.org.code], "owner": a.org.code, "operator": a.org.code,
        "parent": a.org.code, "members": [a.org.code], "responder": a.responder.code, "sender": a.org.code,
        "system": a.system.code, "systems": [a.system.code], "incident": a.incident.reference,
        "collection": str(a.collection.pk), "collections": [str(a.collection.pk)],
        "alerts": [str(a.alert.pk)], "alert": str(a.alert.pk), "ids": [str(a.dead_letter.pk)],
        "observables": [str(a.observable.pk)], "evidence": str(a.evidence.pk), "task": str(a.task.pk),
        "source": a.source.name, "suppression": str(a.suppression.pk), "campaign": str(a.campaign.pk),
        "warning": str(a.warning.pk), "target": str(a.warning_target.pk), "subscription": str(a.subscription.pk),
        "revoke": str(a.token.pk), "token": str(a.token.pk), "membership": str(a.membership.pk),
        "user": a.admin.email, "email": a.admin.email, "notifications": [], "indicator_refs": [a.stix["red"]["id"]],
        "report_id": a.stix["red"]["id"], "stix_id": a.stix["red"]["id"], "object": a.stix["red"]["id"],
        "isac": a.isac.code, "isacs": [a.isac.code], "code": a.org.code, "role": Role.ORG_ADMIN, "status": "resolved",
        "state": "acted", "title": "x", "name": "x", "reason": "x", "days": 1, "tlp": "red",
    }


# Bodies a route would accept from A itself: a route that checks its body before A's object is then still seen
# to refuse the object, not the body.
def _bodies(a) -> dict[str, dict]:
    org, new = str(a.org.pk), "NEW-ZZ"
    return {
        # Creating inside A: complete bodies, A's organization by id (pages) or by code (API).
        "registry:organization_create": {"code": new, "name_vi": "x", "name_en": "x", "org_type": "agency",
                                         "parent": org, "is_active": "on"},
        "registry:system_create": {"code": f"SYS-{new}", "name": "x", "owner": org, "operational_status": "operating"},
        "registry:isac_create": {"code": f"ISAC-{new}", "name_vi": "x", "name_en": "x", "operator": org},
        "intel:collection_create": {"title": "x", "kind": "group", "owner": org},
        "intel:indicator_create": {"name": "x", "value_kind": "ipv4", "value": "203.0.113.77", "tlp": "green",
                                   "indicator_type": "malicious-activity", "collection": str(a.collection.pk)},
        "telemetry:source_create": {"organization": org, "name": "new-src", "format": "ecs", "time_zone": "UTC"},
        "telemetry:alerts_triage": {"alerts": [str(a.alert.pk)], "status": "resolved"},
        "registry-api:organization-list": {"code": new, "name_vi": "x", "name_en": "x", "org_type": "agency",
                                           "parent": a.org.code},
        "registry-api:system-list": {"code": f"SYS-{new}", "name": "x", "owner": a.org.code},
        "registry-api:membership-list": {"organization": a.org.code, "user": "new@test.vn", "role": Role.ORG_ADMIN},
        "registry-api:isac-list": {"code": f"ISAC-{new}", "name_vi": "x", "name_en": "x", "operator": a.org.code},
        "intel:intel-api:collection-list": {"title": "x", "kind": "group", "owner": a.org.code},
        # Bulk revocation: A's objects by STIX id (refused for B: unknown to it, or not its organization's).
        "intel:intel-api:object-revoke": {"ids": [a.stix["red"]["id"], a.stix["amber"]["id"]], "reason": "x"},
        "intel:objects_revoke": {"ids": [a.stix["red"]["id"], a.stix["amber"]["id"]], "reason": "x"},
        "intel:intel-api:subscription-list": {"collection": str(a.collection.pk), "name": "new-feed",
                                              "api_root_url": "https://feeds.example/api/",
                                              "remote_collection_id": "x"},
        "telemetry-api:sources": {"organization": a.org.code, "name": "new-src", "format": "ecs"},
        "telemetry-api:alert-groups-triage": {"alerts": [str(a.alert.pk)], "status": "resolved"},
        "core:notifications": {"id": str(a.notification.pk)},
        "core-api:notifications-read": {"ids": [str(a.notification.pk)]},
        "core:tokens": {"revoke": str(a.token.pk)},
        "registry:organization_edit": {"code": a.org.code, "name_vi": "x", "name_en": "x", "org_type": "province"},
        "registry:organization_member_add": {"email": "new@test.vn", "role": Role.ORG_ADMIN},
        "registry:organization_member_role": {"role": Role.TRAINEE},
        "registry:system_edit": {"code": a.system.code, "name": "x", "owner": str(a.org.pk)},
        "registry-api:organization-detail": {"code": a.org.code, "name_vi": "x", "name_en": "x",
                                             "org_type": "province"},
        "registry-api:system-detail": {"name": "x", "code": a.system.code, "owner": a.org.code},
        "registry-api:system-level": {"note": "x"},
        "registry-api:membership-detail": {"role": Role.TRAINEE},
        "registry-api:isac-detail": {"name_vi": "x", "name_en": "x"},
        "registry:isac_edit": {"code": a.isac.code, "name_vi": "x", "name_en": "x", "operator": str(a.org.pk)},
        "incidents:incident_transition": {"status": "triaged"},
        "incidents:incident_comment": {"text": "x"},
        "incidents:incident_task_add": {"title": "x"},
        "incidents:incident_task_status": {"status": "done"},
        "incidents:incident_assign": {"responder": str(a.responder.pk)},
        "incidents:evidence_add": {"note": "x"},
        "incidents:evidence_custody": {"action": "analysed"},
        "incidents:observable_add": {"obs-observables": "1.2.3.4"},
        "incidents-api:incident-journal": {"text": "x"},
        "incidents-api:incident-tasks": {"title": "x"},
        "incidents-api:incident-task-status": {"status": "done"},
        "incidents-api:incident-task-update": {"title": "x"},
        "incidents-api:incident-observables": [{"value": "evil.example"}],
        "incidents-api:incident-transition": {"status": "triaged"},
        "incidents-api:incident-stage": {"stage": "notification"},
        "incidents-api:incident-assign": {"responder": a.responder.code},
        "incidents-api:incident-unassign": {"responder": a.responder.code, "reason": "x"},
        "incidents-api:incident-evidence": {"note": "x"},
        "incidents-api:incident-evidence-custody": {"action": "analysed"},
        "telemetry:alert_triage": {"status": "resolved"},
        "telemetry:alert_suppress": {"reason": "x", "days": 1},
        "telemetry-api:alert-group": {"status": "resolved"},
        "telemetry-api:alert-group-suppress": {"reason": "x", "days": 1},
        "telemetry-api:source": {"enabled": False},
        "telemetry-api:source-systems": {"systems": []},
        "telemetry-api:source-dead-letters-reprocess": {"all": True},
        "telemetry-api:source-dead-letters-discard": {"ids": [a.dead_letter.pk]},
        "telemetry:source_dead_letters": {"action": "discard", "ids": [str(a.dead_letter.pk)]},
        "telemetry:source_try": {"records": '{"event": {"kind": "alert"}}'},
        "telemetry-api:source-try": [{"event": {"kind": "alert"}}],
        "intel:intel-api:collection-members": {"organization": "MIN", "can_read": True, "can_write": True},
        "intel:intel-api:collection-objects": {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                                          "objects": [_indicator("203.0.113.9", "green")]}},
        "intel:intel-api:warning-acknowledge": {"state": "acted", "organization": a.org.code},
        "intel:intel-api:warning-updates": {"text": "x"},
        "intel:intel-api:subscription-detail": {"enabled": False, "interval_minutes": 5},
        "intel:collection_member": {"organization": "MIN", "can_read": "on", "can_write": "on"},
        "intel:warning_acknowledge": {"state": "acted"},
        "intel:warning_update": {"text": "x"},
        "intel:exchange_subscription_edit": {"enabled": "", "interval_minutes": 5},
        "intel:taxii:objects": {"objects": [_indicator("203.0.113.8", "green")]},
    }


# --- The database, compared row by row ----------------------------------------------------------------------------

# Columns that move on a read and say nothing of any organization's data.
NOISE = {"core.apitoken": {"last_used_at"}, "core.user": {"last_login"}}


def _models():
    return [m for m in apps.get_models(include_auto_created=True)
            if m._meta.app_label not in {"sessions", "contenttypes", "admin"} and not m._meta.proxy]


def snapshot() -> dict:
    rows = {}
    for model in _models():
        label = model._meta.label_lower
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in NOISE.get(label, ())]
        pk = model._meta.pk.attname
        rows[label] = {r[names.index(pk)]: r for r in model._base_manager.order_by().values_list(*names)}
    return rows


def diff(before: dict, after: dict) -> list[tuple[str, str, object, tuple]]:
    """(change, model, pk, row) for every row added, changed or deleted."""
    changes = []
    for label, rows in after.items():
        old = before.get(label, {})
        for pk, row in rows.items():
            if pk not in old:
                changes.append(("added", label, pk, row))
            elif old[pk] != row:
                changes.append(("changed", label, pk, row))
        changes.extend(("deleted", label, pk, row) for pk, row in old.items() if pk not in rows)
    return changes


def _fk_targets(label: str) -> list[tuple[int, str]]:
    """(column position, target model) for each foreign key of the model, as in `snapshot`'s rows."""
    model = apps.get_model(label)
    names = [f for f in model._meta.concrete_fields if f.attname not in NOISE.get(label, ())]
    return [(i, f.related_model._meta.label_lower) for i, f in enumerate(names) if f.is_relation and f.related_model]


# Rows by which B shares its own things with another organization: a new one may name A's organization.
SHARED_WITH = {
    "intel.collectionmember": "B lets A read or write B's own collection",
    "intel.stixrecipient": "B names A a recipient of B's own TLP:RED object",
    "intel.warningtarget": "a warning B may issue is sent to A",
    "registry.isac_members": "B's ISAC counts A as a member",
}


class Theirs:
    """A's rows (every row its fixture wrote, its organizations, people and memberships) and the strings that name
    them (ids, STIX ids, the marker)."""

    def __init__(self, before: dict, after: dict, a):
        from khien.core.models import User
        from khien.registry.models import Membership, Organization

        # Organizations of A are its tree only (the responder company its incident is assigned to is nobody's), and
        # the national counter of incident references is nobody's either.
        self.rows = {(label, pk) for change, label, pk, _row in diff(before, after)
                     if change == "added" and label not in ("registry.organization", "incidents.incidentcounter")}
        self.rows |= {("registry.organization", o.pk) for o in Organization.objects.filter(path__startswith=a.org.path)}
        self.organizations = {o.pk for o in Organization.objects.filter(path__startswith=a.org.path)}
        self.rows |= {("core.user", u.pk) for u in User.objects.filter(memberships__organization__path__startswith=a.org.path)}
        self.rows |= {("registry.membership", m.pk)
                      for m in Membership.objects.filter(organization__path__startswith=a.org.path)}
        # The directory of organizations is not secret (forms offer every organization as an ISAC member, a
        # warning's target, a responder): their ids may appear; everything A owns may not.
        directory = {str(pk) for pk in Organization.objects.values_list("pk", flat=True)}
        self.names = {str(pk) for _label, pk in self.rows if isinstance(pk, uuid.UUID)} - directory
        self.names |= {obj["id"] for obj in a.stix.values()} | set(A_ADDRESSES)

    def named_in(self, text: str) -> list[str]:
        lowered = text.lower()
        return [n for n in ([MARKER] + sorted(self.names)) if n.lower() in lowered]

    def touched(self, changes) -> list:
        """The changes that reach A: one of its rows changed or deleted, or a new row pointing at or naming one."""
        reached = []
        for change, label, pk, row in changes:
            if (label, pk) in self.rows:
                reached.append((change, label, pk))
                continue
            pointers = [(target, row[i]) for i, target in _fk_targets(label) if (target, row[i]) in self.rows]
            if change == "added":  # people are the platform's: B may name one (a member, an owner, a recipient)
                pointers = [(t, v) for t, v in pointers if t != "core.user"]
            if label in SHARED_WITH and change == "added":  # B shares its own things with A: A's org may be named
                pointers = [(t, v) for t, v in pointers if t != "registry.organization"]
            if pointers:
                reached.append((change, label, pk, f"points at A: {pointers[:2]}"))
            elif any(isinstance(v, str) and self.named_in(v) for v in row):
                reached.append((change, label, pk, f"names A: {[self.named_in(v) for v in row if isinstance(v, str) and self.named_in(v)][:1]}"))
        return reached


# --- Callers ------------------------------------------------------------------------------------------------------


@pytest.fixture
def callers(world, client):
    """role -> (page client, API client): B's users signed in (pages) or with a token (API and TAXII)."""
    from django.test import Client
    from rest_framework.test import APIClient

    from khien.core import services as core_services

    made = {}
    for role in ROLES:
        user = None if role == "anonymous" else getattr(world, role)
        page, api = Client(), APIClient()
        if user is not None:
            page.force_login(user)
            _token, key = core_services.do_create_api_token(user, acting_user=user)
            api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        made[role] = (page, api)
    return made


@pytest.fixture
def scene(world, callers, db):
    """B's callers, then A's objects; with the rows A's fixture wrote told apart (the content files, national, are
    loaded before)."""
    from khien.incidents import content as incident_content

    incident_content.load_all()
    return SimpleNamespace(callers=callers, before_a=snapshot())


def _content(response) -> str:
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    return body.decode("utf-8", "replace")


def _call(route: Route, clients, method: str, url: str, body, params=None):
    page, api = clients
    if _is_taxii(route):
        headers = {"HTTP_ACCEPT": "application/taxii+json;version=2.1"}
        if method == "get":
            return api.get(url, params or {}, **headers)
        return getattr(api, method)(url, data=json.dumps(body), content_type="application/taxii+json;version=2.1",
                                    **headers)
    if _is_api(route):
        if method == "get":
            return api.get(url, params or {})
        return getattr(api, method)(url, body, format="json")
    if method == "get":
        return page.get(url, params or {})
    if method == "post":
        return page.post(url, body)
    return getattr(page, method)(url, json.dumps(body), content_type="application/json")


def _refused(role: str, response) -> bool:
    if role == "anonymous" and response.status_code in (301, 302):
        return "/accounts/login/" in response.get("Location", "")
    return 400 <= response.status_code < 500


# --- The tests ----------------------------------------------------------------------------------------------------


def test_every_route_is_known():
    """A route the test cannot fill fails here, all at once, with what to add; and no table names a route gone."""
    problems = [p for route in ROUTES for p in _route_problems(route)]
    names = {route.name for route in ROUTES}
    for table, listed in (("EXEMPT", EXEMPT), ("PK_OBJECTS", PK_OBJECTS), ("EXEMPT_SAMPLE_KWARGS", EXEMPT_SAMPLE_KWARGS)):
        problems += [f"{table} names {name!r}, which is no route any more" for name in listed if name not in names]
    problems += [f"KNOWN_LEAKS names {case!r}, which is no case any more" for case in KNOWN_LEAKS
                 if case.split("[")[0] not in names]
    assert not problems, "\n".join(problems)
    assert len(ROUTES) > 150  # the walk reached the nested API, TAXII and app routes


def filters(a, by_id: bool = False) -> dict:
    """A list filtered on A's objects (by code, or by id): it must come back empty (or refused), never with A's
    rows."""
    org, system = (str(a.org.pk), str(a.system.pk)) if by_id else (a.org.code, a.system.code)
    return {"organization": org, "owner": org, "source": a.source.name, "system": system,
            "collection": str(a.collection.pk), "incident": a.incident.reference, "status": "all",
            "value": f"{A_NET}.22.1", "q": f"{A_NET}.22.1"}


def _sent(value) -> list[str]:
    """Every string a request carried: the answer may give them back (a form, a "next" link, an error message)."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _sent(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _sent(v)]
    return [str(value)] if value not in (None, True, False) else []


@pytest.mark.parametrize("route,variant", list(_cases()))
def test_route_refuses_another_organizations_objects(route, variant, world, scene, request):
    problems = _route_problems(route)
    assert not problems, "\n".join(problems)
    a = request.getfixturevalue("theirs")
    theirs = Theirs(scene.before_a, snapshot(), a)
    own = ours(world, request.getfixturevalue("make_system"), a) if variant.startswith("own") else None
    url = _url(route, a, variant, own)
    bodies = _bodies(a)
    requests = [("get", None, None)] if "get" in route.methods else []
    if "get" in route.methods and not route.kwargs:
        requests += [("get", None, filters(a)), ("get", None, filters(a, by_id=True))]
    requests += [(m, bodies.get(route.name, poison_body(a)), None) for m in route.methods if m in WRITES]
    roles = ROLES
    if variant == "own":  # B's own objects may be read and changed by B: only A's, named in the body, may not
        requests = [(m, poison_body(a), None) for m, _b, _p in requests if m in WRITES]
        roles = WRITERS
    objects_in_path = bool(route.kwargs) and variant != "own"
    failures, done = [], []
    before = snapshot()
    for role in roles:
        for method, body, params in requests:
            response = _call(route, scene.callers[role], method, url, body, params)
            text = _content(response)
            what = f"{role} {method.upper()} {url}{'?…' if params else ''} -> {response.status_code}"
            done.append(what)
            if response.status_code >= 500:
                failures.append(f"{what}: server error {text[:300]}")
            echoed = _sent(resolve(url).kwargs) + _sent(body) + _sent(params)
            shown = text + response.get("Location", "") + response.get("Content-Disposition", "")
            named = theirs.named_in(_without(shown, echoed))
            if named:
                failures.append(f"{what}: the answer names A's objects {named[:3]}: {_excerpt(text, named[0])}")
            if objects_in_path and not _refused(role, response):
                failures.append(f"{what}: not refused")
    # Compared once, after every caller (the rows that changed say which request it was): a path naming A's
    # objects changes nothing at all; any other path nothing of A's.
    changes = diff(before, snapshot())
    if objects_in_path and changes:
        failures.append(f"the database changed {[c[:3] for c in changes][:8]} after: {'; '.join(done)}")
    elif not objects_in_path and theirs.touched(changes):
        failures.append(f"A's data changed {theirs.touched(changes)[:8]} after: {'; '.join(done)}")
    assert not failures, "\n".join(failures)


def _without(text: str, echoed) -> str:
    for value in sorted(echoed, key=len, reverse=True):
        text = text.replace(value, "").replace(quote(value, safe=""), "")
    return text


def _excerpt(text: str, name: str) -> str:
    at = text.lower().find(name.lower())
    return re.sub(r"\s+", " ", text[max(0, at - 120): at + 80])


@pytest.mark.parametrize("name", sorted(EXEMPT))
def test_exempt_route_names_nothing_of_another_organization(name, world, scene, request):
    """Public or unscoped routes: answered without a server error, and A's objects appear nowhere in them."""
    route = next(r for r in ROUTES if r.name == name)
    a = request.getfixturevalue("theirs")
    theirs = Theirs(scene.before_a, snapshot(), a)
    url = reverse(name, kwargs=EXEMPT_SAMPLE_KWARGS.get(name) or None)
    failures = []
    if "get" not in route.methods:
        return
    for role in ("analyst", "anonymous"):  # the same document for everyone
        response = _call(route, scene.callers[role], "get", url, None)
        text = _content(response)
        if response.status_code >= 500:
            failures.append(f"{role} GET {url} -> {response.status_code}")
        if theirs.named_in(text):
            failures.append(f"{role} GET {url}: names {theirs.named_in(text)[:3]}")
    assert not failures, "\n".join(failures)


def test_the_matrix_can_fail(world, scene, request):
    """The comparison sees a change and a name: A's own administrator reads and changes A's system."""
    from khien.registry import services as registry

    a = request.getfixturevalue("theirs")
    theirs = Theirs(scene.before_a, snapshot(), a)
    before = snapshot()
    registry.do_update_system(a.system, {"name": f"{MARKER} renamed"}, acting_user=a.admin)
    assert theirs.touched(diff(before, snapshot()))
    from django.test import Client

    own = Client()
    own.force_login(a.admin)
    assert theirs.named_in(_content(own.get(reverse("registry:system_detail", kwargs={"pk": a.system.pk}))))


def test_a_route_with_a_path_part_nobody_mapped_fails_with_what_to_add():
    new = Route("incidents:gadget", "incidents/<uuid:pk>/gadgets/<uuid:gadget_id>/", ("pk", "gadget_id"), ("get",))
    problems = _route_problems(new)
    assert any("`pk`" in p and "PK_OBJECTS" in p for p in problems)
    assert any("`gadget_id`" in p and "KWARG_OBJECTS" in p for p in problems)
    assert not _route_problems(Route("incidents:gadget", "x/<uuid:task_id>/", ("task_id",), ("get",)))
