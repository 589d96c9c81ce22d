"""Incident pages: list, report form, detail with workflow, assignment, journal, tasks and evidence.

Views stay thin: reads go through `visible_to`, every write is a `services`
call. An incident outside the user's scope is a 404; a refused step is shown
with the service's status (400, 403, 409, 413), never a 500, and writes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlencode

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from khien.core.confirmation import ask_first, confirmed
from khien.core.errors import Forbidden, Refused, status_of
from khien.core.forms import add_service_error
from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator
from khien.intel.models import Tlp
from khien.registry.models import Organization

from . import deadlines, exports, journal, links, observables, services, stats
from .api.views import evidence_file_response
from .evidence import integrity_state, size_label
from .filters import IncidentFilter, TaskFilter, may_await_response
from .forms import (
    AssignForm,
    ClassificationForm,
    CommentForm,
    CustodyForm,
    EvidenceForm,
    ExternalEvidenceForm,
    IncidentReportForm,
    ObservableForm,
    ReportCorrectionForm,
    SealForm,
    ShareObservablesForm,
    StageForm,
    TaskEditForm,
    TaskForm,
    TaskStatusForm,
    TransitionForm,
    UnassignForm,
    system_name,
)
from .models import (
    OPEN_TASK_STATUSES,
    STATUS_ORDER,
    EventKind,
    Evidence,
    Incident,
    IncidentEvent,
    Observable,
    ReportingPolicy,
    Status,
    Task,
    TaskTemplates,
    Taxonomy,
)

PAGE_SIZE = 50
log = logging.getLogger(__name__)

def _step_label(to_status: str, reopen: bool) -> str:
    if reopen:
        return _("Reopen")
    return {
        Status.TRIAGED: _("Triage"),
        Status.IN_RESPONSE: _("Start the response"),
        Status.CONTAINED: _("Mark contained"),
        Status.RESOLVED: _("Mark resolved"),
        Status.CLOSED: _("Close"),
    }.get(to_status, to_status)


def awaited(user, incident: Incident) -> list[str]:
    """What the incident waits for, and from whom, for someone with no step to take now (from the same
    `services.TRANSITIONS` that decide the steps)."""
    org = incident.organization.name
    if incident.status == Status.CLOSED:
        return [_("The incident is closed; the reporting organization (%(org)s) or the national coordinator can "
                  "reopen it.") % {"org": org}]
    lines = []
    for to_status, sides in services.next_steps(incident):
        if services.RESPONDER in sides:
            who = _("the reporting organization (%(org)s), the national coordinator or an assigned responder")
        else:
            who = _("the reporting organization (%(org)s) or the national coordinator")
        lines.append(_("Awaited: “%(step)s”, by %(who)s.") % {"step": _step_label(to_status, False),
                                                              "who": who % {"org": org}})
        if problem := services.transition_problem(incident, to_status, user):
            lines.append(problem)
    if incident.status == Status.NEW and services.RESPONDER in services.sides_of(user, incident):
        lines.append(_("The reporting organization first triages the incident (confirms its category and "
                       "severity); the response steps open to the assigned responders after that."))
    return lines


def _visible(request, pk) -> Incident:
    """The incident the user sees, annotated `affected_only` when they see it only as an organization whose
    information systems it names (`IncidentQuerySet.with_reading`)."""
    return get_object_or_404(
        Incident.objects.visible_to(request.user).with_reading(request.user)
        .select_related("organization", "policy", "taxonomy", "created_by"), pk=pk)


def _require(request, incident: Incident, right: str, evidence: Evidence | None = None) -> None:
    """The user's right to a write on the incident (`services.require_right`), checked before the form is read:
    whoever may not gets the rights page (403) with the reason, not the form's errors nor the incident's state."""
    try:
        services.require_right(request.user, incident, right, evidence=evidence)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


def _flags(incident: Incident, now) -> dict:
    """Late / overdue badges of a list row, all from `deadlines`."""
    nxt = deadlines.incident_next_stage(incident)
    open_ = incident.status not in (Status.RESOLVED, Status.CLOSED)
    return {
        "next_deadline": _next_deadline(incident),
        "reported_late": deadlines.reported_late(incident),
        # A closed incident has no live deadline (closing needs every report given).
        "stage_overdue": bool(incident.status != Status.CLOSED and nxt and nxt.due_at and nxt.overdue(now)),
        "next_stage": nxt,
        "triage_overdue": deadlines.sla_overdue(incident, "triage", now) and incident.triaged_at is None,
        "contain_overdue": open_ and incident.contained_at is None and deadlines.sla_overdue(incident, "contain", now),
    }


def _next_deadline(incident: Incident) -> dict | None:
    """The soonest deadline the incident still has to meet, named in the page's language (list column)."""
    nxt = deadlines.incident_next_deadline(incident)
    if nxt is None:
        return None
    if nxt.kind == "stage":
        label = journal.stage_names(incident.policy).get(nxt.code, nxt.code)
    else:
        label = _("Triage") if nxt.code == "triage" else _("Containment")
    return {"label": label, "due_at": nxt.due_at}


# --- list ---------------------------------------------------------------------------------


@login_required
def incident_list(request):
    queryset = (Incident.objects.visible_to(request.user)
                .select_related("organization", "policy", "taxonomy").order_by("-reported_at", "reference"))
    filterset = IncidentFilter(request.GET or None, queryset=queryset, request=request)
    _dress_filters(filterset, request.user)
    if filterset.is_bound and not filterset.is_valid():
        rows, status = queryset.none(), 400
    else:
        rows, status = (filterset.qs if filterset.is_bound else queryset), 200
    fmt = request.GET.get("format")
    if fmt is not None:
        return _export_list(request, rows, fmt, status)
    # Each row says whether the reader sees it only as an affected organization (the "Affected" badge).
    page = Paginator(rows.with_reading(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    return render(request, "incidents/incident_list.html", {
        "filter": filterset, "page": page,
        # The filters fold (11 fields fill a phone's first screen), open while one is set.
        "filtering": any(v for k, v in request.GET.items() if k != "page"),
        "rows": [{"incident": i, "affected_only": i.affected_only, **_flags(i, now)} for i in page],
        "can_report": services.may_report(request.user),
        # "My open tasks" concerns those who may be in charge of one (not an auditor, a trainee).
        "may_hold_tasks": services.may_hold_tasks(request.user),
    }, status=status)


@login_required
@require_GET
def task_list(request):
    """The tasks of the incidents the user sees (the same scope as the incidents), filtered: the home page's
    "To do" links to `?mine=1&open=1`, the open tasks in the person's charge."""
    queryset = (Task.objects.visible_to(request.user).select_related("incident", "owner")
                .order_by("due_at", "created_at", "pk"))
    filterset = TaskFilter(request.GET or None, queryset=queryset, request=request)
    if filterset.is_bound and not filterset.is_valid():
        rows, status = queryset.none(), 400
    else:
        rows, status = (filterset.qs if filterset.is_bound else queryset), 200
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "incidents/task_list.html", {
        "filter": filterset, "page": page, "rows": _task_rows(page), "now": timezone.now(),
        "task_open_statuses": OPEN_TASK_STATUSES, "may_hold_tasks": services.may_hold_tasks(request.user),
    }, status=status)


EXPORTERS = {
    "csv": (exports.export_csv, "text/csv; charset=utf-8"),
    "xlsx": (exports.export_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def _export_list(request, rows, fmt: str, status: int):
    """The filtered list (the same FilterSet and scope as the page) as CSV or XLSX; audited."""
    if fmt not in EXPORTERS or status != 200:
        message = _("Unknown export format; use csv or xlsx.") if fmt not in EXPORTERS else _("Invalid filters.")
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    build, content_type = EXPORTERS[fmt]
    content, count, tlp = build(rows)
    filters = {k: request.GET.getlist(k) for k in request.GET if k not in ("format", "page")}
    exports.record_export(request.user, fmt, count, filters=filters)
    response = HttpResponse(content, content_type=content_type)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    # The most restrictive TLP of the rows, in the name: whoever receives the file sees how it may be shared.
    marking = f"-{exports.tlp_file_tag(tlp)}" if tlp else ""
    response["Content-Disposition"] = f'attachment; filename="khien-incidents-{stamp}{marking}.{fmt}"'
    return response


@login_required
@require_GET
def incident_pdf(request, pk):
    """One incident as a PDF report in the reader's language (the page's: their choice, else Vietnamese), or the
    one asked for with ?lang=vi / ?lang=en; audited."""
    from django.conf import settings
    from django.utils.translation import get_language

    incident = _visible(request, pk)
    languages = dict(settings.LANGUAGES)
    language = request.GET.get("lang")
    if language not in languages:  # the page's language: the reader's choice (cookie, set from their account)
        language = (get_language() or "").split("-")[0]
        language = language if language in languages else settings.LANGUAGE_CODE
    try:
        content = exports.incident_pdf(incident, request.user, language=language)
    except exports.PdfUnavailable:
        # The reader cannot install anything: they are told whom to ask; the operator finds the step in the log.
        log.error("PDF report of %s refused: the fonts are not installed in %s (run scripts/vendor_assets.py, or "
                  "set KHIEN_PDF_FONT_DIR).", incident.reference, exports.font_dir())
        return HttpResponse(_("PDF reports are not available on this server at the moment: ask the platform "
                              "operator to set them up."), status=503, content_type="text/plain; charset=utf-8")
    exports.record_export(request.user, "pdf", 1, incident=incident)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{incident.reference}-{language}.pdf"'
    return response


class StatusSelect(django_forms.Select):
    """One status chosen from a drop-down, given to the FilterSet's multiple-choice status filter as a list."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return [v for v in values if v]


def _dress_filters(filterset, user) -> None:
    """Selects for the list page's filters (the FilterSet, shared with the API, takes the plain values)."""
    from django import forms

    form = filterset.form
    taxonomy, policy = Taxonomy.current(), ReportingPolicy.current()
    form.fields["status"].widget = StatusSelect(choices=[("", _("All"))] + list(Status.choices))
    form.fields["tlp"].widget = forms.Select(choices=[("", _("All"))] + list(Tlp.choices))
    form.fields["severity"].widget = forms.Select(choices=[("", _("All"))] + (policy.severity_choices() if policy else []))
    form.fields["category"].widget = forms.Select(choices=[("", _("All"))] + (taxonomy.choices() if taxonomy else []))
    # The organizations that reported an incident the user sees: a responder sees incidents of organizations
    # outside its own scope (and none of its own), and the national registry is too long for a drop-down.
    visible = Incident.objects.visible_to(user)
    reporting = Organization.objects.filter(pk__in=visible.values("organization_id"))
    # The responder organizations assigned to those incidents (the responder filter).
    responders = Organization.objects.filter(incident_assignments__incident__in=visible).distinct()
    for name, orgs in (("organization", reporting), ("responder", responders)):
        orgs = orgs.order_by("code").only("code", "name_vi", "name_en")
        form.fields[name].widget = forms.Select(choices=[("", _("All"))] + [(o.code, f"{o.code} — {o.name}")
                                                                         for o in orgs])
    form.fields["tlp_max"].widget = forms.Select(choices=[("", _("All"))] + list(Tlp.choices))
    for name in ("province", "sector"):
        form.fields[name].widget = forms.Select(choices=[("", _("All"))] + list(filterset.filters[name].extra["choices"]))
    # The report period stays (the monthly report, the statistics page's export link); the other times are the API's.
    for name in ("detected_after", "detected_before", "updated_after"):
        form.fields.pop(name, None)
    if not may_await_response(user):  # it could match nothing: the user works in no responder organization
        form.fields.pop("awaiting_us", None)


# --- report -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def incident_create(request):
    try:
        services.require_may_report(request.user)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    initial = {}
    if request.GET.get("organization"):
        chosen = Organization.objects.restrict(request.user, Action.ADD).filter(code=request.GET["organization"]).first()
        if chosen:
            initial["organization"] = chosen
    form = IncidentReportForm(request.POST or None, user=request.user, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data, systems = form.service_data()
            try:
                incident = services.do_report_incident(data, acting_user=request.user, systems=systems,
                                                       observables=form.cleaned_data.get("observables") or [],
                                                       late_reason_required=True)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("Incident %(ref)s reported.") % {"ref": incident.reference})
                return redirect("incidents:incident_detail", pk=incident.pk)
        else:
            status = 400
    return render(request, "incidents/incident_form.html", {"form": form}, status=status)


@login_required
@require_GET
def late_field(request):
    """HTMX: the late-report warning and the reason field for the time of detection typed in the report form."""
    form = IncidentReportForm(user=request.user, initial={"detected_at": request.GET.get("detected_at"),
                                                          "late_reason": request.GET.get("late_reason", "")})
    return render(request, "incidents/_late_field.html", {"form": form})


@login_required
@require_GET
def systems_options(request):
    """HTMX: the systems field for the organization chosen in the report form."""
    form = IncidentReportForm(user=request.user, initial={"organization": request.GET.get("organization")})
    return render(request, "incidents/_systems_field.html", {"field": form["systems"]})


# --- detail -------------------------------------------------------------------------------------


def _detail_context(request, incident: Incident, **forms) -> dict:
    user = request.user
    now = timezone.now()
    participant = services.may_participate(user, incident)
    # Seen only as an organization whose information systems the incident names: its own systems, the status, the
    # deadlines, the responders and the journal; not the evidence, observables and tasks (`services.reads_whole`).
    affected_only = getattr(incident, "affected_only", None)
    if affected_only is None:
        affected_only = not services.reads_whole(user, incident)
    shown_systems, systems_not_shown = services.systems_shown(user, incident, whole=not affected_only)
    steps = []
    for (from_status, to_status) in services.TRANSITIONS:
        if from_status == incident.status and services.may_transition(user, incident, to_status):
            reopen = (from_status, to_status) in services.REOPENS
            form = forms.get("transition") if forms.get("transition_to") == to_status else None
            steps.append({"to": to_status, "label": _step_label(to_status, reopen), "reopen": reopen,
                          "form": form or TransitionForm(initial={"status": to_status}),
                          "problem": services.transition_problem(incident, to_status, user),
                          # Triage confirms or corrects the category, severity and TLP in the same step.
                          "triage_form": (forms.get("triage") or ClassificationForm(
                              incident=incident, triage=True, prefix="triage"))
                          if to_status == Status.TRIAGED else None})
    stages = []
    for stage in deadlines.incident_schedule(incident):
        stages.append({"stage": stage, "name": stage.name_en if _english() else stage.name_vi,
                       "overdue": stage.overdue(now), "late": stage.late})
    slas = []
    for measure, done_at, label in (("triage", incident.triaged_at, _("Triage")),
                                    ("contain", incident.contained_at, _("Containment"))):
        due = deadlines.incident_sla_due_at(incident, measure)
        slas.append({"label": label, "due_at": due, "done_at": done_at,
                     "overdue": deadlines.sla_overdue(incident, measure, now)})
    evidence = (Evidence.objects.visible_to(user).filter(incident=incident)
                .select_related("uploaded_by", "sealed_by").prefetch_related("custody"))
    custody_forms = forms.get("custody_forms", {})
    open_incident = incident.status != Status.CLOSED
    stage_form = stage_waiting = None
    nxt = deadlines.incident_next_stage(incident)
    if nxt is not None and open_incident and services.is_reporting_side(user, incident):
        stage = next((st for st in incident.policy.data["stages"] if st["code"] == nxt.code), None)
        if stage is not None and stage["code"] != incident.policy.data["stages"][0]["code"]:
            # A stage that waits for a status (the final report: the end of the response) says so instead of a form.
            stage_waiting = services.stage_problem(incident, stage)
            if stage_waiting is None:
                stage_form = forms.get("stage") or StageForm(incident=incident, stage=stage, prefix="stage")
                stage_form.stage_name = nxt.name_en if _english() else nxt.name_vi
    order = list(STATUS_ORDER)
    current = order.index(incident.status)
    status_path = [{"label": Status(s).label, "state": "done" if i < current else "current" if i == current else "todo"}
                   for i, s in enumerate(order)]
    events = list(IncidentEvent.objects.visible_to(user).filter(incident=incident)
                  .select_related("actor").order_by("at", "id"))
    stage_names = journal.stage_names(incident.policy)
    templates = TaskTemplates.current()
    tasks_by_id = {str(task.pk): task for task in Task.objects.filter(incident=incident)}
    alerts_seen = journal.alerts_seen(events, user)  # an alerts line names only the alerts the reader may see
    for event in events:
        event.headline = journal.headline(event, stage_names)
        event.note = journal.note_text(event, tasks_by_id, templates, alerts_seen, whole=not affected_only)
        # A long list of alerts opens on demand.
        event.folded = event.kind == EventKind.ALERTS and event.note.count("\n") >= 5
    manage_tasks = participant and open_incident
    people = services.task_people(incident) if manage_tasks else None
    edit_forms = forms.get("task_edit_forms", {})
    task_rows = _task_rows(Task.objects.visible_to(user).filter(incident=incident).select_related("owner"), templates)
    for row in task_rows:
        task = row["task"]
        row["edit_form"] = ((edit_forms.get(task.pk) or TaskEditForm(task=task, people=people, templates=templates))
                            if manage_tasks else None)
    for step in steps:
        if step["problem"] is None and not step["reopen"]:
            step["open_tasks"] = services.open_tasks_problem(incident, step["to"], user)
    share_form = _share_form(forms.get("share"), incident, user) if participant and open_incident else None
    may_assign = services.may_assign(user, incident)
    assignments = list(incident.assignments.select_related("responder", "assigned_by"))
    for assignment in assignments:
        assignment.removable = open_incident and services.may_unassign(user, incident, assignment)
    return {
        "incident": incident,
        "confirm_cancel": forms.get("confirm_cancel"),
        "status_path": status_path,
        "stage_form": stage_form,
        "stage_waiting": stage_waiting,
        # After triage, the reporting side may still correct the classification while the incident is open.
        "classify_form": (forms.get("classify") or ClassificationForm(incident=incident, prefix="cls"))
        if open_incident and incident.status != Status.NEW and services.is_reporting_side(user, incident) else None,
        "may_correct": open_incident and services.is_reporting_side(user, incident),
        "flags": _flags(incident, now),
        "report_due_at": deadlines.incident_report_due_at(incident),
        "stages": stages,
        "slas": slas,
        "steps": steps,
        # Named as the report form and the PDF name them (`forms.system_name`).
        "systems": [(system, system_name(system, incident.organization)) for system in shown_systems],
        # An affected organization's reader: the other organizations' systems only counted.
        "affected_only": affected_only,
        "systems_not_shown": systems_not_shown,
        # To whoever reads it whole: whether the organizations whose systems it names (other than the reporting
        # organization) follow it, or its TLP keeps it from them.
        "affected_follow": (None if affected_only or not incident.systems.exclude(
            Q(owner_id=incident.organization_id) | Q(operator_id=incident.organization_id)).exists()
            else services.affected_organizations_see(incident)),
        # Each with whether the reader may remove it (`services.may_unassign`: the coordinator any, whoever
        # assigned one theirs).
        "assignments": assignments,
        # The reporting organization's administrator assigns but removes only their own assignments: said there.
        "unassign_own_only": may_assign and open_incident and not is_national_coordinator(user),
        "unassign_form": UnassignForm(),
        "assign_form": (forms.get("assign") or AssignForm(incident=incident)) if may_assign and open_incident else None,
        "events": events,
        "timeline": journal.timeline(incident, events),
        # The journal stays open after closing (a note on the court case, a request to reopen): comments only.
        "comment_form": (forms.get("comment") or CommentForm()) if services.may_comment(user, incident) else None,
        "tasks": task_rows,
        "task_form": (forms.get("task") or TaskForm(incident=incident)) if manage_tasks else None,
        # The standard tasks of the category not on the incident yet (the button adds them; none twice).
        "standard_missing": services.standard_tasks_missing(incident, templates) if manage_tasks and templates else [],
        "task_status_choices": TaskStatusForm.base_fields["status"].choices,
        # A task past its due time and not done nor cancelled is flagged.
        "task_open_statuses": OPEN_TASK_STATUSES,
        "participant": participant,
        "evidence": [{"item": e, "custody": _custody_rows(e),
                      "custody_form": custody_forms.get(e.pk) or CustodyForm(prefix=f"c{e.pk.hex[:8]}"),
                      **_sealing(user, e), "may_custody": participant,
                      # Its integrity as the API and the PDF say it; its size in decimal units, as the PDF writes it.
                      "integrity": integrity_state(e), "size_label": size_label(e.size)}
                     for e in evidence],
        "evidence_form": (forms.get("evidence") or EvidenceForm()) if participant and open_incident else None,
        "external_evidence_form": (forms.get("external_evidence") or ExternalEvidenceForm(prefix="ext"))
        if participant and open_incident else None,
        "seal_form": SealForm(),
        "now": now,
        "open_incident": open_incident,
        "awaited": [] if steps else awaited(user, incident),
        "observables": observables.lookup(user, Observable.objects.visible_to(user).filter(incident=incident)),
        **_alerts_behind(user, incident),
        # The early warnings and the other incidents about the same wave (`links.related_to_incident`).
        "related": links.related_to_incident(user, incident, affected_only=affected_only),
        "observable_form": (forms.get("observable") or ObservableForm(prefix="obs"))
        if participant and open_incident else None,
        # A closed incident's observables no longer change, shared included (`observables.do_share_observables`).
        "share_form": share_form,
        # Without a collection to write, the page says why instead of showing nothing: who to ask for one when the
        # reader may publish (`observables.without_collection`), else who shares (response staff).
        "share_by_others": (observables.without_collection(user)
                            if share_form is None and participant and open_incident and incident.observables.exists()
                            else None),
    }


def _sealing(user, evidence: Evidence) -> dict:
    """Whether the reader may seal the evidence (`services.may_seal`); to the others, who may (unless sealed)."""
    if evidence.is_sealed:
        return {"may_seal": False, "who_seals": None}
    may = services.may_seal(user, evidence)
    return {"may_seal": may, "who_seals": None if may else services.who_may_seal(evidence)}


def _task_rows(tasks, templates=None) -> list[dict]:
    """Task table rows: the title and description as shown (`TaskTemplates.shown`), and whether it is still open
    (a done or cancelled task is shown muted, a cancelled one struck through)."""
    templates = templates or TaskTemplates.current()
    rows = []
    for task in tasks:
        title, description = templates.shown(task) if templates else (task.title, task.description)
        rows.append({"task": task, "title": title, "description": description,
                     "open": task.status in OPEN_TASK_STATUSES})
    return rows


def _custody_rows(evidence) -> list[dict]:
    """The chain of custody with people named as the journal names them (`journal.people_named`), not by e-mail."""
    steps = list(evidence.custody.all())
    names = journal.people_named([value for c in steps for value in (c.actor_email, c.from_party, c.to_party)])
    return [{"step": c, "actor": names.get(c.actor_email, c.actor_email), "from": names.get(c.from_party, c.from_party),
             "to": names.get(c.to_party, c.to_party)} for c in steps]


ALERTS_SHOWN = 20  # on the incident's page; all of them in the alert list filtered by the incident


def _alerts_behind(user, incident) -> dict:
    """The SOC alerts reported as, or added to, the incident that the user may see: the first ALERTS_SHOWN and
    how many there are."""
    from khien.telemetry.triage import alerts_behind

    alerts = alerts_behind(user, incident)
    shown = list(alerts[:ALERTS_SHOWN])
    return {"alerts": shown, "alert_count": len(shown) if len(shown) < ALERTS_SHOWN else alerts.count()}


def _share_form(form, incident, user):
    form = form or ShareObservablesForm(incident=incident, user=user, prefix="share")
    return form if form.has_collections and incident.observables.exists() else None


def _english() -> bool:
    from django.utils.translation import get_language

    return (get_language() or "vi").startswith("en")


# What the top of the page says about a form of the incident page that failed, by the name it is given to
# `_detail` under (`_failed_forms`).
FORM_FAILED = {
    "task": _l("The task was not added"),
    "task_edit_forms": _l("The task was not saved"),
    "classify": _l("The classification was not changed"),
    "triage": _l("The incident was not triaged"),
    "stage": _l("The report was not given"),
    "assign": _l("The responder was not assigned"),
    "comment": _l("The comment was not added"),
    "evidence": _l("The evidence was not added"),
    "external_evidence": _l("The evidence was not added"),
    "custody_forms": _l("The custody step was not recorded"),
    "observable": _l("The observables were not added"),
    "share": _l("The observables were not shared"),
}


def _failed_forms(request, incident, forms: dict) -> None:
    """One message at the top of the page for each form given back with errors: the page comes back at its top,
    far from most forms. The form itself then shows its errors only at their fields (its problems that concern
    no field are in that message, not said again in the form)."""
    for name, value in forms.items():
        for form in (value.values() if isinstance(value, dict) else [value]):
            if not isinstance(form, django_forms.BaseForm) or not form.errors:
                continue
            if name == "transition":
                to_status = forms.get("transition_to")
                what = _("“%(step)s” was not done") % {
                    "step": _step_label(to_status, (incident.status, to_status) in services.REOPENS)}
            else:
                what = FORM_FAILED.get(name)
            if what is not None:
                _form_banner(request, form, what)


def _detail(request, incident, status=200, **forms):
    incident = _visible(request, incident.pk)
    _failed_forms(request, incident, forms)
    return render(request, "incidents/incident_detail.html", _detail_context(request, incident, **forms), status=status)


@login_required
def incident_detail(request, pk):
    incident = _visible(request, pk)
    return render(request, "incidents/incident_detail.html", _detail_context(request, incident))


def _detail_url(incident, anchor: str = "") -> str:
    return reverse("incidents:incident_detail", args=[incident.pk]) + anchor


def _done(incident, anchor: str):
    return redirect(_detail_url(incident, anchor))


def _form_banner(request, form, what) -> None:
    """A form far down the page that failed: the page comes back at its top, so the banner there says what went
    wrong, naming the field (“The task was not added: Due: …”); the form shows each error at its field."""
    problems = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        problems.extend(f"{label}: {e}" if label else str(e) for e in errors)
    messages.error(request, _("%(what)s: %(problems)s") % {"what": what, "problems": " ".join(problems)})


def _refused(request, incident, exc, form=None, refusal_fields=None, **forms):
    """The incident page again after a service refused a step: the reason on the form that asked (at its field
    when it concerns one), told once at the top of the page (`_failed_forms`); without a form, at the top only.

    `refusal_fields`: the field of the form that a refusal's code concerns (a file too large: the file), where
    the refusal itself names no field."""
    field = (refusal_fields or {}).get(exc.code) if isinstance(exc, Refused) else None
    if form is not None and field in form.fields:
        form.add_error(field, exc.message)
    elif form is not None:
        add_service_error(form, exc)
    else:
        messages.error(request, exc.message if isinstance(exc, Refused) else " ".join(exc.messages))
    return _detail(request, incident, status_of(exc), **forms)


@login_required
@require_POST
def incident_transition(request, pk):
    incident = _visible(request, pk)
    _require(request, incident, "workflow")
    form = TransitionForm(request.POST)
    if not form.is_valid():
        if "status" in form.errors:
            messages.error(request, _("Choose a valid status."))
            return _detail(request, incident, 400)
        # Another field (a reason too long): its own error, at the field and at the top (`_failed_forms`).
        return _detail(request, incident, 400, transition=form, transition_to=form.cleaned_data["status"])
    to_status = form.cleaned_data["status"]
    try:
        services.do_transition(incident, to_status, acting_user=request.user, reason=form.cleaned_data["reason"],
                               cancel_open_tasks=form.cleaned_data["cancel_open_tasks"])
    except Refused as exc:
        if exc.code != "open_tasks":
            return _refused(request, incident, exc, form, transition=form, transition_to=to_status)
        # Not an error but a question (the service's 409 is for the API): the open tasks are listed with the
        # choice to cancel them or to go back to them.
        return _detail(request, incident, 200, confirm_cancel={
            "to": to_status, "label": _step_label(to_status, False), "message": exc.message,
            "tasks": _task_rows(services.open_tasks(incident, to_status, request.user).select_related("owner")),
            "left_open": _task_rows(services.tasks_left_open(incident, to_status, request.user))})
    except ValidationError as exc:
        return _refused(request, incident, exc, form, transition=form, transition_to=to_status)
    messages.success(request, _("Status: %(status)s.") % {"status": Status(to_status).label})
    return _done(incident, "#workflow")


@login_required
@require_POST
def incident_triage(request, pk):
    """Triage with the category, severity and TLP confirmed or corrected (`services.do_triage`)."""
    incident = _visible(request, pk)
    _require(request, incident, "triage")
    form = ClassificationForm(request.POST, incident=incident, triage=True, prefix="triage")
    if not form.is_valid():
        return _detail(request, incident, 400, triage=form)
    try:
        services.do_triage(incident, form.cleaned_data, acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, triage=form)
    messages.success(request, _("Status: %(status)s.") % {"status": Status.TRIAGED.label})
    return _done(incident, "#workflow")


@login_required
@require_http_methods(["GET", "POST"])
def incident_correct(request, pk):
    """Correct the initial report (`services.do_correct_report`): the reporting side and the coordinator."""
    incident = _visible(request, pk)
    _require(request, incident, "correct")
    form = ReportCorrectionForm(request.POST or None, incident=incident, user=request.user)
    status = 409 if incident.status == Status.CLOSED else 200
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            systems, reason = data.pop("systems"), data.pop("reason")
            for name in ("suspected_malicious", "impact_beyond_organization"):
                if data[name] is None:  # left unanswered: kept as it is
                    del data[name]
            try:
                _incident, changed = services.do_correct_report(incident, data, systems=systems, reason=reason,
                                                                acting_user=request.user)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                if changed:
                    messages.success(request, _("Report corrected."))
                else:
                    messages.info(request, _("Nothing changed: the report already says this."))
                return _done(incident, "#facts")
        else:
            status = 400
    return render(request, "incidents/incident_correct.html", {"incident": incident, "form": form}, status=status)


@login_required
@require_POST
def incident_classify(request, pk):
    """Correct the category, severity or TLP of a triaged incident, with a reason (`services.do_reclassify`)."""
    incident = _visible(request, pk)
    _require(request, incident, "classify")
    form = ClassificationForm(request.POST, incident=incident, prefix="cls")
    if not form.is_valid():
        return _detail(request, incident, 400, classify=form)
    data = dict(form.cleaned_data)
    reason = data.pop("reason", "")
    try:
        _incident, changes = services.do_reclassify(incident, data, acting_user=request.user, reason=reason)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, classify=form)
    if changes:
        messages.success(request, _("Classification changed"))
    else:
        messages.info(request, _("The classification is unchanged."))
    return _done(incident, "#facts")


@login_required
@require_POST
def incident_stage(request, pk, code):
    """Give the next report stage (detailed notification, final report) with the fields its policy requires."""
    incident = _visible(request, pk)
    _require(request, incident, "report")
    stage = next((st for st in incident.policy.data["stages"][1:] if st["code"] == code), None)
    if stage is None:
        raise Http404
    form = StageForm(request.POST, incident=incident, stage=stage, prefix="stage")
    if not form.is_valid():
        return _detail(request, incident, 400, stage=form)
    try:
        services.do_submit_stage(incident, code, dict(form.cleaned_data), acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, stage=form)
    messages.success(request, _("Report given."))
    return _done(incident, "#deadlines")


@login_required
@require_POST
def incident_assign(request, pk):
    incident = _visible(request, pk)
    _require(request, incident, "assign")
    form = AssignForm(request.POST, incident=incident)
    if not form.is_valid():
        return _detail(request, incident, 400, assign=form)
    responder = form.cleaned_data["responder"]
    if not confirmed(request):  # its people are e-mailed at once: asked first, also without JavaScript
        n = getattr(responder, "people_told", 0) or 0
        return ask_first(request, title=_("Assign a responder"), button=_("Assign"), question=ngettext(
            "Assign %(org)s as responder? Its %(n)s person gets an urgent e-mail at once and will see this "
            "incident. You can remove it again while the incident is open.",
            "Assign %(org)s as responder? Its %(n)s people get an urgent e-mail at once and will see this "
            "incident. You can remove it again while the incident is open.", n) % {"org": responder.name, "n": n},
            note=f"{incident.reference} — {incident.title}", cancel_url=_detail_url(incident, "#responders"))
    try:
        assignment = services.do_assign_responder(incident, form.cleaned_data["responder"], acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, assign=form)
    messages.success(request, _("%(org)s assigned as responder.") % {"org": assignment.responder.name})
    return _done(incident, "#responders")


@login_required
@require_POST
def incident_unassign(request, pk, responder_id):
    """Remove a responder organization from the incident (the national coordinator, or whoever assigned it:
    `services.may_unassign`, `services.do_unassign_responder`)."""
    incident = _visible(request, pk)
    _require(request, incident, "unassign")
    assignment = get_object_or_404(incident.assignments.select_related("responder"), responder_id=responder_id)
    if not services.may_unassign(request.user, incident, assignment):
        raise PermissionDenied(services.UNASSIGN_REFUSED)
    form = UnassignForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return _detail(request, incident, 400)
    if not confirmed(request):  # its people lose the incident at once: asked first, also without JavaScript
        return ask_first(request, title=_("Remove the responder"), button=_("Remove the responder"),
                         question=_("Remove %(org)s from this incident? Its people will no longer see it.") % {
                             "org": assignment.responder.name},
                         note=f"{incident.reference} — {incident.title}", cancel_url=_detail_url(incident, "#responders"))
    try:
        services.do_unassign_responder(incident, assignment.responder, acting_user=request.user,
                                       reason=form.cleaned_data["reason"])
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc)
    messages.success(request, _("%(org)s is no longer assigned to the incident.") % {"org": assignment.responder.name})
    return _done(incident, "#responders")


@login_required
@require_POST
def incident_comment(request, pk):
    incident = _visible(request, pk)
    _require(request, incident, "comment")
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _detail(request, incident, 400, comment=form)
    try:
        services.do_add_comment(incident, form.cleaned_data["text"], acting_user=request.user,
                                happened_at=form.cleaned_data.get("happened_at"))
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, comment=form)
    messages.success(request, _("Comment added."))
    return _done(incident, "#journal")


@login_required
@require_POST
def incident_task_add(request, pk):
    incident = _visible(request, pk)
    _require(request, incident, "participate")
    form = TaskForm(request.POST, incident=incident)
    if not form.is_valid():
        return _detail(request, incident, 400, task=form)
    try:
        services.do_add_task(incident, dict(form.cleaned_data), acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, task=form)
    messages.success(request, _("Task added."))
    return _done(incident, "#tasks")


@login_required
@require_POST
def incident_task_edit(request, pk, task_id):
    """Change a task's person in charge, due time and description (`services.do_update_task`)."""
    incident = _visible(request, pk)
    task = get_object_or_404(Task.objects.visible_to(request.user).select_related("incident"), incident=incident,
                             pk=task_id)
    _require(request, incident, "participate")
    form = TaskEditForm(request.POST, task=task)
    if not form.is_valid():
        return _detail(request, incident, 400, task_edit_forms={task.pk: form})
    try:
        _task, changed = services.do_update_task(task, dict(form.cleaned_data), acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, task_edit_forms={task.pk: form})
    if changed:
        messages.success(request, _("Task saved."))
    else:
        messages.info(request, _("The task is unchanged."))
    return _done(incident, f"#task-{task.pk}")


@login_required
@require_POST
def incident_tasks_standard(request, pk):
    """Add the standard tasks of the incident's category it does not have yet (`services.do_add_standard_tasks`)."""
    incident = _visible(request, pk)
    _require(request, incident, "participate")
    try:
        added = services.do_add_standard_tasks(incident, acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc)
    if added:
        messages.success(request, ngettext("%(n)d standard task added.", "%(n)d standard tasks added.", len(added))
                         % {"n": len(added)})
    else:
        messages.info(request, _("The incident already has every standard task of its category."))
    return _done(incident, "#tasks")


@login_required
@require_POST
def incident_task_status(request, pk, task_id):
    incident = _visible(request, pk)
    _require(request, incident, "participate")
    task = get_object_or_404(Task.objects.visible_to(request.user), incident=incident, pk=task_id)
    form = TaskStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid task status."))
        return _detail(request, incident, 400)
    try:
        task = services.do_set_task_status(task, form.cleaned_data["status"], acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc)
    templates = TaskTemplates.current()
    title = templates.shown(task)[0] if templates else task.title
    messages.success(request, _("Task “%(task)s”: %(status)s.") % {"task": title, "status": task.get_status_display()})
    return _done(incident, f"#task-{task.pk}")


# --- evidence -----------------------------------------------------------------------------------


@login_required
@require_POST
def evidence_add(request, pk):
    incident = _visible(request, pk)
    _require(request, incident, "participate")
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, incident, 400, evidence=form)
    try:
        evidence = services.do_add_evidence(incident, acting_user=request.user, uploaded=form.cleaned_data["file"],
                                            note=form.cleaned_data["note"],
                                            received_from=form.cleaned_data["received_from"])
    except (Refused, ValidationError) as exc:
        # A file over the size limit (413) is said at the file field, as an empty file is.
        return _refused(request, incident, exc, form, refusal_fields={"too_large": "file"}, evidence=form)
    messages.success(request, _("Evidence kept with SHA-256 %(hash)s.") % {"hash": evidence.sha256})
    return _done(incident, "#evidence")


@login_required
@require_POST
def evidence_external_add(request, pk):
    """Record evidence kept elsewhere (a disk image, a memory dump): its name, SHA-256, size and place."""
    incident = _visible(request, pk)
    _require(request, incident, "participate")
    form = ExternalEvidenceForm(request.POST, prefix="ext")
    if not form.is_valid():
        return _detail(request, incident, 400, external_evidence=form)
    try:
        services.do_add_external_evidence(incident, acting_user=request.user, **form.cleaned_data)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, external_evidence=form)
    messages.success(request, _("Evidence kept elsewhere recorded, with its SHA-256 and where it is kept."))
    return _done(incident, "#evidence")


def _visible_evidence(request, incident, evidence_id) -> Evidence:
    return get_object_or_404(Evidence.objects.visible_to(request.user).select_related("incident"),
                             incident=incident, pk=evidence_id)


@login_required
@require_POST
def evidence_custody(request, pk, evidence_id):
    incident = _visible(request, pk)
    evidence = _visible_evidence(request, incident, evidence_id)
    _require(request, incident, "participate")
    form = CustodyForm(request.POST, prefix=f"c{evidence.pk.hex[:8]}")
    if not form.is_valid():
        return _detail(request, incident, 400, custody_forms={evidence.pk: form})
    try:
        services.do_record_custody(evidence, acting_user=request.user, **form.cleaned_data)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, custody_forms={evidence.pk: form})
    messages.success(request, _("Custody step recorded."))
    return _done(incident, f"#ev-{evidence.pk}")


@login_required
@require_POST
def evidence_seal(request, pk, evidence_id):
    incident = _visible(request, pk)
    evidence = _visible_evidence(request, incident, evidence_id)
    _require(request, incident, "seal", evidence)
    form = SealForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The note is too long."))
        return _detail(request, incident, 400)
    # Sealing cannot be undone: asked first, also without JavaScript. An item sealed already is refused by the
    # service (409), not asked about.
    if not evidence.is_sealed and not confirmed(request):
        return ask_first(request, title=_("Seal the evidence"), button=_("Seal"), question=_(
            "Seal the evidence “%(name)s”? Its file, description and the custody steps so far can no longer change; "
            "later hand-overs are still recorded.") % {"name": str(evidence)},
            note=f"SHA-256 {evidence.sha256}", cancel_url=_detail_url(incident, f"#ev-{evidence.pk}"))
    try:
        services.do_seal_evidence(evidence, acting_user=request.user, note=form.cleaned_data["note"])
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc)
    messages.success(request, _("Evidence sealed: its file and description can no longer change; hand-overs are still "
                                "recorded in its chain of custody."))
    return _done(incident, f"#ev-{evidence.pk}")


@login_required
@require_POST
def evidence_verify(request, pk, evidence_id):
    """"Verify integrity": the file (or note) read again and compared with its SHA-256; the result is recorded in
    its chain of custody (`services.do_verify_evidence`)."""
    incident = _visible(request, pk)
    evidence = _visible_evidence(request, incident, evidence_id)
    _require(request, incident, "participate")
    try:
        found, _step = services.do_verify_evidence(evidence, acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc)
    if found.ok:
        messages.success(request, _("Integrity verified: the content matches its SHA-256. The check is recorded in "
                                    "its chain of custody."))
    else:
        messages.error(request, _("Integrity check failed: %(problem)s. The result is recorded in its chain of "
                                  "custody.") % {"problem": services.integrity_rule.problem_text(evidence, found)})
    return _done(incident, f"#ev-{evidence.pk}")


@login_required
@require_GET
def evidence_download(request, pk):
    """An evidence file, only for those who see its incident; never served from MEDIA_ROOT directly, and only as
    long as it matches its SHA-256: else the incident page says why (409, `services.open_evidence_file`)."""
    evidence = get_object_or_404(Evidence.objects.visible_to(request.user).select_related("incident"), pk=pk)
    if request.GET.get("altered"):  # a changed file for analysis: the incident's participants only
        _require(request, evidence.incident, "participate")
    try:
        return evidence_file_response(evidence, request)
    except Refused as exc:
        return _refused(request, _visible(request, evidence.incident_id), exc)


# --- observables ----------------------------------------------------------------------------------


@login_required
@require_POST
def observable_add(request, pk):
    incident = _visible(request, pk)
    _require(request, incident, "participate")
    form = ObservableForm(request.POST, prefix="obs")
    if not form.is_valid():
        return _detail(request, incident, 400, observable=form)
    try:
        added = observables.do_add_observables(incident, form.cleaned_data["observables"], acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, observable=form)
    messages.success(request, _("%(n)d observables added.") % {"n": len(added)})
    return _done(incident, "#observables")


@login_required
@require_POST
def observable_remove(request, pk, observable_id):
    incident = _visible(request, pk)
    observable = get_object_or_404(Observable.objects.visible_to(request.user), incident=incident, pk=observable_id)
    _require(request, incident, "participate")
    try:
        observables.do_remove_observable(observable, acting_user=request.user)
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc)
    messages.success(request, _("Observable removed."))
    return _done(incident, "#observables")


@login_required
@require_POST
def observable_share(request, pk):
    """Share the chosen observables as STIX indicators in a collection the user may write."""
    incident = _visible(request, pk)
    _require(request, incident, "participate")
    form = ShareObservablesForm(request.POST, incident=incident, user=request.user, prefix="share")
    if not form.is_valid():
        return _detail(request, incident, 400, share=form)
    data = form.cleaned_data
    try:
        result = observables.do_share_observables(incident, list(data["observables"]), tlp=data["tlp"],
                                                  collection=data["collection"], acting_user=request.user,
                                                  confirm_warninglisted=data["confirm_warninglisted"],
                                                  confirm_downgrade=data["confirm_downgrade"])
    except (Refused, ValidationError) as exc:
        return _refused(request, incident, exc, form, share=form)
    if result.shared:
        messages.success(request, _("%(n)d indicators shared in %(collection)s.")
                         % {"n": result.total, "collection": data["collection"].title})
    if result.already_shared:
        messages.info(request, _("Already shared from this incident as active indicators, not shared again: "
                                 "%(values)s.") % {"values": ", ".join(o.value for o in result.already_shared)})
    return _done(incident, "#observables")


# --- statistics -----------------------------------------------------------------------------------


def _link_figures(tables: dict, data: dict, filters: dict) -> None:
    """Each figure of the months, severities, sectors and provinces links to the list of those incidents (the
    list's filters, `stats.list_filters`): the count and the list agree."""
    from django.utils.html import format_html

    base = reverse("incidents:incident_list")
    for key, name in (("by_severity", "severity"), ("by_sector", "sector"), ("by_province", "province")):
        chart = data["charts"][key]
        tables[key] = [(format_html('<a href="{}?{}">{}</a>', base, urlencode({**filters, name: code}), label)
                        if code else label, value)
                       for label, value, code in zip(chart["labels"], chart["values"], chart["keys"])]
    months = stats.period_of({"since": dt.date.fromisoformat(data["period"]["since"]),
                              "until": dt.date.fromisoformat(data["period"]["until"])})
    linked = []
    for (label, value), (since, until) in zip(tables["by_month"], stats.month_bounds(months)):
        query = urlencode({**filters, "reported_after": since.isoformat(), "reported_before": until.isoformat()})
        linked.append((format_html('<a href="{}?{}">{}</a>', base, query, label), value))
    tables["by_month"] = linked


# The charts of the statistics page drawn as bars that are links (`bar_chart`): each bar opens the list of the
# incidents it counts. A bar's row: its name on one line, the bar and its count below (px).
BAR_ROW, BAR_HEIGHT, BAR_LABEL_MAX = 38, 14, 48


def bar_chart(labels, values, urls) -> dict:
    """One chart's bars, drawn by the page as SVG (no script: each bar an <a>, reached with Tab, named for screen
    readers by its name and count, followed on a click or Enter; on paper and without JavaScript alike). Each bar
    links where its table row links (`_link_figures`: the same list filters), so its count is the list's rows; a bar
    without a filter of its own ("No sector") is drawn, not linked. Widths in % of the chart's width (the longest bar
    88%, room for its count), positions as text: the page's locale must not write them "12,5"."""
    from django.contrib.humanize.templatetags.humanize import intcomma

    top = max(values, default=0) or 1
    bars = []
    for i, (label, value, url) in enumerate(zip(labels, values, urls)):
        label = str(label)
        width = 88 * value / top
        bars.append({
            "label": label, "value": value, "url": url,
            "short": label if len(label) <= BAR_LABEL_MAX else label[:BAR_LABEL_MAX - 1] + "…",
            "name": ngettext("%(name)s: %(n)s incident", "%(name)s: %(n)s incidents", value)
            % {"name": label, "n": intcomma(value)},
            "width": f"{width:.2f}%", "value_x": f"{width:.2f}%",
            "row_y": str(i * BAR_ROW), "label_y": str(i * BAR_ROW + 13), "bar_y": str(i * BAR_ROW + 18),
            "value_y": str(i * BAR_ROW + 18 + BAR_HEIGHT - 2)})
    return {"bars": bars, "height": str(len(bars) * BAR_ROW + 4), "bar_height": str(BAR_HEIGHT),
            "row_height": str(BAR_ROW)}


def _bar_charts(data: dict, filters: dict) -> dict:
    """The bars of the months, the sectors and the provinces (`bar_chart`), with the links of their table rows."""
    base = reverse("incidents:incident_list")
    charts = {}
    for key, name in (("by_sector", "sector"), ("by_province", "province")):
        chart = data["charts"][key]
        urls = [f"{base}?{urlencode({**filters, name: code})}" if code else None for code in chart["keys"]]
        charts[key] = bar_chart(chart["labels"], chart["values"], urls)
    months = stats.period_of({"since": dt.date.fromisoformat(data["period"]["since"]),
                              "until": dt.date.fromisoformat(data["period"]["until"])})
    urls = [f"{base}?{urlencode({**filters, 'reported_after': since.isoformat(), 'reported_before': until.isoformat()})}"
            for since, until in stats.month_bounds(months)]
    chart = data["charts"]["by_month"]
    charts["by_month"] = bar_chart(chart["labels"], chart["values"], urls)
    return charts


@login_required
@require_GET
def incident_stats(request):
    """Charts and figures over the incidents the user may see (see `stats.py`)."""
    from django.contrib.staticfiles import finders

    form = stats.StatsFilterForm(request.GET or None)
    status = 200
    if form.is_bound and not form.is_valid():
        data, status = None, 400
    else:
        data = stats.compute(request.user, form.cleaned_data if form.is_bound else {})
    tables, export_query, bars = {}, "", {}
    if data:
        tables = {key: list(zip(chart["labels"], chart["values"])) for key, chart in data["charts"].items()}
        filters = stats.list_filters(form.cleaned_data if form.is_bound else {}, data)
        export_query = urlencode(filters)
        _link_figures(tables, data, filters)
        bars = _bar_charts(data, filters)
    labels = {"report": _("Mean time to report (detection → report)"), "triage": _("Mean time to triage"),
              "contain": _("Mean time to contain"), "resolve": _("Mean time to resolve")}
    means = [{"key": k, "label": labels[k], **v} for k, v in data["mean_hours"].items()] if data else []
    period = {name: dt.date.fromisoformat(day) for name, day in data["period"].items()} if data else None
    printed = None
    if data:
        # The report on paper (its print-only header): what it covers and how it must be shared. Its TLP is the
        # exports' rule, the most restrictive marking of the incidents counted (none when it counts none).
        from khien.core.roles import ROLE_ACTIONS
        from khien.core.scoping import memberships_of

        chosen = form.cleaned_data if form.is_bound else {}
        counted = stats.scoped(request.user, chosen, stats.Period(period["since"], period["until"]))
        tlp = exports.most_restrictive(counted.values_list("tlp", flat=True).distinct())
        if is_national_coordinator(request.user):
            scope = _("Every organization on the platform (national coordinator)")
        else:
            ids = [org for role, _path, org in memberships_of(request.user) if Action.VIEW in ROLE_ACTIONS.get(role, ())]
            names = [org.name for org in Organization.objects.filter(pk__in=ids).order_by("path")]
            # The incidents naming their information systems count too (`models.affected_q`: read as an
            # affected organization), as they do in every figure: the sentence says so.
            scope = (_("%(organizations)s, the organizations under them, the incidents they are assigned to "
                       "respond to and the incidents that name their information systems (read as an affected "
                       "organization)") % {"organizations": ", ".join(names)}) if names else _("No organization")
        printed = {
            "scope": scope,
            "filters": [(form.fields[name].label, dict(form.fields[name].choices).get(chosen[name], chosen[name]))
                        for name in ("sector", "province", "severity") if chosen.get(name)],
            "tlp": tlp, "tlp_label": Tlp(tlp).label if tlp else None,
            "at": timezone.now(),
        }
    return render(request, "incidents/incident_stats.html", {
        "form": form, "data": data, "tables": tables, "means": means, "export_query": export_query, "bars": bars,
        # The period as dates, for the page to write them as its language does (the API gives ISO text).
        "period": period, "printed": printed,
        "has_echarts": bool(finders.find("vendor/echarts/echarts.min.js")),
    }, status=status)
