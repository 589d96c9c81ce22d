"""Incident operations. The only place that changes incident state.

Same shape as `khien.registry.services`: every `do_*` function takes
`acting_user`, checks the right (`khien.core.scoping`), validates everything
before writing, writes in one transaction, appends to the audit log and adds a
line to the incident's journal (`IncidentEvent`).

Who may do what on an incident:

- report: anyone who may ADD in the reporting organization (its admins and
  analysts, those of its parent organizations, the coordinator);
- move through the workflow: the reporting side (who may CHANGE in the
  reporting organization) and the coordinator; the people of an assigned
  responder organization may take it from triaged to resolved, but not
  triage, close or reopen it;
- assign responders: the coordinator and the reporting organization's
  administrators (or those of its parents);
- comment and manage tasks (add them, change their status, person in charge,
  due time and description, add the standard tasks of the category): the
  reporting side, the coordinator and the assigned responders — the same
  people are the only ones a task can be given to;
- the organizations whose information systems the incident names (and those
  above them) read it in part (`reads_whole`, `systems_shown`) unless its TLP
  is AMBER+STRICT or RED, and their administrators and analysts comment
  (`may_comment`); nothing else;
- remove a responder assignment: the national coordinator;
- evidence: the same participants add it and record its chain of custody;
  the reporting side and the coordinator seal it, after which its file, hash,
  description and past custody steps never change (409); later hand-overs are
  still recorded.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext

from khien.core import audit
from khien.core.texts import shown_time
from khien.core.audit import Act
from khien.core.errors import Forbidden, Refused, file_too_large
from khien.core.roles import ROLE_ACTIONS, Action, Role
from khien.core.scoping import (NOTHING, coordination_boundaries, is_national_coordinator, memberships_of, reaching_line,
                                scope_for, scope_within, user_can)
from khien.core.timerange import out_of_range_message, storable
from khien.registry.models import InformationSystem, Organization, OrgType

from . import deadlines, notices
from . import evidence as integrity_rule
from .models import (
    AFFECTED_TLPS,
    OPEN_TASK_STATUSES,
    RECORDED_BY_PLATFORM,
    STATUS_ORDER,
    STATUS_TIME_FIELDS,
    CustodyAction,
    CustodyEvent,
    EventKind,
    Evidence,
    EvidenceKind,
    Incident,
    IncidentCounter,
    IncidentEvent,
    ReportingPolicy,
    ResponderAssignment,
    Status,
    Task,
    TaskParty,
    TaskStatus,
    TaskTemplates,
    Taxonomy,
    affected_q,
)

REPORT_FIELDS = [
    "organization", "title", "detected_at", "category", "severity", "suspected_malicious",
    "impact_beyond_organization", "services_disrupted", "data_exposed", "personal_data_exposed",
    "people_affected", "description", "tlp", "late_reason",
]

# Who may take each step: "reporter" (the reporting side and the coordinator) and/or
# "responder" (people of an assigned responder organization).
REPORTER, RESPONDER = "reporter", "responder"
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (Status.NEW, Status.TRIAGED): frozenset({REPORTER}),
    (Status.TRIAGED, Status.IN_RESPONSE): frozenset({REPORTER, RESPONDER}),
    (Status.IN_RESPONSE, Status.CONTAINED): frozenset({REPORTER, RESPONDER}),
    (Status.CONTAINED, Status.RESOLVED): frozenset({REPORTER, RESPONDER}),
    (Status.RESOLVED, Status.CLOSED): frozenset({REPORTER}),
    # Reopening: back to the response, with a reason.
    (Status.RESOLVED, Status.IN_RESPONSE): frozenset({REPORTER}),
    (Status.CLOSED, Status.IN_RESPONSE): frozenset({REPORTER}),
}
REOPENS = frozenset({(Status.RESOLVED, Status.IN_RESPONSE), (Status.CLOSED, Status.IN_RESPONSE)})
# Statuses whose times a reopen clears (the journal keeps the earlier ones).
CLEARED_BY_REOPEN = (Status.CONTAINED, Status.RESOLVED, Status.CLOSED)
# Roles in a responder organization that work on the incidents assigned to it.
RESPONDER_ROLES = frozenset({Role.RESPONDER, Role.ORG_ADMIN, Role.ORG_ANALYST})


# --- Rights ---------------------------------------------------------------------------


def is_reporting_side(user, incident: Incident) -> bool:
    return user_can(user, Action.CHANGE, incident.organization)


def is_assigned_responder(user, incident: Incident) -> bool:
    paths = [p for role, p, _o in memberships_of(user) if role in RESPONDER_ROLES]
    if not paths:
        return False
    reach = scope_within(user, paths)
    return any(reach.covers_path(a) for a in incident.assignments.values_list("responder__path", flat=True))


def sides_of(user, incident: Incident) -> set[str]:
    sides = set()
    if is_reporting_side(user, incident):
        sides.add(REPORTER)
    if is_assigned_responder(user, incident):
        sides.add(RESPONDER)
    return sides


def next_steps(incident: Incident) -> list[tuple[str, frozenset[str]]]:
    """The forward steps from the incident's status (reopening aside) and who may take each."""
    return [(to_status, sides) for (from_status, to_status), sides in TRANSITIONS.items()
            if from_status == incident.status and (from_status, to_status) not in REOPENS]


def may_transition(user, incident: Incident, to_status: str) -> bool:
    allowed = TRANSITIONS.get((incident.status, to_status))
    return bool(allowed and allowed & sides_of(user, incident))


def _stage_name(stage) -> str:
    """A report stage's name in the active language: a stage of the policy (a dict) or a pending deadline."""
    get = stage.get if isinstance(stage, dict) else (lambda key: getattr(stage, key, ""))
    english = (get_language() or "vi").startswith("en")
    return (get("name_en") if english else get("name_vi")) or get("name_vi") or get("code")


def transition_problem(incident: Incident, to_status: str, reader=None) -> str | None:
    """Why an existing step cannot be taken now (the page says it beside the step; the service refuses), or None.

    Closing needs every report stage of the policy given: the final report records the root cause and the
    mitigation, and a closed incident has no report left to give (nor a countdown to it). Said to `reader` (the
    page's reader) who cannot give the stage, it names who must: the reporting organization.
    """
    if to_status == Status.CLOSED:
        missing = deadlines.incident_next_stage(incident)
        if missing is not None:
            if reader is not None and not is_reporting_side(reader, incident):
                return _("The reporting organization must give “%(stage)s” before the incident is closed.") % {
                    "stage": _stage_name(missing)}
            return _("Give “%(stage)s” before closing the incident.") % {"stage": _stage_name(missing)}
    return None


# Resolving or closing ends the response: a task still open then is either forgotten or no longer needed. The
# caller says which (`cancel_open_tasks`), as TheHive asks before closing a case with open tasks.
ENDS_THE_TASKS = (Status.RESOLVED, Status.CLOSED)


def task_parties(user, incident: Incident) -> set[str]:
    """The parties (`TaskParty`) whose tasks the user may end with a workflow step: the reporting side acts for the
    reporting organization — and for the responder organization while none is assigned (the reporting organization
    then responds itself) —, the assigned responders for the responder organization, the national coordinator for
    every party (it coordinates the response, and may act for the reporting organization)."""
    if is_national_coordinator(user):
        return set(TaskParty.values)
    parties = set()
    if is_reporting_side(user, incident):
        parties.add(TaskParty.REPORTER)
        if not incident.assignments.exists():
            parties.add(TaskParty.RESPONDER)
    if is_assigned_responder(user, incident):
        parties.add(TaskParty.RESPONDER)
    return parties


def task_party(task: Task, incident: Incident) -> str:
    """Whose task it is: its party (a standard task, `tasks.yaml`), else the side its person in charge works for on
    the incident (a task added by hand and given to someone), else "" (nobody's in particular: anyone's)."""
    if task.party:
        return task.party
    owner = task.owner
    if owner is None:
        return ""
    if is_national_coordinator(owner):
        return TaskParty.COORDINATOR
    if is_reporting_side(owner, incident):
        return TaskParty.REPORTER
    if is_assigned_responder(owner, incident):
        return TaskParty.RESPONDER
    return ""


def _ends_task(user, task: Task, incident: Incident, parties: set[str]) -> bool:
    """May `user`, acting for `parties`, end `task` with a step: one of their parties', in their charge, or
    nobody's in particular."""
    party = task_party(task, incident)
    return not party or party in parties or task.owner_id == user.pk


def open_tasks(incident: Incident, to_status: str | None = None, user=None):
    """The incident's tasks not done nor cancelled; with `to_status`, those that the step to it ends: resolving
    leaves the standard tasks that belong after it (`after: resolved` in tasks.yaml: the lessons learned and the
    final report, given once the incident is resolved) open, closing ends them all.

    With `user` (who takes the step), resolving ends only the tasks of the parties they act for (`task_parties`),
    those in their own charge and those of nobody in particular: a responder who declares the incident resolved
    ends its own work, not the reporting organization's (checking the backups, resetting the passwords) nor the
    coordinator's — those stay open (`tasks_left_open`) for their party to finish or cancel, and closing asks about
    them. Closing ends every task whoever closes (only the reporting side and the coordinator close: a closed
    incident's tasks no longer change); each party whose tasks are cancelled is told which (`notices.status_changed`)."""
    tasks = Task.objects.filter(incident=incident, status__in=OPEN_TASK_STATUSES)
    if to_status == Status.RESOLVED:
        templates = TaskTemplates.current()
        later = [code for code, entry in (templates.data.get("tasks", {}) if templates else {}).items()
                 if entry.get("after") == Status.RESOLVED]
        if later:
            tasks = tasks.exclude(template_code__in=later)
        if user is not None:
            parties = task_parties(user, incident)
            tasks = tasks.filter(pk__in=[task.pk for task in tasks.select_related("owner")
                                         if _ends_task(user, task, incident, parties)])
    return tasks


def tasks_left_open(incident: Incident, to_status: str, user):
    """The open tasks that `user`'s step to `to_status` does not end (`open_tasks`): when resolving, those of the
    parties they do not act for."""
    if to_status != Status.RESOLVED:
        return Task.objects.none()
    ended = open_tasks(incident, to_status, user).values("pk")
    return open_tasks(incident, to_status).exclude(pk__in=ended).select_related("owner")


def open_tasks_problem(incident: Incident, to_status: str, user=None) -> str | None:
    """Why `to_status` needs the open tasks cancelled first (the page asks, the service refuses unless the caller
    asks to cancel them), or None. With `user`, the tasks their step would end (`open_tasks`)."""
    if to_status not in ENDS_THE_TASKS:
        return None
    n = open_tasks(incident, to_status, user).count()
    if not n:
        return None
    return ngettext("%(n)s task of the incident is still open: finish it first, or confirm that it is cancelled.",
                    "%(n)s tasks of the incident are still open: finish them first, or confirm that they are "
                    "cancelled.", n) % {"n": n}


def stage_problem(incident: Incident, stage: dict) -> str | None:
    """Why a later report stage (a stage dict of the incident's policy) cannot be given in the incident's status
    (the page says it instead of the form; the service refuses), or None.

    A stage with `given_from_status` waits for that status: the final report states the root cause and the
    mitigation applied, which are known once the response has ended (the incident resolved)."""
    wanted = stage.get("given_from_status")
    if wanted and STATUS_ORDER.index(incident.status) < STATUS_ORDER.index(wanted):
        return _("“%(stage)s” is given at the end of the response: the incident must be “%(status)s” first.") % {
            "stage": _stage_name(stage), "status": Status(wanted).label}
    return None


def may_assign(user, incident: Incident) -> bool:
    """Assign a responder: the national coordinator, and the administrators of the reporting organization (or of an
    organization above it), who may bring in the responder they work with."""
    if is_national_coordinator(user):
        return True
    admin_of = [p for role, p, _o in memberships_of(user) if role == Role.ORG_ADMIN]
    return bool(admin_of) and scope_within(user, admin_of).covers_path(incident.organization.path)


def may_participate(user, incident: Incident) -> bool:
    """Comment, manage tasks: the reporting side, the coordinator and the assigned responders."""
    return bool(sides_of(user, incident))


def reads_whole(user, incident: Incident) -> bool:
    """Does the user read the whole incident — its reporting organization's line, an assigned responder's, the
    coordinator — rather than only as an organization whose information systems it names (`affected_q`)? Those
    see their own systems (the others counted), the status, the deadlines, the responders and the journal's
    FOLLOWED_EVENT_KINDS, not the evidence, observables and tasks."""
    return Incident.objects.restrict(user, Action.VIEW, through_systems=False).filter(pk=incident.pk).exists()


def affected_organizations_see(incident: Incident) -> bool:
    """Do the organizations whose information systems the incident names see it (its TLP allows: AFFECTED_TLPS)?"""
    return incident.tlp in AFFECTED_TLPS


def may_comment(user, incident: Incident) -> bool:
    """Comment in the journal: the participants (`may_participate`), and the people who may change in an
    organization whose information system the incident names, or above it (its administrators and analysts: they
    answer for the system; auditors and trainees read) — a question, what they did on their system."""
    if may_participate(user, incident):
        return True
    scope = scope_for(user, Action.CHANGE)
    return bool(scope.paths) and Incident.objects.filter(affected_q(scope), pk=incident.pk).exists()


def systems_shown(user, incident: Incident, whole: bool | None = None) -> tuple[list, int]:
    """The incident's information systems shown to the user, and how many others it names: every one to whoever
    reads it whole; to an affected organization, those the registry shows it (its own and its units', those it
    operates: `InformationSystem.objects.visible_to`), the others only counted — which organizations a national
    incident concerns is the coordinator's to tell. `whole`: `reads_whole`, when the caller knows it already."""
    systems = incident.systems.select_related("owner").order_by("code")
    if reads_whole(user, incident) if whole is None else whole:
        return list(systems), 0
    shown = list(systems.filter(pk__in=InformationSystem.objects.visible_to(user).values("pk")))
    return shown, incident.systems.count() - len(shown)


def may_unassign(user, incident: Incident, assignment: ResponderAssignment | None = None) -> bool:
    """Removing a responder: the national coordinator removes any (it coordinates who responds, Circular
    20/2017); whoever assigned one and still may assign (`may_assign`: an administrator of the reporting side)
    removes that assignment of theirs — a wrong choice is undone by whoever made it. One assigned by someone
    else (the coordinator, another administrator) the reporting organization asks the coordinator to remove.

    Without `assignment`: may the user remove one of the incident's responders at all."""
    if is_national_coordinator(user):
        return True
    if getattr(user, "pk", None) is None or not may_assign(user, incident):
        return False
    if assignment is None:
        return incident.assignments.filter(assigned_by=user).exists()
    return assignment.assigned_by_id == user.pk


def _last_id(path: str) -> str:
    """The id (hex) of the organization at `path`: the last segment of its materialized path."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def task_people(incident: Incident):
    """The active people who may work on the incident's tasks, hence be put in charge of one: the same people as
    `may_participate` — the roles that may change in the reporting organization's line, the national
    coordinators, and the RESPONDER_ROLES of the assigned responders' lines. Auditors and trainees only read."""
    from khien.core.models import User

    reporting_roles = sorted(str(role) for role, actions in ROLE_ACTIONS.items() if Action.CHANGE in actions)
    boundaries = coordination_boundaries()  # the line stops at the coordinator's organization (decision 0001)
    line = [_last_id(path) for path in reaching_line(incident.organization, boundaries)]
    people = (Q(is_superuser=True) | Q(memberships__role=Role.NATIONAL_COORDINATOR)
              | Q(memberships__role__in=reporting_roles, memberships__organization_id__in=line))
    responder_line: set[str] = set()
    for path in incident.assignments.values_list("responder__path", flat=True):
        responder_line.update(_last_id(above) for above in reaching_line(path, boundaries))
    if responder_line:
        people |= Q(memberships__role__in=sorted(str(r) for r in RESPONDER_ROLES),
                    memberships__organization_id__in=sorted(responder_line))
    return User.objects.filter(is_active=True).filter(people).distinct().order_by("email")


def may_hold_tasks(user) -> bool:
    """Can the user be put in charge of a task on some incident (`task_people`): a role that may change in an
    organization, a responder role, the national coordinator — or someone still in charge of an open task (given
    under an earlier role). Auditors and trainees only read: "my open tasks" concerns them not."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser or is_national_coordinator(user):
        return True
    if any(Action.CHANGE in ROLE_ACTIONS.get(role, ()) or role in RESPONDER_ROLES
           for role, _p, _o in memberships_of(user)):
        return True
    return Task.objects.filter(owner=user, status__in=OPEN_TASK_STATUSES).exists()


def may_report(user) -> bool:
    """May the user report incidents for some organization (ADD somewhere: an organization's administrators and
    analysts, the national coordinator)? Which organization, the report's own check says (`do_report_incident`)."""
    return scope_for(user, Action.ADD) != NOTHING


def require_may_report(user) -> None:
    """Refuse (403) someone who may report for no organization, before the report is read (the page, the API)."""
    if not may_report(user):
        raise Forbidden(_("Only an organization's administrators and analysts, and the national coordinator, can "
                          "report incidents."))


def may_triage(user, incident: Incident) -> bool:
    return bool(TRANSITIONS[(Status.NEW, Status.TRIAGED)] & sides_of(user, incident))


UNASSIGN_REFUSED = _l("Only the national coordinator, or the person who assigned this responder, can remove it "
                      "from the incident: ask the national coordinator.")

# What each write on an incident needs (a test of the user and the incident) and what whoever lacks it is told.
# `require_right` checks it before anything else — the incident's state (closed, the step from its status) and the
# input (a page's form, an API body): whoever may not do it at all hears that (403), not that the incident is
# closed or a field is wrong. Sealing an evidence item is the right "seal" (`may_seal`, with the item).
RIGHTS = {
    # Move through the workflow: which step, from which status, `do_transition` says after (TRANSITIONS).
    "workflow": (may_participate, _l("Only the reporting organization, the coordinator and the assigned responders "
                                     "can change the status of an incident.")),
    "triage": (may_triage, _l("Only the reporting organization and the coordinator can triage an incident.")),
    "classify": (is_reporting_side, _l("Only the reporting organization and the coordinator can change the "
                                       "classification of an incident.")),
    "correct": (is_reporting_side, _l("Only the reporting organization and the coordinator can correct the report of "
                                      "an incident.")),
    "report": (is_reporting_side, _l("Only the reporting organization and the coordinator can give the reports of an "
                                     "incident.")),
    "assign": (may_assign, _l("Only the national coordinator or the reporting organization's administrators can "
                              "assign responders.")),
    "unassign": (may_unassign, UNASSIGN_REFUSED),
    # Tasks, evidence and its custody, observables.
    "participate": (may_participate, _l("Only the reporting organization, the coordinator and the assigned "
                                        "responders can do this.")),
    # The journal's comments: the participants and the organizations whose systems the incident names.
    "comment": (may_comment, _l("Only the reporting organization, the coordinator, the assigned responders and the "
                                "organizations whose information systems the incident names can comment on it.")),
}


def require_right(user, incident: Incident, right: str, *, evidence: Evidence | None = None) -> None:
    """Refuse (403, `Forbidden` with the reason) a user who does not see the incident or may not do `right` (a key
    of RIGHTS, or "seal" with the `evidence` item) on it. The services call it first thing; the pages and the API
    call it before they read the input."""
    _require_visible(user, incident)
    if right == "seal":
        if not may_seal(user, evidence):
            raise Forbidden(who_may_seal(evidence))
        return
    allowed, refusal = RIGHTS[right]
    if not allowed(user, incident):
        raise Forbidden(str(refusal))


def _require_visible(user, incident: Incident) -> Incident:
    found = Incident.objects.visible_to(user).filter(pk=incident.pk).exists()
    if not found:
        raise Forbidden(_("You do not have access to this incident."))
    return incident


def _locked(incident: Incident) -> Incident:
    return Incident.objects.select_for_update(of=("self",)).select_related("organization", "policy").get(pk=incident.pk)


def _event(incident: Incident, kind: str, actor, **fields) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident, kind=kind, actor=actor, actor_email=getattr(actor, "email", "") or "", **fields
    )


def do_journal_alerts(incident: Incident, alerts: list[tuple[str, str]], *, acting_user) -> IncidentEvent:
    """The journal line saying which SOC alerts (id, one-line description) were added to the incident; the caller
    (`telemetry.triage.do_add_alerts_to_incident`) checks the rights, changes and audits the alerts."""
    return _event(incident, EventKind.ALERTS, acting_user, text="\n".join(line for _id, line in alerts),
                  data={"alerts": [alert_id for alert_id, _line in alerts]})


def _audit_child(action: str, obj, incident: Incident, actor, before=None):
    audit.record(action, obj, actor=actor, before=before, organization_id=str(incident.organization_id))


# --- Reporting ----------------------------------------------------------------------


# No incident handled on the platform was detected before this: an earlier date is a typing error (year 1, 1850),
# which would also make the reporting deadlines decades late.
EARLIEST_DETECTION = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def detection_time_problem(detected_at: dt.datetime, now) -> str | None:
    """Why a time of detection cannot be taken (the reporting forms, the API and the service share it), or None."""
    if timezone.is_naive(detected_at):
        return _("Give the time of detection with its time zone.")
    if detected_at > now:
        return _("The time of detection cannot be in the future.")
    if detected_at < EARLIEST_DETECTION:
        return _("The time of detection cannot be before %(date)s.") % {"date": f"{EARLIEST_DETECTION:%d/%m/%Y}"}
    return None


def report_late_at(detected_at, now, policy: ReportingPolicy | None = None) -> dt.datetime | None:
    """The initial report's due time when a report made at `now` would be late (else None): the report form
    warns with it and asks for the reason, the service requires the reason."""
    policy = policy or ReportingPolicy.current()
    if policy is None or not isinstance(detected_at, dt.datetime) or timezone.is_naive(detected_at):
        return None
    if detection_time_problem(detected_at, now):
        return None  # a time of detection the report refuses (year 9999) has no deadline to warn about
    due = deadlines.report_due_at(detected_at, policy.data)
    return due if deadlines.is_late(now, due) else None


def late_reason_problem(detected_at, now, late_reason, policy: ReportingPolicy | None = None) -> str | None:
    """Why a report needs a reason for its delay (the form and the service share it), or None."""
    due = report_late_at(detected_at, now, policy)
    if due is not None and _missing(late_reason):
        return _("The initial report was due at %(due)s (%(hours)s hours after detection): give the reason for the "
                 "delay.") % {"due": shown_time(due),
                              "hours": round((due - detected_at).total_seconds() / 3600)}
    return None


def content_loaded() -> bool:
    """Can incidents be reported: the current taxonomy and reporting policy are loaded."""
    return Taxonomy.current() is not None and ReportingPolicy.current() is not None


def _current_content() -> tuple[Taxonomy, ReportingPolicy]:
    taxonomy, policy = Taxonomy.current(), ReportingPolicy.current()
    if taxonomy is None or policy is None:
        raise Refused(
            _("The incident taxonomy or the reporting policy is not loaded; an operator must run “khien load_content”."),
            code="content_missing", status=409,
        )
    return taxonomy, policy


def _missing(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _next_reference(at: dt.datetime) -> str:
    """SC-<year>-<6 digits>, numbered per year (Vietnam time), inside the caller's transaction."""
    year = timezone.localtime(at).year
    IncidentCounter.objects.get_or_create(year=year)
    counter = IncidentCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"SC-{year}-{counter.last:06d}"


@transaction.atomic
def do_report_incident(data: dict, *, acting_user, systems=(), observables=(),
                       now: dt.datetime | None = None, late_reason_required: bool = False,
                       system_owners=()) -> Incident:
    """Report an incident for `data["organization"]`; the initial-report deadline is counted from `detected_at`.

    A report made after that deadline keeps `late_reason`; with `late_reason_required` (the report form and
    the API, where a person reports) a late report without a reason is refused. Incidents raised by the
    platform itself (from SOC alerts and campaigns) do not pass it yet.

    `observables` are (kind, value) pairs (see `observables.py`), validated
    with the rest: one bad value refuses the whole report.

    `systems` are the affected information systems: each must belong to (be
    owned or operated by) the reporting organization, or to one of
    `system_owners` — the organizations a national incident made from a
    telemetry campaign involves (`telemetry.correlation.do_campaign_to_incident`).
    `now` is for tests and imports; it is when the report reached the platform
    (`reported_at`).
    """
    now = now or timezone.now()
    organization = data.get("organization")
    if not isinstance(organization, Organization) or not user_can(acting_user, Action.ADD, organization):
        raise Forbidden(_("You cannot report incidents for that organization."))
    taxonomy, policy = _current_content()

    incident = Incident(organization=organization, taxonomy=taxonomy, policy=policy, reported_at=now,
                        created_by=acting_user if getattr(acting_user, "pk", None) else None)
    for name in REPORT_FIELDS[1:]:
        if name in data:
            setattr(incident, name, data[name])

    errors: dict[str, list[str]] = {}
    if isinstance(incident.detected_at, dt.datetime):
        if problem := detection_time_problem(incident.detected_at, now):
            errors.setdefault("detected_at", []).append(problem)
    if incident.category and incident.category not in taxonomy.types():
        errors.setdefault("category", []).append(
            _("“%(value)s” is not a category of the incident taxonomy.") % {"value": incident.category})
    if incident.severity and incident.severity not in policy.severity_codes():
        errors.setdefault("severity", []).append(
            _("“%(value)s” is not a severity of the reporting policy.") % {"value": incident.severity})
    for name in policy.data["stages"][0].get("required_fields", []):
        if _missing(getattr(incident, name, None)):
            errors.setdefault(name, []).append(_("This field is required for the initial report."))
    incident.late_reason = (incident.late_reason or "").strip()
    _check_report_texts(incident, errors)
    if late_reason_required and "detected_at" not in errors and (
            problem := late_reason_problem(incident.detected_at, now, incident.late_reason, policy)):
        errors.setdefault("late_reason", []).append(problem)

    systems = list(systems or ())
    _check_systems(acting_user, organization, systems, errors, owners=system_owners)

    from . import observables as observables_module

    try:
        observable_items = observables_module.clean_items(observables or ())
    except ValidationError as exc:
        observable_items = []
        errors.setdefault("observables", []).extend(exc.message_dict["observables"])

    _refuse_if_invalid(incident, errors)

    incident.reference = _next_reference(now)
    incident.save()
    incident.systems.set(systems)
    _event(incident, EventKind.REPORTED, acting_user, to_status=Status.NEW, at=now)
    audit.record(Act.CREATE, incident, actor=acting_user)
    if observable_items:
        observables_module._create(incident, observable_items, acting_user, now)
    # The levels above and the coordinator learn of it at once (the reporting chain), not from a late escalation.
    notices.reported(incident, actor=acting_user)
    notices.systems_named(incident, incident.systems.select_related("owner", "operator"), actor=acting_user)
    return incident


# Fields a later report stage may fill in or correct (which ones it must have is in the policy data).
STAGE_FIELDS = [
    "severity", "suspected_malicious", "impact_beyond_organization", "services_disrupted", "data_exposed",
    "personal_data_exposed", "people_affected", "description", "root_cause", "mitigation",
]


@transaction.atomic
def _refuse_if_invalid(incident: Incident, errors: dict) -> None:
    """Add the model's own checks (lengths, bounds) to `errors` for the fields without one yet, and refuse with all
    of them at once (nothing is written): one message per field, every field said."""
    try:
        incident.full_clean(exclude=["reference", *errors.keys()])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _check_systems(acting_user, organization, systems: list, errors: dict, owners=()) -> None:
    """The systems an incident names are the reporting organization's (owned or operated) — or those of `owners`,
    the organizations a national incident involves —, among those the user sees."""
    owners = [organization, *owners]
    allowed = set(
        InformationSystem.objects.visible_to(acting_user)
        .filter(Q(owner__in=owners) | Q(operator__in=owners), pk__in=[s.pk for s in systems])
        .values_list("pk", flat=True)
    )
    foreign = [s for s in systems if s.pk not in allowed]
    if foreign:
        errors.setdefault("systems", []).append(
            _("These systems do not belong to the reporting organization: %(codes)s.")
            % {"codes": ", ".join(sorted(s.code for s in foreign))})


def _check_report_texts(incident: Incident, errors: dict) -> None:
    """The limits of the report's free texts and the data-exposure rule (`inputs`), checked on the incident as it
    would be stored — whoever calls (the forms and the API check them first; the demo, an incident made from
    alerts, a script do not), and with what a later stage leaves unchanged (personal data exposed earlier, data
    exposed "no" now)."""
    from .inputs import REPORT_TEXT_MAX, TITLE_MAX, at_most, exposure_problem

    for name, limit in {"title": TITLE_MAX, **REPORT_TEXT_MAX}.items():
        if len(str(getattr(incident, name) or "")) > limit:
            errors.setdefault(name, []).append(at_most(limit))
    if problem := exposure_problem(incident.data_exposed, incident.personal_data_exposed):
        errors.setdefault("data_exposed", []).append(problem)


def do_submit_stage(incident: Incident, stage_code: str, data: dict, *, acting_user,
                    now: dt.datetime | None = None) -> Incident:
    """Give a later reporting stage (the detailed notification, the final report) with its fields.

    The stages, their order and their required fields come from the incident's
    reporting policy; the first stage (the initial report) is given by
    `do_report_incident`.
    """
    require_right(acting_user, incident, "report")
    incident = _locked(incident)
    if incident.status == Status.CLOSED:
        raise Refused(_("The incident is closed; reopen it before giving a report."), code="closed", status=409)
    stages = incident.policy.data["stages"]
    index = next((i for i, st in enumerate(stages) if st["code"] == stage_code), None)
    if not index:  # unknown, or the initial report (given when reported)
        raise Refused(_("Unknown report stage."), code="unknown_stage")
    stage = stages[index]
    if getattr(incident, stage["given_field"]) is not None:
        raise Refused(_("This report has already been given."), code="stage_given", status=409)
    if any(getattr(incident, st["given_field"]) is None for st in stages[:index]):
        raise Refused(_("Give the earlier reports first."), code="stage_order", status=409)
    if problem := stage_problem(incident, stage):
        raise Refused(problem, code="stage_too_early", status=409)

    now = now or timezone.now()
    before = audit.snapshot(incident)
    for name in STAGE_FIELDS:
        if name in data:
            setattr(incident, name, data[name])
    errors: dict[str, list[str]] = {}
    _check_report_texts(incident, errors)
    if incident.severity not in incident.policy.severity_codes():
        errors.setdefault("severity", []).append(
            _("“%(value)s” is not a severity of the reporting policy.") % {"value": incident.severity})
    for name in stage.get("required_fields", []):
        if _missing(getattr(incident, name, None)):
            errors.setdefault(name, []).append(_("This field is required for this report."))
    _refuse_if_invalid(incident, errors)
    setattr(incident, stage["given_field"], now)
    incident.save()
    # Given again after a reopen (`_ask_end_reports_again`): the journal numbers the versions.
    version = 1 + IncidentEvent.objects.filter(incident=incident, kind=EventKind.STAGE,
                                               data__stage=stage["code"]).count()
    _event(incident, EventKind.STAGE, acting_user, at=now,
           data={"stage": stage["code"], **({"version": version} if version > 1 else {})})
    audit.record(Act.UPDATE, incident, actor=acting_user, before=before)
    notices.stage_given(incident, stage, actor=acting_user)
    _complete_standard_tasks(incident, f"stage:{stage['code']}", acting_user, at=now)
    _bring_stage_tasks_forward(incident, acting_user, at=now)
    return incident


def _bring_stage_tasks_forward(incident: Incident, acting_user, at) -> list[Task]:
    """A stage given fixes the deadline of the next one (the final report counts from the detailed notification):
    an open standard task that a stage does (`standard_task_due`) and that is due after that stage's deadline is
    brought forward to it, journaled and audited, its person in charge told."""
    templates = TaskTemplates.current()
    dues = {st.code: st.due_at for st in deadlines.incident_schedule(incident)
            if st.due_at is not None and st.given_at is None}
    moved = []
    for code, entry in (templates.data.get("tasks", {}) if templates else {}).items():
        kind, _sep, stage_code = str(entry.get("done_when") or "").partition(":")
        if kind != "stage" or stage_code not in dues:
            continue
        for task in (Task.objects.select_for_update(of=("self",)).select_related("owner", "incident")
                     .filter(incident=incident, template_code=code, status__in=OPEN_TASK_STATUSES,
                             due_at__gt=dues[stage_code])):
            before, old_due = audit.snapshot(task), task.due_at
            task.due_at = dues[stage_code]
            task.save(update_fields=["due_at", "updated_at"])
            _event(incident, EventKind.TASK, acting_user, at=at, text=task.title,
                   data={"task_id": str(task.pk), "action": "changed", "fields": ["due_at"],
                         "due_at": [_journal_value("due_at", old_due), _journal_value("due_at", task.due_at)]})
            _audit_child(Act.UPDATE, task, incident, acting_user, before=before)
            notices.task_due_changed(task, old_due, actor=acting_user)
            moved.append(task)
    return moved


# --- Workflow -----------------------------------------------------------------------


def _ask_end_reports_again(incident: Incident) -> dict[str, str]:
    """On a reopen: clear the report stages given at the end of the response (`given_from_status`: the final
    report), so that they are given again — a new version with the new facts — before the incident closes again.

    Reopening means the response did not end as reported (a second machine encrypted): the root cause and the
    mitigation given may no longer hold, as TheHive asks for a new summary each time a case is closed. The earlier
    version stays in the journal (its stage line, and the reopen line says when it was given) and in the audit log
    (its fields); its fields stay filled in, to be corrected. The stage's deadline is the policy's (it counts from
    the detailed notification): a response reopened past it shows the report overdue, as any long response does.
    Earlier stages (the detailed notification) describe the incident's start and stay given.
    Returns {stage code: when the earlier version was given (ISO)}."""
    asked = {}
    for stage in incident.policy.data["stages"]:
        given_at = getattr(incident, stage["given_field"], None)
        if stage.get("given_from_status") and given_at is not None:
            asked[stage["code"]] = given_at.isoformat()
            setattr(incident, stage["given_field"], None)
    return asked


@transaction.atomic
def do_transition(incident: Incident, to_status: str, *, acting_user, reason: str = "",
                  now: dt.datetime | None = None, cancel_open_tasks: bool = False) -> Incident:
    """Move the incident to `to_status` (see TRANSITIONS); a reopen needs a reason.

    Resolving or closing with tasks still open is refused (409, `open_tasks`) unless `cancel_open_tasks`: then
    each open task the step ends is cancelled (journal, audit, its person in charge told) in the same transaction;
    resolving ends only the tasks of the parties `acting_user` acts for and leaves the others open (`open_tasks`).
    The status notice names, to each party, its tasks cancelled and those left open.

    Whoever takes part in no step of the incident is refused first (403), whatever the step and the status."""
    require_right(acting_user, incident, "workflow")
    if to_status not in Status.values:
        raise Refused(_("Unknown incident status."), code="unknown_status")
    incident = _locked(incident)
    step = (incident.status, to_status)
    allowed = TRANSITIONS.get(step)
    if allowed is None:
        raise Refused(
            _("An incident cannot go from “%(from)s” to “%(to)s”.")
            % {"from": Status(incident.status).label, "to": Status(to_status).label},
            code="invalid_transition", status=409,
        )
    if not allowed & sides_of(acting_user, incident):
        raise Forbidden(_("You are not allowed to take this step for this incident."))
    if problem := transition_problem(incident, to_status):
        raise Refused(problem, code="reports_missing", status=409)
    if not cancel_open_tasks and (problem := open_tasks_problem(incident, to_status, acting_user)):
        raise Refused(problem, code="open_tasks", status=409)
    reason = (reason or "").strip()
    reopen = step in REOPENS
    if reopen and not reason:
        raise ValidationError({"reason": [_("Give the reason for reopening the incident.")]})
    if len(reason) > REASON_MAX_CHARS:  # the page's form caps it; the API must too (it goes into every notice)
        raise ValidationError({"reason": [_("At most %(n)s characters.") % {"n": REASON_MAX_CHARS}]})

    now = now or timezone.now()
    cancelled, left_open = [], []
    if to_status in ENDS_THE_TASKS:
        for task in (open_tasks(incident, to_status, acting_user).select_for_update(of=("self",))
                     .select_related("owner", "incident")):
            party = task_party(task, incident)  # before: a cancelled task's person in charge still counts
            _change_task_status(task, TaskStatus.CANCELLED, incident, acting_user, at=now)
            cancelled.append((task, party))
        left_open = [(task, task_party(task, incident)) for task in tasks_left_open(incident, to_status, acting_user)]
    before = audit.snapshot(incident)
    from_status = incident.status
    incident.status = to_status
    event_data = {}
    if reopen:
        for status in CLEARED_BY_REOPEN:
            setattr(incident, STATUS_TIME_FIELDS[status], None)
        if asked_again := _ask_end_reports_again(incident):
            event_data["reports_asked_again"] = asked_again
    setattr(incident, STATUS_TIME_FIELDS[to_status], now)
    incident.save()
    _event(incident, EventKind.REOPENED if reopen else EventKind.STATUS, acting_user,
           from_status=from_status, to_status=to_status, text=reason, at=now, data=event_data)
    audit.record(Act.TRANSITION, incident, actor=acting_user, before=before)
    notices.status_changed(incident, from_status, to_status, reason, actor=acting_user, cancelled=cancelled,
                           left_open=left_open)
    if to_status == Status.TRIAGED:
        # Triage confirms the category: its standard response tasks are planned at once, due from now.
        _create_standard_tasks(incident, acting_user, now)
    return incident


# --- Classification -----------------------------------------------------------------

# What triage confirms or corrects, and what may be corrected later as the picture changes (an incident first
# reported as "undetermined" gets its RSIT type; a wider impact raises the severity, and its SLAs with it).
CLASSIFICATION_FIELDS = ("category", "severity", "tlp")
REASON_MAX_CHARS = 5000


def _classification_changes(incident: Incident, data: dict) -> dict[str, list[str]]:
    """{field: [before, after]} for the fields of `data` that differ; every value is checked first."""
    from khien.intel.models import Tlp

    errors: dict[str, list[str]] = {}
    changes: dict[str, list[str]] = {}
    allowed = {"category": incident.taxonomy.types(), "severity": incident.policy.severity_codes(),
               "tlp": Tlp.values}
    messages = {"category": _("“%(value)s” is not a category of the incident taxonomy."),
                "severity": _("“%(value)s” is not a severity of the reporting policy."),
                "tlp": _("“%(value)s” is not a TLP marking.")}
    for name in CLASSIFICATION_FIELDS:
        value = data.get(name)
        if value in (None, ""):  # not given: kept
            continue
        if not isinstance(value, str) or value not in allowed[name]:
            errors.setdefault(name, []).append(messages[name] % {"value": value})
        elif value != getattr(incident, name):
            changes[name] = [getattr(incident, name), value]
    if errors:
        raise ValidationError(errors)
    return changes


def _reclassify(incident: Incident, data: dict, acting_user, reason: str, now) -> dict[str, list[str]]:
    """Apply the changes to the locked `incident`, with their journal line and audit entry; the caller checks
    the rights and the state."""
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_CHARS:
        raise ValidationError({"reason": [_("At most %(n)s characters.") % {"n": REASON_MAX_CHARS}]})
    changes = _classification_changes(incident, data)
    if not changes:
        return changes
    before = audit.snapshot(incident)
    for name, (_old, value) in changes.items():
        setattr(incident, name, value)
    incident.save()
    _event(incident, EventKind.RECLASSIFIED, acting_user, text=reason, data={"changes": changes}, at=now)
    audit.record(Act.UPDATE, incident, actor=acting_user, before=before)
    if "severity" in changes:
        old, new = changes["severity"]
        # A higher severity shortens the SLAs and may call for more hands: those working on it are told.
        if incident.policy.severity_rank(new) > incident.policy.severity_rank(old):
            notices.severity_raised(incident, old, new, reason, actor=acting_user)
    return changes


def _refuse_if_closed(incident: Incident, closed: str) -> None:
    """What the report says changes while the incident is open: 409 with `closed` (each change says which)."""
    if incident.status == Status.CLOSED:
        raise Refused(closed, code="closed", status=409)


@transaction.atomic
def do_reclassify(incident: Incident, data: dict, *, acting_user, reason: str = "",
                  now: dt.datetime | None = None) -> tuple[Incident, dict[str, list[str]]]:
    """Correct the category (RSIT type of the incident's taxonomy version), the severity and/or the TLP.

    Fields left out (or empty) are kept; giving the current values changes nothing and writes nothing.
    Returns the incident and the changes ({field: [before, after]}), which the journal keeps with the reason.
    """
    require_right(acting_user, incident, "classify")
    incident = _locked(incident)
    _refuse_if_closed(incident, _("The incident is closed; reopen it before changing its classification."))
    changes = _reclassify(incident, data, acting_user, reason, now or timezone.now())
    return incident, changes


# What a correction of the report may change. Not the detection time (the reporting deadlines are counted from it),
# nor the category, severity and TLP (`do_reclassify`), nor the later stages' texts (given again after a reopen).
CORRECTABLE_FIELDS = ("title", "description", "services_disrupted", "people_affected", "data_exposed",
                      "personal_data_exposed", "suspected_malicious", "impact_beyond_organization")


@transaction.atomic
def do_correct_report(incident: Incident, data: dict, *, acting_user, systems=None, reason: str = "",
                      now: dt.datetime | None = None) -> tuple[Incident, list[str]]:
    """Correct what the initial report said (a typo in the title, a system found affected later): the fields of
    CORRECTABLE_FIELDS given in `data`, and the affected `systems` when given. The reporting side and the
    coordinator, while the incident is not closed (409). The journal says which fields changed, with the optional
    reason; the audit log keeps every value before and after. Giving the current values writes nothing. Returns the
    incident and the names of the fields changed."""
    require_right(acting_user, incident, "correct")
    incident = _locked(incident)
    _refuse_if_closed(incident, _("The incident is closed; reopen it before correcting its report."))
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if len(reason) > REASON_MAX_CHARS:
        errors["reason"] = [_("At most %(n)s characters.") % {"n": REASON_MAX_CHARS}]
    before = audit.snapshot(incident)
    changed = []
    for name in CORRECTABLE_FIELDS:
        if name in data and data[name] != getattr(incident, name):
            setattr(incident, name, data[name])
            changed.append(name)
    if systems is not None:
        # `systems` are the reporting organization's: those of the other organizations a national incident names
        # (made from a telemetry campaign) are kept — the correction form offers the reporter's only.
        org = incident.organization
        others = list(incident.systems.exclude(Q(owner=org) | Q(operator=org)).select_related("owner"))
        systems = list(systems)
        given = {s.pk for s in systems}
        systems += [s for s in others if s.pk not in given]
        _check_systems(acting_user, org, systems, errors, owners=[s.owner for s in others])
        if {s.pk for s in systems} != set(incident.systems.values_list("pk", flat=True)):
            changed.append("systems")
    for name in incident.policy.data["stages"][0].get("required_fields", []):
        if name in changed and _missing(getattr(incident, name, None)):
            errors.setdefault(name, []).append(_("This field is required for the initial report."))
    _check_report_texts(incident, errors)
    _refuse_if_invalid(incident, errors)
    if not changed:
        return incident, []
    incident.save()
    if "systems" in changed:
        incident.systems.set(systems)
    _event(incident, EventKind.CORRECTED, acting_user, text=reason, data={"fields": changed}, at=now or timezone.now())
    audit.record(Act.UPDATE, incident, actor=acting_user, before=before)
    return incident, changed


@transaction.atomic
def do_triage(incident: Incident, data: dict, *, acting_user, reason: str = "",
              now: dt.datetime | None = None) -> Incident:
    """Triage: confirm or correct the category, severity and TLP, and move the incident from new to triaged —
    one operation (a refused step changes no classification). `reason` (optional) says why the classification
    changed: the journal keeps it and a raised severity's notice says it (`data["reason"]` is taken too, for a
    form that sends it with the fields)."""
    require_right(acting_user, incident, "triage")
    locked = _locked(incident)
    if locked.status != Status.NEW:
        raise Refused(
            _("An incident cannot go from “%(from)s” to “%(to)s”.")
            % {"from": Status(locked.status).label, "to": Status.TRIAGED.label},
            code="invalid_transition", status=409)
    now = now or timezone.now()
    _reclassify(locked, data, acting_user, reason or data.get("reason") or "", now)
    return do_transition(locked, Status.TRIAGED, acting_user=acting_user, now=now)


# --- Coordination -------------------------------------------------------------------


@transaction.atomic
def do_assign_responder(incident: Incident, responder: Organization, *, acting_user) -> ResponderAssignment:
    require_right(acting_user, incident, "assign")
    incident = _locked(incident)
    if not isinstance(responder, Organization) or responder.org_type != OrgType.RESPONDER or not responder.is_active:
        raise ValidationError({"responder": [_("Choose an active incident-response organization.")]})
    if incident.status == Status.CLOSED:
        raise Refused(_("The incident is closed; reopen it before assigning responders."), code="closed", status=409)
    if incident.assignments.filter(responder=responder).exists():
        raise Refused(_("This organization is already assigned to the incident."), code="already_assigned", status=409)
    assignment = ResponderAssignment.objects.create(incident=incident, responder=responder, assigned_by=acting_user)
    _event(incident, EventKind.ASSIGNMENT, acting_user, at=assignment.at,
           data={"responder_id": str(responder.pk), "responder_code": responder.code})
    _audit_child(Act.CREATE, assignment, incident, acting_user)
    notices.assigned(incident, responder, actor=acting_user)
    _complete_standard_tasks(incident, "responder_assigned", acting_user, at=assignment.at)
    # The responder's standard tasks planned before it came (at triage) and that nobody holds: listed to its people.
    notices.tasks_for_parties(incident, list(Task.objects.filter(
        incident=incident, party=TaskParty.RESPONDER, owner__isnull=True, status__in=OPEN_TASK_STATUSES)),
        actor=acting_user, responders=[responder])
    return assignment


@transaction.atomic
def do_unassign_responder(incident: Incident, responder: Organization, *, acting_user, reason: str = "",
                          now: dt.datetime | None = None) -> None:
    """Remove a responder organization from the incident (the national coordinator, or whoever assigned it:
    `may_unassign`): the journal keeps who was removed, by whom and why; the responder's people are told and no
    longer see the incident.

    Open tasks whose person in charge can no longer work on the incident (they were there through this
    responder only) lose their person in charge, each journaled, so that nobody is left in charge of a task they
    cannot see."""
    require_right(acting_user, incident, "unassign")
    incident = _locked(incident)
    if incident.status == Status.CLOSED:
        raise Refused(_("The incident is closed; reopen it before changing its responders."), code="closed",
                      status=409)
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_CHARS:
        raise ValidationError({"reason": [_("At most %(n)s characters.") % {"n": REASON_MAX_CHARS}]})
    assignment = (ResponderAssignment.objects.select_for_update(of=("self",)).select_related("responder")
                  .filter(incident=incident, responder=responder).first()
                  if isinstance(responder, Organization) else None)
    if assignment is None:
        raise ValidationError({"responder": [_("This organization is not assigned to the incident.")]})
    if not may_unassign(acting_user, incident, assignment):
        raise Forbidden(str(UNASSIGN_REFUSED))
    now = now or timezone.now()
    before = audit.snapshot(assignment)
    audit.record(Act.DELETE, assignment, actor=acting_user, before=before, organization_id=str(incident.organization_id))
    assignment.delete()
    _event(incident, EventKind.UNASSIGNMENT, acting_user, at=now, text=reason,
           data={"responder_id": str(responder.pk), "responder_code": responder.code})
    for task in (Task.objects.select_for_update(of=("self",)).select_related("owner")
                 .filter(incident=incident, owner__isnull=False, status__in=OPEN_TASK_STATUSES)):
        if may_participate(task.owner, incident):
            continue
        task_before = audit.snapshot(task)
        _event(incident, EventKind.TASK, acting_user, at=now, text=task.title,
               data={"task_id": str(task.pk), "action": "changed", "fields": ["owner"],
                     "owner": [task.owner.email, None]})
        task.owner = None
        task.save(update_fields=["owner", "updated_at"])
        _audit_child(Act.UPDATE, task, incident, acting_user, before=task_before)
    notices.unassigned(incident, responder, reason, actor=acting_user)


def _require_participant(user, incident: Incident) -> None:
    require_right(user, incident, "participate")


# How far ahead of the server's clock "when it happened" may be (a workstation's clock a little fast).
HAPPENED_AT_TOLERANCE = dt.timedelta(minutes=5)


@transaction.atomic
def do_add_comment(incident: Incident, text: str, *, acting_user, happened_at: dt.datetime | None = None,
                   now: dt.datetime | None = None) -> IncidentEvent:
    """A comment in the journal; with `happened_at`, when what it tells happened (an attacker's first login, a
    machine isolated), which puts it on the incident's timeline (`journal.timeline`) at that time. The participants
    and the organizations whose systems the incident names (`may_comment`)."""
    require_right(acting_user, incident, "comment")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("Write a comment.")]})
    if len(text) > 20000:
        raise ValidationError({"text": [_("A comment can have at most 20,000 characters.")]})
    data = {}
    if happened_at is not None:
        if happened_at > (now or timezone.now()) + HAPPENED_AT_TOLERANCE:
            raise ValidationError({"happened_at": [_("What happened cannot be in the future.")]})
        if not storable(happened_at):
            raise ValidationError({"happened_at": [out_of_range_message()]})
        data["happened_at"] = happened_at.astimezone(dt.timezone.utc).isoformat()
    if not reads_whole(acting_user, incident):
        # Said by an organization that follows the incident because it names its systems: read by the reporting
        # side, the responders, the coordinator and its own line — not by the other organizations named, who are
        # not to learn who else was hit (`models.IncidentEventQuerySet`).
        data["from_organization"] = str(affected_commenter_organization(acting_user, incident))
    event = _event(incident, EventKind.COMMENT, acting_user, text=text, data=data)
    _audit_child(Act.CREATE, event, incident, acting_user)
    notices.commented(incident, text, actor=acting_user)
    return event


def affected_commenter_organization(user, incident: Incident):
    """The id of the organization an affected-only commenter speaks for: the first of their memberships whose
    reach (`Scope.q`) covers a system the incident names."""
    for role, path, org_id in memberships_of(user):
        scope = scope_within(user, [path])
        if Incident.objects.filter(affected_q(scope), pk=incident.pk).exists():
            return org_id
    return next((org_id for _r, _p, org_id in memberships_of(user)), "")


# The same words for an account of another organization, an auditor and an address nobody has (the API names the
# person by e-mail): no one probes which accounts exist.
OWNER_REFUSED = _l("The person in charge must be someone who works on the incident: its reporting organization, "
                   "the national coordinator or an assigned responder (not an auditor or a trainee).")
TASK_DESCRIPTION_MAX = 5000


def _check_owner(owner, incident: Incident) -> None:
    """A task is given only to someone who may work on it (`task_people`), never to one who only reads."""
    if owner is not None and not (getattr(owner, "is_active", False) and may_participate(owner, incident)):
        raise ValidationError({"owner": [str(OWNER_REFUSED)]})


def task_due_problem(due_at: dt.datetime, incident: Incident, now: dt.datetime, *, new: bool) -> str | None:
    """Why a task cannot be due at `due_at` when set at `now` (the bounds are `deadlines.task_due_bounds`), or None."""
    bounds = deadlines.task_due_bounds(incident, now, new=new)
    if due_at < incident.reported_at:
        return _("The due time cannot be before the incident was reported (%(when)s).") % {
            "when": notices.when_text(incident.reported_at)}
    if due_at < bounds.earliest:
        return _("A new task cannot be due in the past (before %(when)s).") % {"when": notices.when_text(bounds.earliest)}
    if due_at > bounds.latest:
        return _("The due time cannot be more than %(days)s days ahead (after %(when)s).") % {
            "days": deadlines.TASK_DUE_MAX_AHEAD.days, "when": notices.when_text(bounds.latest)}
    return None


def _clean_task_fields(data: dict, incident: Incident, *, task: Task | None = None) -> tuple[dict, dict[str, list[str]]]:
    """The person in charge, due time and description among `data`'s keys, checked: (values, errors).

    `task` is the task being changed (None: a new one); a due time it already has is kept without a check."""
    values: dict = {}
    errors: dict[str, list[str]] = {}
    if "owner" in data:
        try:
            _check_owner(data["owner"], incident)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        values["owner"] = data["owner"]
    if "due_at" in data:
        due_at = data["due_at"]
        if due_at is not None and (not isinstance(due_at, dt.datetime) or timezone.is_naive(due_at)):
            errors.setdefault("due_at", []).append(_("Give the due time with its time zone."))
        elif due_at is not None and (task is None or due_at != task.due_at) and (
                problem := task_due_problem(due_at, incident, timezone.now(), new=task is None)):
            errors.setdefault("due_at", []).append(problem)
        values["due_at"] = due_at
    if "description" in data:
        description = data["description"]
        if description is not None and not isinstance(description, str):
            errors.setdefault("description", []).append(_("Write the description as text."))
        else:
            description = (description or "").strip()
            if len(description) > TASK_DESCRIPTION_MAX:
                errors.setdefault("description", []).append(_("At most %(n)s characters.") % {"n": TASK_DESCRIPTION_MAX})
            values["description"] = description
    return values, errors


def _refuse_tasks_if_closed(incident: Incident) -> None:
    # A closed incident's work is finished, as for its evidence and observables: reopen it to plan more.
    if incident.status == Status.CLOSED:
        raise Refused(_("The incident is closed; reopen it before changing its tasks."), code="closed", status=409)


@transaction.atomic
def do_add_task(incident: Incident, data: dict, *, acting_user) -> Task:
    """A task with `title`, optional `owner` (someone of `task_people`), `due_at` and `description`."""
    _require_participant(acting_user, incident)
    _refuse_tasks_if_closed(_locked(incident))
    values, errors = _clean_task_fields({"owner": data.get("owner"), "due_at": data.get("due_at"),
                                         "description": data.get("description")}, incident)
    if errors:
        raise ValidationError(errors)
    owner = values["owner"]
    task = Task(incident=incident, title=(data.get("title") or "").strip(), owner=owner, due_at=values["due_at"],
                description=values["description"], status=TaskStatus.OPEN, created_by=acting_user)
    task.full_clean()
    task.save()
    _event(incident, EventKind.TASK, acting_user, text=task.title,
           data={"task_id": str(task.pk), "status": task.status, "owner_id": str(owner.pk) if owner else None})
    _audit_child(Act.CREATE, task, incident, acting_user)
    notices.task_given(task, actor=acting_user)
    return task


@transaction.atomic
def do_set_task_status(task: Task, status: str, *, acting_user) -> Task:
    incident = task.incident
    _require_participant(acting_user, incident)
    if status not in TaskStatus.values:
        raise ValidationError({"status": [_("Unknown task status.")]})
    _refuse_tasks_if_closed(_locked(incident))
    task = Task.objects.select_for_update(of=("self",)).select_related("owner").get(pk=task.pk)
    if task.status == status:
        return task
    _change_task_status(task, status, incident, acting_user)
    return task


def _change_task_status(task: Task, status: str, incident: Incident, acting_user, at=None,
                        because: str = "") -> None:
    """Set the locked `task`'s status: its journal line, its audit entry, and its person in charge told when
    someone else finished or cancelled it. The caller checks the rights. `because`: the platform action that did
    the task (`done_when`), which the journal line names."""
    before = audit.snapshot(task)
    task.status = status
    task.save(update_fields=["status", "updated_at"])
    data = {"task_id": str(task.pk), "from": before["status"], "status": status}
    if because:
        data["because"] = because
    _event(incident, EventKind.TASK, acting_user, text=task.title, at=at or timezone.now(), data=data)
    _audit_child(Act.UPDATE, task, incident, acting_user, before=before)
    if status in (TaskStatus.DONE, TaskStatus.CANCELLED):
        notices.task_ended(task, actor=acting_user)


def standard_action_done(incident: Incident, action: str) -> bool:
    """Has the platform action `action` (`done_when` in tasks.yaml) happened on the incident? The one rule for it:
    a report stage (`stage:<code>`) is given, a responder organization is assigned (one still is), observables
    were shared as STIX indicators. Unknown actions: no."""
    kind, _sep, code = str(action or "").partition(":")
    if kind == "stage" and code:
        return any(stage.code == code and stage.given_at is not None
                   for stage in deadlines.incident_schedule(incident))
    if action == "responder_assigned":
        return incident.assignments.exists()
    if action == "observables_shared":
        return incident.observables.filter(shared_at__isnull=False).exists()
    return False


def _mark_done_by(tasks, action: str, incident: Incident, acting_user, at=None) -> None:
    """Mark done the locked open `tasks` that the platform action `action` did: one journal line each naming the
    action (`because`), their audit entries."""
    for task in tasks:
        _change_task_status(task, TaskStatus.DONE, incident, acting_user, at=at, because=action)


def _complete_standard_tasks(incident: Incident, action: str, acting_user, at=None) -> list[Task]:
    """Mark done the incident's open standard tasks that `action` does (`done_when` in tasks.yaml: a report stage
    given, a responder assigned, observables shared), each with its journal line naming the action and its audit
    entry, inside the caller's transaction. Returns them. (A standard task created after the action is created
    done: `_create_standard_tasks`.)"""
    templates = TaskTemplates.current()
    codes = [code for code, entry in (templates.data.get("tasks", {}) if templates else {}).items()
             if entry.get("done_when") == action]
    if not codes:
        return []
    tasks = list(Task.objects.select_for_update(of=("self",)).select_related("owner")
                 .filter(incident=incident, template_code__in=codes, status__in=OPEN_TASK_STATUSES))
    _mark_done_by(tasks, action, incident, acting_user, at=at)
    return tasks


TASK_EDIT_FIELDS = ("owner", "due_at", "description")


def _journal_value(name: str, value):
    if name == "owner":
        return value.email if value is not None else None
    if name == "due_at":
        return value.isoformat() if value is not None else None
    return None  # a description is in the audit log (before/after), not repeated in the journal


@transaction.atomic
def do_update_task(task: Task, data: dict, *, acting_user) -> tuple[Task, list[str]]:
    """Change a task's person in charge, due time and/or description: the keys of `data` among TASK_EDIT_FIELDS
    (an owner or due time given as None clears it; keys left out are kept).

    Whoever may manage the incident's tasks may; the journal says what changed (the person in charge and the due
    time, before → after), the audit log keeps every value; a new person in charge is told. Returns the task and
    the names of the fields that changed (none: nothing written)."""
    incident = task.incident
    _require_participant(acting_user, incident)
    _refuse_tasks_if_closed(_locked(incident))
    unknown = sorted(set(data) - set(TASK_EDIT_FIELDS))
    if unknown:
        raise ValidationError({name: [_("This cannot be changed here.")] for name in unknown})
    task = Task.objects.select_for_update(of=("self",)).select_related("owner").get(pk=task.pk)
    if "owner" in data and getattr(data["owner"], "pk", None) == task.owner_id:
        # Kept as is: not checked again (a task given to someone under an earlier rule keeps its person in charge).
        data = {name: value for name, value in data.items() if name != "owner"}
    values, errors = _clean_task_fields(data, incident, task=task)
    if errors:
        raise ValidationError(errors)
    templates = TaskTemplates.current() if "description" in values and task.template_code else None
    if templates is not None:  # the standard text read in another language and sent back: no change
        values["description"] = templates.kept_description(task, values["description"])
    changed = [name for name, value in values.items()
               if (task.owner_id != getattr(value, "pk", None) if name == "owner" else getattr(task, name) != value)]
    if not changed:
        return task, []
    before, before_due, before_owner = audit.snapshot(task), task.due_at, task.owner
    journal = {"task_id": str(task.pk), "action": "changed", "fields": changed}
    for name in changed:
        if name != "description":
            journal[name] = [_journal_value(name, getattr(task, name)), _journal_value(name, values[name])]
        setattr(task, name, values[name])
    task.save(update_fields=[*changed, "updated_at"])
    _event(incident, EventKind.TASK, acting_user, text=task.title, data=journal)
    _audit_child(Act.UPDATE, task, incident, acting_user, before=before)
    if "owner" in changed:
        notices.task_given(task, actor=acting_user)
        notices.task_taken(task, before_owner, actor=acting_user)
    elif "due_at" in changed:  # the person in charge plans by the due time: moved by someone else, they are told
        notices.task_due_changed(task, before_due, actor=acting_user)
    return task, changed


# --- Standard tasks of a category (data/tasks.yaml) ------------------------------------------------


def standard_tasks_missing(incident: Incident, templates: TaskTemplates | None = None) -> list[dict]:
    """The standard tasks of the incident's category (in the current task list) that it does not have yet."""
    templates = templates or TaskTemplates.current()
    if templates is None:
        return []
    have = set(incident.tasks.exclude(template_code="").values_list("template_code", flat=True))
    return [entry for entry in templates.for_category(incident.taxonomy, incident.category)
            if entry["code"] not in have]


def standard_task_text(entry: dict, name: str) -> str:
    # A task is one record read by several organizations: written in the platform's language, as the
    # notifications are (the page shows the other language while the text is the file's own).
    language = settings.LANGUAGE_CODE.split("-")[0]
    return entry.get(f"{name}_{language}") or entry.get(f"{name}_vi") or ""


def standard_task_due(entry: dict, incident: Incident, anchor: dt.datetime) -> dt.datetime:
    """A standard task's due time: `due_hours` after `anchor` (the triage); a task that a report stage does
    (`done_when: stage:<code>`) is never due after that stage's deadline once it is known — the law counts it from
    the detection or an earlier report, not from the triage, so a late triage would put the task past it."""
    due = anchor + dt.timedelta(hours=entry["due_hours"])
    kind, _sep, code = str(entry.get("done_when") or "").partition(":")
    if kind == "stage":
        stage = next((st for st in deadlines.incident_schedule(incident) if st.code == code), None)
        if stage is not None and stage.due_at is not None and stage.given_at is None:
            due = min(due, stage.due_at)
    return due


def _create_standard_tasks(incident: Incident, acting_user, now) -> list[Task]:
    """Create the missing standard tasks on the locked `incident`, due `due_hours` after its triage (after `now`
    for one not triaged yet); one journal line lists them, each is audited. The caller checks the rights."""
    templates = TaskTemplates.current()
    entries = standard_tasks_missing(incident, templates) if templates is not None else []
    if not entries:
        return []
    anchor = incident.triaged_at or now
    creator = acting_user if getattr(acting_user, "pk", None) else None
    tasks = []
    for entry in entries:
        task = Task(incident=incident, title=standard_task_text(entry, "title")[:300],
                    description=standard_task_text(entry, "description"), party=entry["party"], template_code=entry["code"],
                    due_at=standard_task_due(entry, incident, anchor), status=TaskStatus.OPEN,
                    created_by=creator)
        task.save()
        tasks.append(task)
    _event(incident, EventKind.TASK, acting_user, at=now, text="\n".join(t.title for t in tasks),
           data={"action": "standard", "tasks": [str(t.pk) for t in tasks], "codes": [t.template_code for t in tasks],
                 "category": incident.category, "version": templates.version})
    audit.record_many([audit.Change(action=Act.CREATE, obj=t, after=audit.snapshot(t),
                                    organization_id=str(incident.organization_id)) for t in tasks], actor=acting_user)
    # A task whose platform action already happened (a responder assigned before the tasks were added…) is done
    # at once, with the same journal line as when the action comes after the task.
    for action in dict.fromkeys(entry.get("done_when") for entry in entries if entry.get("done_when")):
        if standard_action_done(incident, action):
            _mark_done_by([t for t, entry in zip(tasks, entries) if entry.get("done_when") == action], action,
                          incident, acting_user, at=now)
    # Each party's tasks that nobody holds reach its people (one notice per party lists them).
    notices.tasks_for_parties(incident, [t for t in tasks if t.status in OPEN_TASK_STATUSES], actor=acting_user)
    return tasks


@transaction.atomic
def do_add_standard_tasks(incident: Incident, *, acting_user, now: dt.datetime | None = None) -> list[Task]:
    """Add the standard tasks of the incident's category that it does not have yet; returns those added.

    Idempotent: a standard task is never added twice to an incident (even cancelled, it stays its own), so the
    button can be pressed again after the category was corrected to get only the new category's tasks."""
    _require_participant(acting_user, incident)
    locked = _locked(incident)  # two clicks at once: the second waits, then finds the tasks there
    _refuse_tasks_if_closed(locked)
    if TaskTemplates.current() is None:
        raise Refused(_("The standard tasks are not loaded; an operator must run “khien load_content”."),
                      code="content_missing", status=409)
    return _create_standard_tasks(locked, acting_user, now or timezone.now())


# --- Evidence and chain of custody ----------------------------------------------------------

NOTE_MAX_CHARS = 20000
PARTY_MAX_CHARS = 300


def evidence_holders(evidence: Evidence) -> list:
    """The assigned responder organizations that added `evidence` — those the person who added it works in (a
    responder role there or above it, as `is_assigned_responder`): the forensic team that took a disk image holds
    it. Empty when the reporting side (or the coordinator) added it."""
    adder = evidence.uploaded_by
    if adder is None:
        return []
    paths = [p for role, p in adder.memberships.values_list("role", "organization__path") if role in RESPONDER_ROLES]
    reach = scope_within(None, paths)  # not across a coordination boundary (decision 0001)
    return [a.responder for a in evidence.incident.assignments.select_related("responder").order_by("responder__code")
            if reach.covers_path(a.responder.path)]


def may_seal(user, evidence: Evidence) -> bool:
    """Whoever holds the evidence seals it: the reporting side (and the coordinator), and the assigned responder
    organization that added the item (`evidence_holders`)."""
    if REPORTER in sides_of(user, evidence.incident):
        return True
    paths = [p for role, p, _o in memberships_of(user) if role in RESPONDER_ROLES]
    return bool(paths) and any(scope_within(user, paths).covers_path(h.path) for h in evidence_holders(evidence))


def who_may_seal(evidence: Evidence) -> str:
    """Who may seal `evidence` (`may_seal`), said to those who may not."""
    org = evidence.incident.organization.name
    holders = evidence_holders(evidence)
    if not holders:
        return _("Only the reporting organization (%(org)s) or the national coordinator can seal this evidence.") % {
            "org": org}
    return _("Only the reporting organization (%(org)s), the national coordinator or %(holder)s (the organization "
             "that added this evidence) can seal this evidence.") % {
        "org": org, "holder": ", ".join(h.name for h in holders)}


def _refuse_if_sealed(evidence: Evidence) -> None:
    if evidence.sealed_at is not None:
        raise Refused(_("This evidence is sealed: its file, description and recorded custody can no longer change."),
                      code="sealed", status=409)


def _hash_upload(uploaded) -> tuple[str, int]:
    """SHA-256 and size of an upload, read chunk by chunk (never whole in memory); stops past the size limit."""
    digest, size = hashlib.sha256(), 0
    uploaded.seek(0)
    for chunk in uploaded.chunks():
        size += len(chunk)
        if size > settings.KHIEN_MAX_UPLOAD_BYTES:
            raise file_too_large()
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest(), size


note_digest = integrity_rule.note_digest  # a note's SHA-256 is that of its UTF-8 text


def _clean_party(value, name: str, errors: dict) -> str:
    value = (value or "").strip()
    if len(value) > PARTY_MAX_CHARS:
        errors.setdefault(name, []).append(_("At most %(n)s characters.") % {"n": PARTY_MAX_CHARS})
    return value


def _open_for_evidence(incident: Incident, acting_user) -> Incident:
    _require_participant(acting_user, incident)
    incident = _locked(incident)
    if incident.status == Status.CLOSED:
        raise Refused(_("The incident is closed; reopen it before adding evidence."), code="closed", status=409)
    return incident


def _check_description(note: str, errors: dict) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        errors.setdefault("note", []).append(_("A note can have at most 20,000 characters."))
    return note


@transaction.atomic
def do_add_evidence(incident: Incident, *, acting_user, uploaded=None, note: str = "",
                    received_from: str = "") -> Evidence:
    """Keep a file (`uploaded`, a Django UploadedFile/File) or a note as evidence, with its SHA-256.

    With a file, `note` is its description, kept on the same evidence item (the SHA-256 is the file's).
    The first step of the chain of custody (received, from `received_from`, by
    the uploader) is recorded with it. A file is stored under a random name in
    MEDIA_ROOT/evidence/<incident>/; its uploaded name is only a label.
    """
    incident = _open_for_evidence(incident, acting_user)
    errors: dict[str, list[str]] = {}
    received_from = _clean_party(received_from, "received_from", errors)
    note = _check_description(note, errors)
    if uploaded is None and not note:
        errors.setdefault("file", []).append(_("Attach a file or write a note."))
    if uploaded is not None:
        if (getattr(uploaded, "size", None) or 0) > settings.KHIEN_MAX_UPLOAD_BYTES:
            raise file_too_large()
        if not (getattr(uploaded, "name", "") or "").strip():
            errors.setdefault("file", []).append(_("The file has no name."))
    if errors:
        raise ValidationError(errors)

    evidence = Evidence(incident=incident, uploaded_by=acting_user)
    if uploaded is not None:
        sha256, size = _hash_upload(uploaded)
        evidence.kind = EvidenceKind.FILE
        evidence.original_name = uploaded.name.replace("\\", "/").rsplit("/", 1)[-1][:255]
        evidence.content_type = (getattr(uploaded, "content_type", "") or "")[:100]
        evidence.sha256, evidence.size = sha256, size
        evidence.note = note  # the file's description
    else:
        evidence.kind = EvidenceKind.NOTE
        evidence.note = note
        evidence.sha256, evidence.size = note_digest(note)
    stored = False
    try:
        if uploaded is not None:
            evidence.file.save(evidence.id.hex, uploaded, save=False)
            stored = True
        _record_new_evidence(evidence, incident, acting_user, received_from)
    except BaseException:
        if stored:  # the row is rolled back with the transaction; the file must go too
            evidence.file.storage.delete(evidence.file.name)
        raise
    return evidence


SHA256_HEX = re.compile(r"[0-9a-f]{64}")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _declared_sha256_problem(sha256: str) -> str:
    """Why a declared SHA-256 cannot be the item's ("" when it may be): not 64 hexadecimal digits, a placeholder
    typed to get past the field (64 times the same character), or the hash of nothing (the item has a size)."""
    if not SHA256_HEX.fullmatch(sha256):
        return _("Give the SHA-256 computed by the imaging tool: 64 hexadecimal digits (0–9, a–f).")
    if len(set(sha256)) == 1:
        return _("This is not a real SHA-256 (the same character 64 times): copy the value the imaging tool "
                 "computed for the item.")
    if sha256 == EMPTY_SHA256:
        return _("This is the SHA-256 of an empty file, not of the item: copy the value the imaging tool computed "
                 "for the item.")
    return ""


@transaction.atomic
def do_add_external_evidence(incident: Incident, *, acting_user, name: str, sha256: str, size, location: str,
                             note: str = "", received_from: str = "") -> Evidence:
    """Record evidence kept outside the platform — a disk image, a memory dump, a copy of a seized device, too
    large to upload — by its name, its SHA-256 and size as computed by the imaging tool, and where it is kept.

    The platform holds no copy: it keeps what was declared, and the chain of custody of the item (received,
    transferred, analysed, returned, sealed) like any other evidence."""
    incident = _open_for_evidence(incident, acting_user)
    errors: dict[str, list[str]] = {}
    received_from = _clean_party(received_from, "received_from", errors)
    note = _check_description(note, errors)
    name = (name or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("Give the item's name (the image file or the device)."))
    elif len(name) > 255:
        errors.setdefault("name", []).append(_("At most %(n)s characters.") % {"n": 255})
    sha256 = (sha256 or "").strip().lower()
    if problem := _declared_sha256_problem(sha256):
        errors.setdefault("sha256", []).append(problem)
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        errors.setdefault("size", []).append(_("Give the size in bytes, a whole number greater than zero."))
    location = (location or "").strip()
    if not location:
        errors.setdefault("location", []).append(
            _("Say where the item is kept (storage, evidence room, responsible unit)."))
    elif len(location) > 300:
        errors.setdefault("location", []).append(_("At most %(n)s characters.") % {"n": 300})
    if errors:
        raise ValidationError(errors)
    evidence = Evidence(incident=incident, uploaded_by=acting_user, kind=EvidenceKind.EXTERNAL, original_name=name,
                        sha256=sha256, size=size, location=location, note=note)
    _record_new_evidence(evidence, incident, acting_user, received_from)
    return evidence


def _record_new_evidence(evidence: Evidence, incident: Incident, acting_user, received_from: str) -> None:
    """Save a new evidence item with the first step of its chain of custody (received), journaled and audited."""
    evidence.save()
    CustodyEvent.objects.create(
        evidence=evidence, action=CustodyAction.RECEIVED, from_party=received_from,
        to_party=acting_user.email, actor=acting_user, actor_email=acting_user.email, at=evidence.uploaded_at)
    _event(incident, EventKind.EVIDENCE, acting_user, at=evidence.uploaded_at, text=str(evidence)[:300],
           data={"evidence_id": str(evidence.pk), "action": "added", "sha256": evidence.sha256})
    _audit_child(Act.CREATE, evidence, incident, acting_user)


def _locked_evidence(evidence: Evidence) -> Evidence:
    return Evidence.objects.select_for_update(of=("self",)).select_related("incident").get(pk=evidence.pk)


@transaction.atomic
def do_record_custody(evidence: Evidence, action: str, *, acting_user, from_party: str = "", to_party: str = "",
                      note: str = "", at: dt.datetime | None = None) -> CustodyEvent:
    """Add a step to the chain of custody (received, transferred, analysed, returned). Sealing freezes the file, its
    hash and description and the steps recorded so far, not the custody itself: a sealed item still travels (to the
    forensic laboratory, to the court), and each hand-over after the seal is recorded, dated after it."""
    incident = evidence.incident
    _require_participant(acting_user, incident)
    evidence = _locked_evidence(evidence)
    errors: dict[str, list[str]] = {}
    if action not in CustodyAction.values or action in RECORDED_BY_PLATFORM:  # sealing, integrity: their own steps
        errors.setdefault("action", []).append(_("Choose received, transferred, analysed or returned (sealing is its own step)."))
    from_party = _clean_party(from_party, "from_party", errors)
    to_party = _clean_party(to_party, "to_party", errors)
    if action in (CustodyAction.TRANSFERRED, CustodyAction.RETURNED) and not to_party:
        errors.setdefault("to_party", []).append(_("Say to whom the evidence went."))
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        errors.setdefault("note", []).append(_("A note can have at most 20,000 characters."))
    now = timezone.now()
    if at is None:
        at = now
    elif not isinstance(at, dt.datetime) or timezone.is_naive(at):
        errors.setdefault("at", []).append(_("Give the time with its time zone."))
    elif at > now:
        errors.setdefault("at", []).append(_("The time cannot be in the future."))
    elif at < evidence.uploaded_at:
        errors.setdefault("at", []).append(_("The time cannot be before the evidence was received."))
    elif evidence.sealed_at is not None and at < evidence.sealed_at:
        errors.setdefault("at", []).append(_("The evidence is sealed: a step after the seal cannot be dated before it."))
    if errors:
        raise ValidationError(errors)
    event = CustodyEvent.objects.create(evidence=evidence, action=action, from_party=from_party, to_party=to_party,
                                        note=note, actor=acting_user, actor_email=acting_user.email, at=at)
    _event(incident, EventKind.EVIDENCE, acting_user, text=str(evidence)[:300],
           data={"evidence_id": str(evidence.pk), "action": action, "custody_id": event.pk})
    _audit_child(Act.CREATE, event, incident, acting_user)
    return event


@transaction.atomic
def do_seal_evidence(evidence: Evidence, *, acting_user, note: str = "") -> Evidence:
    """Seal the evidence: its file, hash and chain of custody are frozen from now on.

    Only whoever holds it seals (`may_seal`: the reporting side, the coordinator, the responder organization that
    added it); a file whose content no longer matches its SHA-256 is not sealed (409).
    """
    incident = evidence.incident
    require_right(acting_user, incident, "seal", evidence=evidence)
    evidence = _locked_evidence(evidence)
    _refuse_if_sealed(evidence)
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ValidationError({"note": [_("A note can have at most 20,000 characters.")]})
    problem = check_evidence(evidence)
    if problem:
        raise Refused(_("The evidence cannot be sealed: %(problem)s") % {"problem": problem}, code="integrity",
                      status=409)
    before = audit.snapshot(evidence)
    now = timezone.now()
    evidence.sealed_at, evidence.sealed_by = now, acting_user
    evidence.save(update_fields=["sealed_at", "sealed_by"])
    CustodyEvent.objects.create(evidence=evidence, action=CustodyAction.SEALED, note=note, actor=acting_user,
                                actor_email=acting_user.email, at=now)
    _event(incident, EventKind.EVIDENCE, acting_user, at=now, text=str(evidence)[:300],
           data={"evidence_id": str(evidence.pk), "action": "sealed", "sha256": evidence.sha256})
    _audit_child(Act.UPDATE, evidence, incident, acting_user, before=before)
    return evidence


def check_evidence(evidence: Evidence) -> str:
    """"" when the stored file (or note) still has its recorded SHA-256 and size, else what is wrong. An item kept
    elsewhere has nothing here to check: its holder checks it against the recorded SHA-256. The rule itself:
    `evidence.integrity`."""
    if evidence.kind == EvidenceKind.EXTERNAL:
        return ""
    return integrity_rule.problem_text(evidence, integrity_rule.integrity(evidence))


def _integrity_note(evidence: Evidence, found) -> str:
    """The custody step's note for a check: what was found, in the platform's language (one record read by several
    organizations, as the journal is)."""
    from khien.core.notifications import platform_language

    with platform_language():
        if found.ok:
            return _("SHA-256 and size match those recorded when it was received.")
        return integrity_rule.problem_text(evidence, found)


def _record_check(evidence: Evidence, found, acting_user) -> CustodyEvent:
    """A custody step saying what an integrity check found (verified, content changed, file missing), journaled and
    audited. Custody steps are added after a seal too, so a sealed item's checks are recorded as well."""
    incident = evidence.incident
    event = CustodyEvent.objects.create(
        evidence=evidence, action=integrity_rule.RECORDED_AS[found.code], note=_integrity_note(evidence, found),
        actor=acting_user, actor_email=getattr(acting_user, "email", "") or "", at=timezone.now())
    _event(incident, EventKind.EVIDENCE, acting_user, at=event.at, text=str(evidence)[:300],
           data={"evidence_id": str(evidence.pk), "action": event.action, "custody_id": event.pk,
                 "sha256_found": found.sha256})
    _audit_child(Act.CREATE, event, incident, acting_user)
    return event


def _refuse_kept_elsewhere(evidence: Evidence) -> None:
    if evidence.kind == EvidenceKind.EXTERNAL:
        raise Refused(_("This evidence is kept elsewhere: the platform holds no copy to check; its holder checks it "
                        "against the recorded SHA-256."), code="kept_elsewhere", status=409)


@transaction.atomic
def do_verify_evidence(evidence: Evidence, *, acting_user):
    """"Verify integrity": read the stored file (or note) again, streaming, and record what was found in its chain
    of custody (verified, content changed or file missing), journaled and audited. Participants only, as for any
    custody step; an item kept elsewhere is refused (409). Returns (`evidence.Integrity`, the custody step)."""
    _require_participant(acting_user, evidence.incident)
    evidence = _locked_evidence(evidence)
    _refuse_kept_elsewhere(evidence)
    found = integrity_rule.integrity(evidence)
    return found, _record_check(evidence, found, acting_user)


def integrity_refusal(evidence: Evidence, found) -> Refused:
    """The refusal (409) of a file that is not served as evidence: it is gone, or it no longer matches its SHA-256."""
    if found.code == integrity_rule.MISSING:
        return Refused(_("The file of this evidence is missing from storage: it cannot be downloaded. The failed "
                         "check is recorded in its chain of custody; tell the platform's operator."),
                       code=integrity_rule.MISSING, status=409)
    return Refused(_("This file no longer matches the SHA-256 recorded when it was received (%(problem)s): it is "
                     "not served as evidence. The failed check is recorded in its chain of custody.") % {
        "problem": integrity_rule.problem_text(evidence, found)}, code=integrity_rule.CHANGED, status=409)


def open_evidence_file(evidence: Evidence, *, acting_user, altered: bool = False):
    """The stored file of `evidence`, opened for download once its SHA-256 is checked on the very handle served
    (read in chunks). Returns (handle, `evidence.Integrity`).

    A file that is gone or no longer matches is refused (409, `integrity_refusal`) and the failure is recorded in
    its chain of custody (once per finding: a refused download tried again adds nothing). With `altered`, the
    incident's participants still get a changed file, for analysis, marked as altered by the caller; that copy is
    audited as an export. Whoever sees the incident downloads an intact file; the caller checks that. An intact
    file served is audited as an export too, with the SHA-256 found: the item's "Verified …" is then that download's
    time (`evidence.integrity_state`), without a custody step per download."""
    handle = None
    try:
        handle = evidence.file.storage.open(evidence.file.name, "rb") if evidence.file.name else None
    except FileNotFoundError:
        handle = None
    found = integrity_rule.integrity(evidence, handle) if handle else integrity_rule.Integrity(integrity_rule.MISSING)
    if found.ok:
        try:
            audit.record(Act.EXPORT, evidence, actor=acting_user,
                         organization_id=str(evidence.incident.organization_id),
                         after={"served": integrity_rule.SERVED_INTACT, "sha256_found": found.sha256,
                                "size_found": found.size})
        except BaseException:
            handle.close()
            raise
        return handle, found
    if altered and found.code == integrity_rule.CHANGED:
        try:
            _require_participant(acting_user, evidence.incident)
        except Refused:
            handle.close()
            raise
    with transaction.atomic():
        locked = _locked_evidence(evidence)
        last = integrity_rule.last_check(locked)
        intact_since = integrity_rule.last_intact_download(locked)  # then this is a new finding
        if last is None or (last.action, last.note) != (integrity_rule.RECORDED_AS[found.code],
                                                         _integrity_note(locked, found)) or (
                intact_since is not None and intact_since > last.at):
            _record_check(locked, found, acting_user)
        if altered and found.code == integrity_rule.CHANGED:
            audit.record(Act.EXPORT, locked, actor=acting_user, organization_id=str(locked.incident.organization_id),
                         after={"served": "altered", "sha256_found": found.sha256, "size_found": found.size,
                                "sha256_recorded": locked.sha256})
            return handle, found
    if handle is not None:
        handle.close()
    raise integrity_refusal(evidence, found)


@dataclass
class EvidenceCheck:
    checked: int = 0
    kept_elsewhere: int = 0  # recorded by their declared SHA-256 only: the platform holds no copy to read
    problems: list[tuple[Evidence, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_evidence(queryset=None) -> EvidenceCheck:
    """Recompute the SHA-256 of every evidence item of `queryset` (default: all); read-only."""
    queryset = Evidence.objects.all() if queryset is None else queryset
    result = EvidenceCheck()
    for evidence in queryset.select_related("incident").order_by("incident__reference", "uploaded_at", "id").iterator():
        # The same rule as a download and "Verify integrity" (`evidence.integrity`); read-only, nothing recorded.
        if evidence.kind == EvidenceKind.EXTERNAL:
            result.kept_elsewhere += 1
            continue
        result.checked += 1
        problem = check_evidence(evidence)
        if problem:
            result.problems.append((evidence, problem))
    return result
