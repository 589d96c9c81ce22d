"""Who is told what about an incident: assignments, notes, status changes, report stages, deadlines.

What people do to an incident is announced by `tell`, the one rule: the
reporting organization and the assigned responders hear of it, the person who
did it does not.

Everything goes through `khien.core.notifications.notify` (in-app, then e-mail:
at once when urgent, else in the digest). Titles and bodies are `notifications.Text`s (the catalogue entry and
its parameters): each reader reads them in their own language, on the page, in the API and in the e-mail (the
person's chosen language); names kept in both languages (organizations, severities, report stages, standard
tasks) are `ByLanguage`; what people wrote (titles, notes, reasons) is shown as written. The services call
`reported` (a new incident, to the reporting chain and the national coordinator, `told_of_new_incident`),
`assigned`, `unassigned`, `status_changed`, `severity_raised`, `commented`, `task_given`,
`task_due_changed`, `task_taken`, `task_ended` and `stage_given` inside their transaction; the periodic job
`incidents.deadlines` (jobs.py) calls `check_deadlines`, which also escalates missed deadlines to the
national coordinator — once: each notice has a key recorded on the incident
(`deadline_notices`), and `escalated_at` marks the first escalation.

Settings read: ``KHIEN_INCIDENT_DEADLINE_LEAD_HOURS`` (default 2: at most how long
before a due time the "due soon" notice goes out; a short deadline warns in the second half of its window,
`SOON_SHARE`) and
``KHIEN_INCIDENT_DEADLINE_LOOKBACK_DAYS`` (default 90: incidents reported
earlier than that are not checked any more).
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext_lazy

from khien.core import audit
from khien.core import notifications
from khien.core.audit import Change
from khien.core.models import User
from khien.core.roles import Role
from khien.core.scoping import reaching_line
from khien.core.texts import shown_time
from khien.intel.models import Tlp
from khien.registry.services import national_coordinators

from . import deadlines
from .models import EventKind, Incident, IncidentEvent, Status, TaskParty, TaskStatus, TaskTemplates

Text = notifications.Text
ByLanguage = notifications.ByLanguage

# The SLA measures' names in the deadline notices (lazy: translated when each reader reads the notice).
SLA_LABELS = {"triage": _l("triage"), "contain": _l("containment")}

# Members of the reporting organization who hear about their incident.
REPORTER_ROLES = (Role.ORG_ADMIN, Role.ORG_ANALYST)
RESPONDER_ROLES = (Role.RESPONDER, Role.ORG_ADMIN, Role.ORG_ANALYST)


def lead_time() -> dt.timedelta:
    return dt.timedelta(hours=float(getattr(settings, "KHIEN_INCIDENT_DEADLINE_LEAD_HOURS", 2)))


def lookback() -> dt.timedelta:
    return dt.timedelta(days=float(getattr(settings, "KHIEN_INCIDENT_DEADLINE_LOOKBACK_DAYS", 90)))


def _url(incident: Incident) -> str:
    return reverse("incidents:incident_detail", args=[incident.pk])


def when_text(value: dt.datetime) -> str:
    """A time as incident notices and messages write it: the platform's one format (`texts.shown_time`, the date
    first, in the platform's time zone, the same in every language), as the pages write it: 05/12/2026 14:30."""
    return shown_time(value)


def _responders(incident: Incident):
    return [a.responder for a in incident.assignments.select_related("responder")]


def _named(item, fallback: str = "") -> ByLanguage | str:
    """A name the content files give in Vietnamese and English (a severity, a report stage): in the reader's
    language, else the Vietnamese one, else `fallback` (the code)."""
    get = item.get if isinstance(item, dict) else (lambda key, default="": getattr(item, key, default))
    vi, en = get("name_vi", "") or "", get("name_en", "") or ""
    return ByLanguage(vi=vi, en=en or vi) if (vi or en) else fallback


def _severity(incident: Incident, code: str) -> ByLanguage | str:
    """A severity of the incident's reporting policy (content, not the catalogue), in the reader's language."""
    for entry in incident.policy.data.get("severities", []):
        if entry.get("code") == code:
            return _named(entry, code)
    return code


def _task_title(task) -> ByLanguage | str:
    """A standard task's title in the reader's language while unedited (`TaskTemplates.shown`), else as written."""
    templates = TaskTemplates.current() if task.template_code else None
    if templates is None:
        return task.title[:200]
    return ByLanguage(vi=templates.shown(task, "vi")[0][:200], en=templates.shown(task, "en")[0][:200])


# --- From the services --------------------------------------------------------------------------


def _people(organizations, roles, actor) -> list:
    """The active members of `organizations` holding one of `roles`, without `actor`."""
    organizations = [o for o in organizations if o is not None]
    if not organizations:
        return []
    people = (User.objects.filter(is_active=True, memberships__organization__in=organizations,
                                  memberships__role__in=[str(r) for r in roles]).distinct())
    if getattr(actor, "pk", None) is not None:
        people = people.exclude(pk=actor.pk)
    return list(people)


def with_people_told_when_assigned(responders):
    """`responders` (a queryset of organizations) with `people_told`: how many people `assigned` e-mails at once
    (urgent) when the organization is assigned — its active members holding one of RESPONDER_ROLES, as `_people`
    counts them (the person assigning, were they one of them, excepted there)."""
    return responders.annotate(people_told=Count(
        "memberships__user", distinct=True,
        filter=Q(memberships__role__in=[str(r) for r in RESPONDER_ROLES], memberships__user__is_active=True)))


def tell(incident: Incident, *, actor, kind: str, title: Text | str, body: Text | str = "", urgent: bool = False,
         reporting: bool = True, responders=None, link: bool = True) -> int:
    """THE rule for what people do to an incident: its participants hear of it, the one who did it does not.

    The reporting organization's members (REPORTER_ROLES) when `reporting`, and the people of the responder
    organizations (RESPONDER_ROLES): `responders` (a list of organizations), by default every assigned one.
    Nobody is told of their own action (`actor`). The deadline check, where no person acts, calls `notify`
    itself. Without `link`, the notification does not point to the incident (for people who no longer see it).
    """
    people = _people([incident.organization], REPORTER_ROLES, actor) if reporting else []
    responders = _responders(incident) if responders is None else responders
    people += _people(responders, RESPONDER_ROLES, actor)
    if not people:
        return 0
    return notifications.notify(people, kind=kind, title=title, body=body, url=_url(incident) if link else "",
                                urgent=urgent)


def _by(actor) -> str:
    return notifications.person_name(actor) if actor is not None else ""


# The TLP markings under which the organizations above the reporting one hear of a new incident. TLP 2.0: AMBER may
# be shared within the organization and its clients (the reporting chain supervises it); AMBER+STRICT stays within
# the organization, RED with the recipients the source names — the incident report is addressed to the national
# coordinator (every report goes to the national force within 24 hours), so those reach the reporting organization's
# own people and the coordinator, not the organizations above it.
CHAIN_TLPS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)


def told_of_new_incident(incident: Incident, actor=None) -> list:
    """Who hears that `incident` was reported (`reported`), the one rule: the people who speak for the reporting
    organization and for each organization above it up to the province or ministry at the top of its tree — the
    administrators and analysts (REPORTER_ROLES), those who may report for it (decision 0014's "may add for") — and
    the national coordinators; the organizations above only when the incident's TLP is one of CHAIN_TLPS. Never
    `actor`, nor anyone who may not read the incident (`Incident.objects.visible_to`, the one scoping rule)."""
    from khien.registry.models import Organization

    reporting = incident.organization
    chain = [reporting]
    if incident.tlp in CHAIN_TLPS:
        above = [path for path in reaching_line(reporting) if path != reporting.path]  # not above a boundary
        chain += list(Organization.objects.filter(path__in=above, is_active=True))
    people = {p.pk: p for p in _people(chain, REPORTER_ROLES, actor)}
    for person in national_coordinators():
        if getattr(actor, "pk", None) != person.pk:
            people.setdefault(person.pk, person)
    return [p for p in people.values() if Incident.objects.visible_to(p).filter(pk=incident.pk).exists()]


def reported(incident: Incident, *, actor) -> int:
    """A new incident (called once, by `services.do_report_incident`; corrections and reclassifications later tell
    nothing of the kind): the people of `told_of_new_incident` learn what, from whom, how severe, its TLP, whether
    the initial report came late and when triage is due. With the digest (in the platform at once), each in their
    language; the deadline notices and escalations stay urgent."""
    people = told_of_new_incident(incident, actor)
    if not people:
        return 0
    category = incident.taxonomy.types().get(incident.category) if incident.taxonomy_id else None
    title = Text(_l("New incident %(ref)s reported by %(org)s: %(title)s"), {
        "ref": incident.reference, "org": ByLanguage.name_of(incident.organization), "title": incident.title})
    body = notifications.lines(
        Text(_l("Category: %(category)s. Severity: %(severity)s. %(tlp)s."), {
            "category": _named(category, incident.category) if category else incident.category,
            "severity": _severity(incident, incident.severity), "tlp": Tlp(incident.tlp).label}),
        Text(_l("Reported by %(who)s."), {"who": _by(actor)}) if actor is not None else "",
        Text(_l("The initial report came late: it was due at %(due)s."), {
            "due": when_text(deadlines.incident_report_due_at(incident))}) if deadlines.reported_late(incident) else "",
        Text(_l("Triage is due by %(due)s."), {"due": when_text(deadlines.incident_sla_due_at(incident, "triage"))}))
    return notifications.notify(people, kind="incidents.reported", title=title, body=body, url=_url(incident))


def _affected_readers(incident: Incident, organizations, actor) -> list:
    """The people who speak for `organizations` (REPORTER_ROLES, without `actor`) who follow the incident only as an
    affected organization: shown to them because it names their systems (`models.affected_q`, the reading rule: so
    never under TLP:RED or AMBER+STRICT), not read whole — those who read it whole hear of it as its participants."""
    return [p for p in _people(organizations, REPORTER_ROLES, actor)
            if Incident.objects.visible_to(p).filter(pk=incident.pk).exists()
            and not Incident.objects.restrict(p, "view", through_systems=False).filter(pk=incident.pk).exists()]


def _affected_organizations(incident: Incident) -> set:
    """The organizations owning or operating an information system the incident names."""
    return {org for system in incident.systems.select_related("owner", "operator")
            for org in (system.owner, system.operator) if org is not None}


def affected_status_changed(incident: Incident, title: Text, reason: str = "", *, actor) -> int:
    """Each status step (triaged, contained, resolved, closed, reopened…) told to the affected organizations
    (`_affected_readers`): one notice a step, in the reader's language, in the digest — they hold the systems and
    follow the response, with nothing to do on it. Not the tasks the step ended (not theirs, not shown to them), nor
    the comments (too many: they read the journal on the page)."""
    people = _affected_readers(incident, _affected_organizations(incident), actor)
    if not people:
        return 0
    body = notifications.lines(
        _changed_by(incident, actor), reason,
        Text(_l("Your organization follows this incident because it names your information systems.")))
    return notifications.notify(people, kind="incidents.affected_status", title=title, body=body, url=_url(incident))


def systems_named(incident: Incident, systems, *, actor) -> int:
    """`systems` were just named as affected by `incident` (its report, a correction, a national campaign reaching
    more organizations): the people who speak for each organization owning or operating one of them
    (REPORTER_ROLES) learn which of theirs, from whom, how severe — urgent, as a report to the platform is, since
    they hold the systems to act on. Each organization is told of its own systems only (not who else was hit);
    only people who follow the incident that way (it is shown to them because it names their systems:
    `models.affected_q`, so not under TLP:RED or AMBER+STRICT) — those who read it whole hear of it otherwise."""
    by_org: dict = {}
    for system in systems:
        for org in {system.owner, system.operator} - {None}:
            by_org.setdefault(org, []).append(system)
    sent = 0
    for org, own in by_org.items():
        people = _affected_readers(incident, [org], actor)
        if not people:
            continue
        title = Text(_l("Incident %(ref)s names information systems of %(org)s: %(title)s"), {
            "ref": incident.reference, "org": ByLanguage.name_of(org), "title": incident.title})
        body = notifications.lines(
            Text(_l("Your systems named: %(systems)s."), {
                "systems": ", ".join(f"{s.code} ({s.name})" for s in sorted(own, key=lambda s: s.code))}),
            Text(_l("Reported by %(org)s. Severity: %(severity)s. %(tlp)s."), {
                "org": ByLanguage.name_of(incident.organization), "severity": _severity(incident, incident.severity),
                "tlp": Tlp(incident.tlp).label}),
            Text(_l("Follow it and comment on its page; its status and journal are shown to you.")))
        sent += notifications.notify(people, kind="incidents.systems_named", title=title, body=body,
                                     url=_url(incident), urgent=True)
    return sent


def sla_due_lines(incident: Incident, now: dt.datetime) -> list[Text]:
    """“Triage is due by 06/12/2026 18:36.”, “Containment is due by …” for each response SLA of the incident still to
    meet (triage while not triaged, containment while neither contained nor resolved); one already past says so."""
    pending = {"triage": incident.triaged_at is None,
               "contain": incident.contained_at is None and incident.resolved_at is None}
    due_by = {"triage": _l("Triage is due by %(due)s."), "contain": _l("Containment is due by %(due)s.")}
    lines = []
    for measure in deadlines.SLA_MEASURES:
        if not pending[measure]:
            continue
        due = deadlines.incident_sla_due_at(incident, measure)
        lines.append(Text(_l("The %(what)s deadline has passed: it was due by %(due)s."), {
            "what": SLA_LABELS[measure], "due": when_text(due)}) if due < now
            else Text(due_by[measure], {"due": when_text(due)}))
    return lines


def assigned(incident: Incident, responder, *, actor) -> int:
    """Urgent: the responder organization's people learn they have an incident to work on and when its triage and
    containment are due (`sla_due_lines`); the reporting organization learns who was assigned to its incident
    (digest)."""
    title = Text(_l("%(ref)s assigned to your organization: %(title)s"), {"ref": incident.reference,
                                                                        "title": incident.title})
    body = notifications.lines(
        Text(_l("Severity: %(severity)s. Reporting organization: %(org)s."), {
            "severity": _severity(incident, incident.severity), "org": ByLanguage.name_of(incident.organization)}),
        *sla_due_lines(incident, timezone.now()))
    told_title = Text(_l("%(ref)s: %(org)s assigned as responder"), {"ref": incident.reference,
                                                                     "org": ByLanguage.name_of(responder)})
    told_body = Text(_l("%(title)s\nAssigned by %(who)s."), {"title": incident.title, "who": _by(actor)})
    sent = tell(incident, actor=actor, kind="incidents.assigned", title=title, body=body, urgent=True,
                reporting=False, responders=[responder])
    return sent + tell(incident, actor=actor, kind="incidents.responder_assigned", title=told_title, body=told_body,
                       responders=[])


def status_changed(incident: Incident, from_status: str, to_status: str, reason: str = "", *, actor,
                   cancelled=(), left_open=()) -> int:
    """The reporting organization and the assigned responders learn of each status change (digest); so do the
    affected organizations (`affected_status_changed`), without the tasks.

    `cancelled` and `left_open` are (task, party) pairs (`services.task_party`): the tasks the step cancelled and
    those it left open (resolving ends only the tasks of the parties whoever resolves acts for). Each party reads
    its own by name — the reporting organization's members, the responders' people, the national coordinators (told
    only then) —, and the tasks of nobody in particular are named to all: nobody's work is cancelled unsaid."""
    title = Text(_l("%(ref)s: %(from)s → %(to)s"), {"ref": incident.reference, "from": Status(from_status).label,
                                                    "to": Status(to_status).label})
    # Who took the step, as the assignment and severity notices say it; the reason as written.
    first = [_changed_by(incident, actor), reason]
    affected = affected_status_changed(incident, title, reason, actor=actor)
    if not cancelled and not left_open:
        return affected + tell(incident, actor=actor, kind="incidents.status", title=title,
                               body=notifications.lines(*first))

    def body(party: str) -> Text:
        ended = [task for task, of in cancelled if of in (party, "")] if party != TaskParty.COORDINATOR else \
            [task for task, of in cancelled if of == party]
        still = [task for task, of in left_open if of == party]
        return notifications.lines(
            *first,
            Text(_l("Tasks cancelled with this step:")) if ended else "",
            *(Text(_l("• %(task)s — in charge: %(who)s"), {"task": _task_title(t), "who": _by(t.owner)})
              if t.owner_id else Text(_l("• %(task)s"), {"task": _task_title(t)}) for t in ended),
            Text(_l("Still open for your organization (finish or cancel them):")) if still else "",
            *(_task_due_line(t) for t in still))

    reporting = _people([incident.organization], REPORTER_ROLES, actor)
    told = {p.pk for p in reporting}
    responding = [p for p in _people(_responders(incident), RESPONDER_ROLES, actor) if p.pk not in told]
    told |= {p.pk for p in responding}
    coordinators = [p for p in national_coordinators() if p.pk not in told and p.pk != getattr(actor, "pk", None)]
    theirs = [t for t, of in (*cancelled, *left_open) if of == TaskParty.COORDINATOR]
    url, sent = _url(incident), affected
    for people, party in ((reporting, TaskParty.REPORTER), (responding, TaskParty.RESPONDER),
                          (coordinators if theirs else [], TaskParty.COORDINATOR)):
        if people:
            sent += notifications.notify(people, kind="incidents.status", title=title, body=body(party), url=url)
    return sent


def commented(incident: Incident, text: str, *, actor) -> int:
    """A note in the journal (a coordinator's request, a responder's finding): the other participants read it."""
    title = Text(_l("%(ref)s: note from %(who)s"), {"ref": incident.reference, "who": _by(actor)})
    return tell(incident, actor=actor, kind="incidents.comment", title=title,
                body=incident.title + "\n" + (text if len(text) <= 2000 else text[:2000] + "…"))


def unassigned(incident: Incident, responder, reason: str = "", *, actor) -> int:
    """Urgent: the removed responder's people learn they no longer work on the incident (they no longer see it);
    the reporting organization learns it too (digest)."""
    title = Text(_l("%(ref)s: your organization is no longer assigned"), {"ref": incident.reference})
    body = told_body = notifications.lines(
        Text(_l("%(title)s\nRemoved by %(who)s."), {"title": incident.title, "who": _by(actor)}), reason)
    told_title = Text(_l("%(ref)s: %(org)s removed as responder"), {"ref": incident.reference,
                                                                    "org": ByLanguage.name_of(responder)})
    sent = tell(incident, actor=actor, kind="incidents.unassigned", title=title, body=body, urgent=True,
                reporting=False, responders=[responder], link=False)
    return sent + tell(incident, actor=actor, kind="incidents.responder_unassigned", title=told_title,
                       body=told_body, responders=[])


def sla_moves(incident: Incident, old: str, new: str) -> list[Text]:
    """“The triage deadline moved: 18:36 06/12/2026 → 15:36 06/12/2026.” for each response SLA of the incident
    still to meet whose due time the severity change from `old` to `new` moved (triage while not triaged,
    containment while not contained nor resolved)."""
    pending = {"triage": incident.triaged_at is None,
               "contain": incident.contained_at is None and incident.resolved_at is None}
    moves = []
    for measure in deadlines.SLA_MEASURES:
        if not pending[measure]:
            continue
        before = deadlines.sla_due_at(old, measure, incident.reported_at, incident.policy.data)
        after = deadlines.sla_due_at(new, measure, incident.reported_at, incident.policy.data)
        if before != after:
            moves.append(Text(_l("The %(what)s deadline moved: %(old)s → %(new)s."), {
                "what": SLA_LABELS[measure], "old": when_text(before), "new": when_text(after)}))
    return moves


def severity_raised(incident: Incident, old: str, new: str, reason: str = "", *, actor) -> int:
    """Urgent: the reporting organization and the assigned responders learn that the incident is now more severe
    (its SLAs are shorter, each deadline moved said old → new) and why; not the person who raised it."""
    title = Text(_l("%(ref)s: severity raised to %(new)s (was %(old)s)"), {
        "ref": incident.reference, "new": _severity(incident, new), "old": _severity(incident, old)})
    body = notifications.lines(
        Text(_l("%(title)s\nRaised by %(who)s."), {"title": incident.title, "who": _by(actor)}), reason,
        *sla_moves(incident, old, new))
    return tell(incident, actor=actor, kind="incidents.severity", title=title, body=body, urgent=True)


def task_given(task, *, actor) -> int:
    """The person a task is given to learns it (unless they gave it to themselves): the task, its incident, when
    it is due."""
    owner = task.owner
    if owner is None or owner == actor or not owner.is_active:
        return 0
    incident = task.incident
    title = Text(_l("%(ref)s: a task for you — %(task)s"), {"ref": incident.reference, "task": _task_title(task)})
    body = notifications.lines(
        Text(_l("%(title)s\nGiven by %(who)s."), {"title": incident.title, "who": _by(actor)}),
        Text(_l("Due at %(when)s."), {"when": when_text(task.due_at)}) if task.due_at else "")
    return notifications.notify([owner], kind="incidents.task", title=title, body=body, url=_url(incident))


def _task_due_line(task) -> Text:
    return (Text(_l("• %(task)s — due at %(when)s"), {"task": _task_title(task), "when": when_text(task.due_at)})
            if task.due_at else Text(_l("• %(task)s"), {"task": _task_title(task)}))


# Each party of the standard tasks (`TaskParty`) and the kind of the notice that lists its tasks nobody holds.
TASKS_FOR = {TaskParty.REPORTER: "incidents.tasks_for_reporter", TaskParty.RESPONDER: "incidents.tasks_for_responder",
             TaskParty.COORDINATOR: "incidents.tasks_for_coordinator"}


def tasks_for_parties(incident: Incident, tasks, *, actor, responders=None) -> int:
    """Each party learns of the tasks expected from it that nobody is in charge of (the standard tasks planned at
    triage or added later; those waiting for a responder organization when it is assigned): one notice per party
    listing them, each with its due time — else such a task reaches nobody (`task_given` tells a person in charge).
    The reporting organization's members (REPORTER_ROLES); the people of `responders` (default: every assigned
    responder organization); the national coordinators. Not `actor`."""
    sent = 0
    for party, kind in TASKS_FOR.items():
        ours = sorted((t for t in tasks if t.party == party and t.owner_id is None),
                      key=lambda t: (t.due_at is None, t.due_at or incident.reported_at))
        if not ours:
            continue
        n = len(ours)
        title = Text(ngettext_lazy("%(ref)s: %(n)s task for your organization",
                                   "%(ref)s: %(n)s tasks for your organization", n), {"ref": incident.reference, "n": n})
        body = notifications.lines(
            incident.title,
            Text(_l("Nobody is in charge of them yet: take one on the incident's page.")),
            *(_task_due_line(t) for t in ours))
        if party == TaskParty.REPORTER:
            sent += tell(incident, actor=actor, kind=kind, title=title, body=body, responders=[])
        elif party == TaskParty.RESPONDER:
            sent += tell(incident, actor=actor, kind=kind, title=title, body=body, reporting=False,
                         responders=responders)
        else:
            coordinators = [p for p in national_coordinators() if p.pk != getattr(actor, "pk", None)]
            sent += notifications.notify(coordinators, kind=kind, title=title, body=body, url=_url(incident))
    return sent


def _changed_by(incident: Incident, actor) -> Text:
    """The first lines of a task notice: the incident's title, and who changed the task."""
    return Text(_l("%(title)s\nChanged by %(who)s."), {"title": incident.title, "who": _by(actor)})


def task_due_changed(task, old_due, *, actor) -> int:
    """The person in charge of a task learns that someone else moved (or removed) its due time: old → new."""
    owner = task.owner
    if owner is None or owner == actor or not owner.is_active:
        return 0
    incident = task.incident
    title = Text(_l("%(ref)s: the due time of your task changed — %(task)s"),
                 {"ref": incident.reference, "task": _task_title(task)})
    new = Text(_l("Due at %(when)s."), {"when": when_text(task.due_at)}) if task.due_at else Text(_l("No due time any more."))
    body = notifications.lines(
        _changed_by(incident, actor), new,
        Text(_l("It was due at %(when)s."), {"when": when_text(old_due)}) if old_due else "")
    return notifications.notify([owner], kind="incidents.task", title=title, body=body, url=_url(incident))


def task_taken(task, previous, *, actor) -> int:
    """The person who was in charge of a task learns that someone else gave it to another person (or to nobody):
    they no longer have to do it."""
    if previous is None or previous == actor or previous == task.owner or not previous.is_active:
        return 0
    incident = task.incident
    title = Text(_l("%(ref)s: a task is no longer yours — %(task)s"),
                 {"ref": incident.reference, "task": _task_title(task)})
    now_with = (Text(_l("Now in charge: %(who)s."), {"who": _by(task.owner)}) if task.owner is not None
                else Text(_l("Nobody is in charge of it now.")))
    body = notifications.lines(_changed_by(incident, actor), now_with)
    return notifications.notify([previous], kind="incidents.task_taken", title=title, body=body, url=_url(incident))


def task_ended(task, *, actor) -> int:
    """The person in charge of a task learns that someone else finished or cancelled it (their work on it ends)."""
    owner = task.owner
    if owner is None or owner == actor or not owner.is_active:
        return 0
    incident = task.incident
    title = Text(_l("%(ref)s: your task is %(status)s — %(task)s"), {
        "ref": incident.reference, "status": TaskStatus(task.status).label, "task": _task_title(task)})
    body = _changed_by(incident, actor)
    return notifications.notify([owner], kind="incidents.task_ended", title=title, body=body, url=_url(incident))


def stage_given(incident: Incident, stage: dict, *, actor) -> int:
    """A report stage given (perhaps by the coordinator for the organization): the others know it is done."""
    title = Text(_l("%(ref)s: report “%(stage)s” given"), {"ref": incident.reference,
                                                          "stage": _named(stage, stage.get("code", ""))})
    body = Text(_l("%(title)s\nGiven by %(who)s."), {"title": incident.title, "who": _by(actor)})
    return tell(incident, actor=actor, kind="incidents.stage", title=title, body=body)


# --- The periodic deadline check ----------------------------------------------------------------




# A deadline is due soon in the last SOON_SHARE of its window — from when it started to count (and the incident
# was in Khiên) to its due time — and at most the lead time (`lead_time`) before it. A critical incident's 1-hour
# triage is due soon 30 minutes before its due time, not as soon as it is reported; a 4-hour one (and any longer
# one) the lead time before, 2 hours by default.
SOON_SHARE = 0.5


def soon_at(start: dt.datetime | None, due: dt.datetime, lead: dt.timedelta) -> dt.datetime:
    """When a deadline due at `due`, counted from `start`, becomes due soon (`SOON_SHARE` of its window, at most
    `lead` before it); `lead` before it when its start is not known."""
    if start is None:
        return due - lead
    window = max(due - start, dt.timedelta(0))
    return due - min(lead, window * SOON_SHARE)


def _stage_start(incident: Incident, code: str) -> dt.datetime | None:
    """When a report stage's window starts for the due-soon notice: the time its delay counts from, or the
    incident's report when later (a deadline counted from the detection starts for Khiên at the report)."""
    stage = next((st for st in incident.policy.data.get("stages", []) if st.get("code") == code), None)
    start = deadlines.incident_times(incident).get(stage["due"].get("from")) if stage else None
    return max(start, incident.reported_at) if start is not None else incident.reported_at


def due_notices(incident: Incident, now: dt.datetime, lead: dt.timedelta,
                missed_sla: set[str] | None = None, *, proportional: bool = False) -> list[tuple[str, str, Text]]:
    """(key, "soon" | "missed", text) for every deadline of the incident that is due soon or missed at `now`.

    All times come from `deadlines`. `missed_sla` is the set of SLA measures
    that `deadlines.sla_missed` found missed for this incident (computed per
    batch by the job); without it each is checked with `deadlines.sla_overdue`.
    Each text is a `Text`, written in its reader's language when shown.
    A deadline is "soon" within `lead` of its due time; `proportional` (the due-soon notice, `check_deadlines`):
    within the last `SOON_SHARE` of its window, at most `lead` (`soon_at`).
    """
    found: list[tuple[str, str, Text]] = []

    def soon(start, due) -> bool:
        return (soon_at(start, due, lead) if proportional else due - lead) <= now
    ref = incident.reference
    if deadlines.reported_late(incident):
        found.append(("missed:stage:initial", "missed",
                      Text(_l("%(ref)s: the initial report was given late (due %(due)s)."),
                           {"ref": ref, "due": when_text(deadlines.incident_report_due_at(incident))})))
    nxt = deadlines.incident_next_stage(incident)
    if nxt is not None and nxt.due_at is not None and incident.status != Status.CLOSED:
        if nxt.overdue(now):
            found.append((f"missed:stage:{nxt.code}", "missed",
                          Text(_l("%(ref)s: the report “%(stage)s” is overdue (due %(due)s)."),
                               {"ref": ref, "stage": _named(nxt, nxt.code), "due": when_text(nxt.due_at)})))
        elif soon(_stage_start(incident, nxt.code), nxt.due_at):
            found.append((f"soon:stage:{nxt.code}", "soon",
                          Text(_l("%(ref)s: the report “%(stage)s” is due at %(due)s."),
                               {"ref": ref, "stage": _named(nxt, nxt.code), "due": when_text(nxt.due_at)})))
    if incident.status not in (Status.RESOLVED, Status.CLOSED):
        for measure, done_at in (("triage", incident.triaged_at), ("contain", incident.contained_at)):
            label = SLA_LABELS[measure]
            if done_at is not None:
                continue
            due = getattr(incident, f"{measure}_due_at", None) or deadlines.incident_sla_due_at(incident, measure)
            missed = (measure in missed_sla) if missed_sla is not None else deadlines.sla_overdue(incident, measure, now)
            if missed:
                found.append((f"missed:sla:{measure}", "missed",
                              Text(_l("%(ref)s: the %(what)s SLA was missed (due %(due)s)."),
                                   {"ref": ref, "what": label, "due": when_text(due)})))
            elif soon(incident.reported_at, due):
                found.append((f"soon:sla:{measure}", "soon",
                              Text(_l("%(ref)s: %(what)s is due by %(due)s."),
                                   {"ref": ref, "what": label, "due": when_text(due)})))
    return found


def candidates(now: dt.datetime):
    """Incidents the check looks at: not closed, reported within the look-back period, with their SLA due times."""
    recent = Incident.objects.exclude(status=Status.CLOSED).filter(reported_at__gte=now - lookback())
    return (deadlines.annotate_sla_due(recent).select_related("policy", "organization").order_by("reported_at", "pk"))


def missed_slas(now: dt.datetime) -> dict:
    """Incident id -> SLA measures missed and not done yet at `now`, from `deadlines.sla_missed` (in SQL)."""
    recent = (Incident.objects.exclude(status__in=[Status.RESOLVED, Status.CLOSED])
              .filter(reported_at__gte=now - lookback()))
    found: dict = {}
    for measure, done in (("triage", "triaged_at"), ("contain", "contained_at")):
        for pk in deadlines.sla_missed(recent.filter(**{f"{done}__isnull": True}), measure, now).values_list(
                "pk", flat=True):
            found.setdefault(pk, set()).add(measure)
    return found


def check_deadlines(now: dt.datetime | None = None) -> dict[str, int]:
    """Send each due-soon and missed notice once; escalate missed ones to the coordinator. Idempotent."""
    now = now or timezone.now()
    lead = lead_time()
    counts = {"incidents": 0, "soon": 0, "missed": 0, "escalated": 0, "notifications": 0}
    missed_by_incident = missed_slas(now)
    for incident in candidates(now).iterator(chunk_size=500):
        pk = incident.pk
        wanted = due_notices(incident, now, lead, missed_by_incident.get(pk, set()), proportional=True)
        if not any(key not in incident.deadline_notices for key, _k, _t in wanted):
            continue
        counts["incidents"] += 1
        with transaction.atomic():
            locked = Incident.objects.select_for_update(of=("self",)).select_related("policy", "organization").get(pk=pk)
            new = [(key, kind, text) for key, kind, text in wanted if key not in locked.deadline_notices]
            if not new:
                continue
            sent = _send(locked, new, now)
            counts["notifications"] += sent
            counts["soon"] += sum(1 for _key, kind, _t in new if kind == "soon")
            missed = [n for n in new if n[1] == "missed"]
            counts["missed"] += len(missed)
            before = audit.snapshot(locked)
            locked.deadline_notices = list(locked.deadline_notices) + [key for key, _kind, _t in new]
            fields = ["deadline_notices", "updated_at"]
            if missed:
                if locked.escalated_at is None:
                    locked.escalated_at = now
                    counts["escalated"] += 1
                    fields.append("escalated_at")
                with notifications.platform_language():  # the stored text: the platform's language
                    text = "\n".join(str(t) for _k, _kind, t in missed)
                # The texts too (catalogue entry and parameters): the journal shows each line in its reader's
                # language (`journal.note_text`), as the notices do.
                IncidentEvent.objects.create(
                    incident=locked, kind=EventKind.ESCALATION, at=now, text=text,
                    data={"keys": [k for k, _kind, _t in missed], "texts": [t.as_data() for _k, _kind, t in missed]})
            locked.save(update_fields=fields)
            audit.record_many([Change(action=audit.Act.UPDATE, obj=locked, before=before,
                                      after=audit.snapshot(locked))], actor=None)
    return counts


# What to do for a deadline, by the end of its key (`due_notices`); a late initial report has nothing left to do.
TO_DO = {
    "stage": _l("To do: give the report from the Deadlines section of the incident's page."),
    "sla:triage": _l("To do: triage the incident on its page (confirm or correct its category, severity and TLP)."),
    "sla:contain": _l("To do: once the incident is contained, mark it so on its page (Workflow section)."),
}


def _to_do(keys) -> list:
    """The distinct "To do" lines of the deadlines `keys` (“soon:stage:notification”, “missed:sla:triage”…)."""
    found = []
    for key in keys:
        if key == "missed:stage:initial":  # reported late: done, nothing left to do
            continue
        what = key.split(":", 1)[1]  # "stage:notification", "sla:triage"…
        line = TO_DO.get("stage" if what.startswith("stage:") else what)
        if line is not None and line not in found:
            found.append(line)
    return found


def _body(incident: Incident, texts: list[Text], keys, *, responder: bool = False) -> Text:
    """A deadline notice's body: the incident's title, the deadlines when the title only counts them (one is the
    title itself, not said twice), and what to do; the e-mail adds the link. A responder is told only what is theirs
    to do (containment): the reports are the reporting organization's, triage the coordinator's."""
    if responder:
        keys = [key for key in keys if key.endswith("sla:contain")]
    return notifications.lines(incident.title, *(texts if len(texts) > 1 else []), *_to_do(keys))


def _send(incident: Incident, new: list[tuple[str, str, Text]], now) -> int:
    url = _url(incident)
    responders = _responders(incident)
    sent = 0
    # Kept as `Text`s: each reader reads them in their own language.
    soon = [t for _k, kind, t in new if kind == "soon"]
    missed = [t for _k, kind, t in new if kind == "missed"]
    if soon:
        title = soon[0] if len(soon) == 1 else Text(_l("%(ref)s: %(n)d deadlines are near"), {
            "ref": incident.reference, "n": len(soon)})
        body = _body(incident, soon, [k for k, kind, _t in new if kind == "soon"])
        sent += notifications.notify([incident.organization], kind="incidents.deadline_soon", title=title,
                                     body=body, url=url, urgent=True, roles=REPORTER_ROLES)
        if responders and any(k.startswith("soon:sla") for k, _kind, _t in new):
            body = _body(incident, soon, [k for k, kind, _t in new if kind == "soon"], responder=True)
            sent += notifications.notify(responders, kind="incidents.deadline_soon", title=title, body=body,
                                         url=url, urgent=True, roles=RESPONDER_ROLES)
    if missed:
        title = Text(_l("Escalation: %(text)s"), {"text": missed[0]}) if len(missed) == 1 else \
            Text(_l("Escalation: %(ref)s missed %(n)d deadlines"), {"ref": incident.reference, "n": len(missed)})
        missed_keys = [k for k, kind, _t in new if kind == "missed"]
        body = _body(incident, missed, missed_keys)
        # The person who filed the initial report late gave the reason as they did: an escalation about that alone
        # tells them nothing (the coordinator and their colleagues are told; the journal keeps it).
        filer = incident.created_by if missed_keys == ["missed:stage:initial"] else None
        sent += notifications.notify(_people([incident.organization], REPORTER_ROLES, filer),
                                     kind="incidents.escalation", title=title, body=body, url=url, urgent=True)
        coordinators = [u for u in national_coordinators() if filer is None or u.pk != filer.pk]
        sent += notifications.notify(coordinators, kind="incidents.escalation", title=title, body=body,
                                     url=url, urgent=True)
        if responders:
            body = _body(incident, missed, [k for k, kind, _t in new if kind == "missed"], responder=True)
            sent += notifications.notify(responders, kind="incidents.escalation", title=title, body=body,
                                         url=url, urgent=True, roles=RESPONDER_ROLES)
    return sent
